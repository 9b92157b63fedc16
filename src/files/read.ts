/**
 * readFileWithRetry: one file read through rotation (missing, empty, half-written), retried
 * under the rotating-file classifier until a deadline.
 */
import { createClassifier, defaultRules, rules, type Classifier, type Verdict } from '../classify/index.js';
import { EmptyFileError } from './empty-file-error.js';
import { retry, type RecoveredEvent, type RetryEvent, type RetryOptions } from '../retry/index.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { booleanOption, checkOptionNames, describe, functionOption, optionsObject, pathArgument } from '../shared/validate.js';
import { encodingOption } from './options.js';
import { readRegularFile } from './read-regular.js';


/**
 * Options of {@link readFileWithRetry}: every {@link RetryOptions} option (with the defaults
 * below where they differ from `retry`'s), plus how to decode and parse the content.
 *
 * @typeParam Content - `string` (decoded with `encoding`), or `Buffer` with `encoding: null`.
 * @typeParam T - What `parse` returns.
 */
export interface ReadFileWithRetryOptions<Content extends string | Buffer = string, T = Content> extends Omit<RetryOptions, 'deadlineMs' | 'maxAttempts' | 'maxDelayMs' | 'classify'> {
  /**
   * How to decode the bytes; `null` gives the raw `Buffer`.
   * @defaultValue 'utf8'
   */
  encoding?: (Content extends string ? BufferEncoding : null) | undefined;
  /**
   * Turns the content into a value (`JSON.parse`, a PEM check). Anything it throws is taken as
   * the file being caught mid-rotation and retried within the deadline, unless it throws an
   * error marked with `permanent()` (a file that is complete but wrong), which fails at once.
   * @defaultValue none: the content itself is returned
   */
  parse?: ((content: Content) => T | PromiseLike<T>) | undefined;
  /**
   * Accept an empty file. By default an empty file is an {@link EmptyFileError} (transient): a
   * file being rewritten in place is briefly empty, and Node accepts an empty certificate
   * without complaint, so emptiness must be checked, not caught.
   * @defaultValue false
   */
  allowEmpty?: boolean | undefined;
  /**
   * Overall time budget from the call, reads and waits included.
   * @defaultValue 120000 (2 minutes, long enough for a kubelet to be issued its certificate)
   */
  deadlineMs?: number | undefined;
  /**
   * Calls in all. Unlimited by default so that the deadline is the budget.
   * @defaultValue Infinity
   */
  maxAttempts?: number | undefined;
  /**
   * Longest wait between reads. Reading a file is cheap and a rotation completes in
   * milliseconds, so the wait is kept short to pick the new file up quickly.
   * @defaultValue 5000, or `initialDelayMs` if that is longer
   */
  maxDelayMs?: number | undefined;
  /**
   * Classifies errors of the read itself (not of `parse`, see above).
   * @defaultValue `createClassifier({ rules: [rules.rotatingFile, ...defaultRules] })`: a missing or
   * empty file is transient, a directory (`EISDIR`) or a permission error (`EACCES`) fails at once
   */
  classify?: Classifier | undefined;
  /**
   * A short label for this read ("ca-bundle"), carried in its retry events, in the events its
   * hooks get, and in the `hook-error` events of its hooks.
   * @defaultValue none
   */
  name?: string | undefined;
}

let rotatingFileClassifier: Classifier | undefined;

/**
 * Reads a file that another party replaces from time to time (a certificate the kubelet
 * re-projects, a mounted ConfigMap, a key a sidecar rotates), riding through the moments when it
 * is missing, empty or half-written.
 *
 * Each attempt reads the file, refuses empty content, and runs `parse`; failures are retried with
 * {@link retry} under the `rules.rotatingFile` classifier until the `deadlineMs` budget (2
 * minutes by default) is spent. A missing file, an empty file, a truncated JSON document or PEM
 * block, and anything `parse` throws are transient; a directory, a permission error and an error
 * marked `permanent()` fail at once. The final error is the last one itself. After a success
 * that followed failures `onRecovered` is called (and `ridethrough:retry:recovered` published)
 * with the number of attempts.
 *
 * @param path - The file to read (a string or a `file:` URL).
 * @param options - See {@link ReadFileWithRetryOptions}.
 * @returns The content (a string, or a `Buffer` with `encoding: null`), or what `parse` returned.
 * @throws TypeError or RangeError, synchronously, for a bad `path` or option.
 *
 * @example
 * ```ts
 * import { readFileWithRetry } from 'ridethrough';
 * import { mkdtemp, rm, writeFile } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'example-'));
 * const file = join(dir, 'settings.json');
 * // The file shows up a little later, as a rotated file would.
 * setTimeout(() => void writeFile(file, '{"replicas": 3}'), 50);
 * const settings = await readFileWithRetry(file, {
 *   parse: (text) => JSON.parse(text) as { replicas: number },
 *   initialDelayMs: 20,
 *   deadlineMs: 5000,
 *   onRecovered: ({ attempts }) => console.log(`read after ${attempts} attempts`),
 * });
 * console.log(settings.replicas); // 3
 * await rm(dir, { recursive: true });
 * ```
 */
export function readFileWithRetry(
  path: string | URL,
  options?: ReadFileWithRetryOptions<string, string> & { parse?: undefined },
): Promise<string>;
export function readFileWithRetry<T>(
  path: string | URL,
  options: ReadFileWithRetryOptions<string, T> & { parse: (content: string) => T | PromiseLike<T> },
): Promise<T>;
export function readFileWithRetry(
  path: string | URL,
  options: ReadFileWithRetryOptions<Buffer, Buffer> & { encoding: null; parse?: undefined },
): Promise<Buffer>;
export function readFileWithRetry<T>(
  path: string | URL,
  options: ReadFileWithRetryOptions<Buffer, T> & { encoding: null; parse: (content: Buffer) => T | PromiseLike<T> },
): Promise<T>;
export function readFileWithRetry(path: string | URL, options?: AnyReadFileOptions): Promise<unknown> {
  try {
    return readWithRetry(path, options);
  } catch (error) {
    return Promise.reject(error); // bad arguments reject, as fs/promises does; nothing throws at the call
  }
}

