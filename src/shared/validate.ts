/**
 * Option validation shared by every primitive. Bad input throws at the call, synchronously,
 * with a message that names the function, the option and the value it got:
 * `retry(): option "maxAttempts" must be an integer >= 1, got 0`.
 * Wrong type -> TypeError; right type but out of range (NaN included) -> RangeError.
 */
import { fileURLToPath } from 'node:url';

/** A short, safe rendering of any value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null) {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

function fail(where: string, name: string, expected: string, value: unknown, Type: typeof TypeError): never {
  throw new Type(`${where}: option "${name}" must be ${expected}, got ${describe(value)}`);
}

/** Constraints for {@link numberOption}. */
export interface NumberConstraints {
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Whether `min` itself is excluded (`> min` instead of `>= min`). */
  minExclusive?: boolean;
  /** Largest accepted value (inclusive). */
  max?: number;
  /** Only whole numbers. */
  integer?: boolean;
  /** Accept `Infinity` (never accepted unless said). */
  infinite?: boolean;
}

/** Validates a numeric option; `undefined` gives `fallback`. */
export function numberOption(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  c: NumberConstraints = {},
): number {
  if (value === undefined) return fallback;
  // The message is built only on failure: validation runs on every call of a primitive.
  if (typeof value !== 'number') fail(where, name, expectation(c), value, TypeError);
  const ok =
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (c.infinite === true && value === Infinity)) &&
    (!c.integer || Number.isInteger(value) || value === Infinity) &&
    (c.min === undefined || (c.minExclusive ? value > c.min : value >= c.min)) &&
    (c.max === undefined || value <= c.max);
  if (!ok) fail(where, name, expectation(c), value, RangeError);
  return value;
}

/** Like {@link numberOption} but `undefined` stays `undefined` (an option with no default). */
export function optionalNumberOption(
  where: string,
  name: string,
  value: unknown,
  c: NumberConstraints = {},
): number | undefined {
  return value === undefined ? undefined : numberOption(where, name, value, 0, c);
}

function expectation(c: NumberConstraints): string {
  const parts = [c.integer ? 'an integer' : c.infinite ? 'a number' : 'a finite number'];
  if (c.min !== undefined) parts.push(`${c.minExclusive ? '>' : '>='} ${c.min}`);
  if (c.max !== undefined) parts.push(`${c.min !== undefined ? 'and ' : ''}<= ${c.max}`);
  return parts.join(' ');
}

/** Validates an optional function option. */
export function functionOption<F extends (...args: never[]) => unknown>(
  where: string,
  name: string,
  value: unknown,
): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') fail(where, name, 'a function', value, TypeError);
  return value as F;
}

/** Validates a required function argument (`name` is how the docs call it). */
export function requiredFunction<F extends (...args: never[]) => unknown>(where: string, name: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw new TypeError(`${where}: "${name}" must be a function, got ${describe(value)}`);
  }
  return value as F;
}

/** Validates an option that is one of a fixed set of strings. */
export function enumOption<T extends string>(
  where: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') fail(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value, TypeError);
  if (!(allowed as readonly string[]).includes(value)) {
    fail(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value, RangeError);
  }
  return value as T;
}

/** Validates an optional boolean option. */
export function booleanOption(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(where, name, 'a boolean', value, TypeError);
  return value;
}

/** Validates an optional `AbortSignal` option. */
export function signalOption(where: string, value: unknown, name = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) fail(where, name, 'an AbortSignal', value, TypeError);
  return value;
}

/** Validates the options argument itself: `undefined` or a plain object. */
export function optionsObject<T extends object>(where: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where}: options must be an object, got ${describe(value)}`);
  }
  return value;
}

/** Validates an optional object option with the given methods (a `Clock`, a `RetryBudget`). */
export function objectOption<T>(where: string, name: string, value: unknown, methods: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  const ok =
    value !== null &&
    typeof value === 'object' &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) fail(where, name, `an object with ${methods.map((m) => `${m}()`).join(', ')}`, value, TypeError);
  return value as T;
}

/**
 * Validates a file path argument: a non-empty string without NUL characters (the file system
 * would refuse it on every call, so it is bad input, not a missing file), or with `fileUrl` a
 * `file:` URL, returned as a path.
 */
export function pathArgument(where: string, name: string, value: unknown, { fileUrl = false } = {}): string {
  if (fileUrl && value instanceof URL) {
    if (value.protocol !== 'file:') throw new TypeError(`${where}: "${name}" must be a file: URL, got ${value.protocol} URL`);
    return fileURLToPath(value);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${where}: "${name}" must be a string${fileUrl ? ' or a file: URL' : ''}, got ${describe(value)}`);
  }
  if (value === '') throw new RangeError(`${where}: "${name}" must not be empty`);
  if (value.includes('\0')) throw new TypeError(`${where}: "${name}" must not contain NUL characters, got ${describe(value)}`);
  return value;
}

/**
 * Option names users bring from the peers (p-retry, cockatiel, async-retry, mkdirp), and what
 * ridethrough calls them. Only a name the function does not know is looked up here.
 */
const PEER_SPELLINGS: Readonly<Record<string, string>> = Object.freeze({
  retries: 'maxAttempts',
  minTimeout: 'initialDelayMs',
  initialDelay: 'initialDelayMs',
  maxTimeout: 'maxDelayMs',
  maxDelay: 'maxDelayMs',
  factor: 'multiplier',
  maxRetryTime: 'deadlineMs',
  timeout: 'attemptTimeoutMs',
  interval: 'intervalMs',
  mkdirp: 'mkdir',
});

/**
 * Refuses option names that `known` does not list, with a `TypeError` that names the option and
 * suggests the right one: the peer spelling's equivalent, or the nearest known name.
 * `retries` is singled out because it counts retries where `maxAttempts` counts calls.
 */
export function checkOptionNames(where: string, options: object, known: ReadonlySet<string>): void {
  for (const name in options) {
    if (known.has(name) || !Object.hasOwn(options, name)) continue;
    throw new TypeError(`${where}: unknown option "${name}"${suggestion(name, known)}`);
  }
}

function suggestion(name: string, known: ReadonlySet<string>): string {
  const peer = PEER_SPELLINGS[name];
  if (peer !== undefined && known.has(peer)) {
    return name === 'retries'
      ? `; did you mean "maxAttempts"? It counts calls, the first one included (retries: 2 is maxAttempts: 3)`
      : `; did you mean "${peer}"?`;
  }
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best === undefined ? `; known options: ${[...known].join(', ')}` : `; did you mean "${best}"?`;
}

/** Levenshtein distance; names are short, so the quadratic table is cheap. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** An optional string option, such as `name`. */
export function stringOption(where: string, name: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new TypeError(`${where}: option "${name}" must be a string, got ${describe(value)}`);
}