/** The option names of `retry` that the readers pass through. */
export const RETRY_OPTION_NAMES: readonly string[] = [
  'initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'random',
  'maxAttempts', 'deadlineMs', 'attemptTimeoutMs', 'signal', 'classify', 'onRetry', 'onRecovered', 'budget', 'clock',
];
const READ_OPTIONS: ReadonlySet<string> = new Set([...RETRY_OPTION_NAMES, 'encoding', 'parse', 'allowEmpty', 'name']);

function readWithRetry(path: string | URL, options: AnyReadFileOptions | undefined): Promise<unknown> {
  const where = 'readFileWithRetry()';
  const file = pathArgument(where, 'path', path, { fileUrl: true });
  const o = optionsObject(where, options);
  checkOptionNames(where, o, READ_OPTIONS);
  const { encoding: encodingValue, parse: parseValue, allowEmpty: allowEmptyValue, classify: classifyValue, name: nameValue, ...rest } = o;
  const encoding = encodingValue === null ? null : encodingOption(where, encodingValue);
  const parse = functionOption<(content: string | Buffer) => unknown>(where, 'parse', parseValue);
  const allowEmpty = booleanOption(where, 'allowEmpty', allowEmptyValue, false);
  const classifyRead = functionOption<Classifier>(where, 'classify', classifyValue) ?? defaultReadClassifier();
  const name = nameOption(where, nameValue);

  // Errors thrown by `parse` are told apart by identity: they are the user's own, not wrapped.
  const parseErrors = new Set<unknown>();
  const classifyAttempt: Classifier = (error) => (parseErrors.has(error) ? classifyParseError(error) : classifyRead(error));

  return retry(
    async ({ signal }) => {
      const { bytes } = await readRegularFile(where, file, signal);
      const content = encoding === null ? bytes : bytes.toString(encoding);
      if (content.length === 0 && !allowEmpty) throw new EmptyFileError(file);
      if (parse === undefined) return content;
      try {
        return await parse(content);
      } catch (error) {
        parseErrors.add(error);
        throw error;
      }
    },
    { ...readerRetryOptions(where, rest, name), classify: classifyAttempt },
  );
}

/**
 * `retry`'s options for a reader (but `classify`, which each reader sets): the readers' defaults (a 2-minute deadline, no attempt limit,
 * short waits), `name` passed on, and the hooks called through callHook, so that what they throw
 * or reject lands on `ridethrough:files:hook-error` and never changes the read.
 */
export function readerRetryOptions(where: string, rest: ReaderRetryOptions, name: string | undefined): RetryOptions {
  const onRetry = functionOption<(event: RetryEvent) => unknown>(where, 'onRetry', rest.onRetry);
  const onRecovered = functionOption<(event: RecoveredEvent) => unknown>(where, 'onRecovered', rest.onRecovered);
  return {
    ...rest,
    ...(name === undefined ? {} : ({ name } as object)),
    deadlineMs: rest.deadlineMs ?? 120_000,
    maxAttempts: rest.maxAttempts ?? Infinity,
    // Never below a longer initialDelayMs the caller chose (retry would reject the pair).
    maxDelayMs: rest.maxDelayMs ?? Math.max(5_000, positive(rest.initialDelayMs)),
    ...(onRetry && { onRetry: (event: RetryEvent) => callHook(hookErrors, 'onRetry', onRetry, hookEvent(event, name), name) }),
    ...(onRecovered && { onRecovered: (event: RecoveredEvent) => callHook(hookErrors, 'onRecovered', onRecovered, hookEvent(event, name), name) }),
  } as RetryOptions;
}

/** The retry options a reader takes, each of them `undefined` allowed. */
type ReaderRetryOptions = {
  [K in keyof Omit<RetryOptions, 'classify'>]?: RetryOptions[K] | undefined;
};

const hookErrors = diagnosticsChannel(diagnosticsChannels.files.hookError);

/** The event a hook gets: frozen, and carrying the read's `name`. */
function hookEvent<E extends object>(event: E, name: string | undefined): E {
  if (name === undefined || (event as { name?: unknown }).name === name) return Object.isFrozen(event) ? event : Object.freeze({ ...event });
  return Object.freeze({ ...event, name });
}

export function nameOption(where: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw new TypeError(`${where}: option "name" must be a string, got ${describe(value)}`);
  return value;
}

/** What the implementation of the overloads above accepts. */
type AnyReadFileOptions = Omit<ReadFileWithRetryOptions, 'encoding' | 'parse'> & {
  encoding?: BufferEncoding | null | undefined;
  parse?: ((content: never) => unknown) | undefined;
};

export function defaultReadClassifier(): Classifier {
  rotatingFileClassifier ??= createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });
  return rotatingFileClassifier;
}

const PARSE_FAILED: Verdict = Object.freeze({ kind: 'transient', reason: 'parse failed (file mid-rotation?)' });

function classifyParseError(error: unknown): Verdict {
  // The user's own marks and aborts first; then the rotating-file reasons ('truncated JSON').
  const marked = rules.markers(error) ?? rules.abort(error);
  if (marked) return marked;
  const rotating = rules.rotatingFile(error);
  return rotating?.kind === 'transient' ? rotating : PARSE_FAILED;
}

function positive(value: unknown): number {
  return typeof value === 'number' && value > 0 ? value : 0;
}

