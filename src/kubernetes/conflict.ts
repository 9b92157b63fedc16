/** {@link retryOnConflict}: client-go's RetryOnConflict for a read-modify-write. */
import type { Verdict } from '../classify/index.js';
import { retry, type AttemptContext, type Jitter, type RetryOptions } from '../retry/index.js';
import { checkOptionNames, optionsObject, requiredFunction } from '../shared/validate.js';

/** Options of {@link retryOnConflict}: {@link RetryOptions} with client-go's `DefaultRetry` figures as defaults. */
export interface RetryOnConflictOptions
  extends Omit<RetryOptions, 'classify' | 'maxAttempts' | 'initialDelayMs' | 'multiplier' | 'jitter'> {
  /**
   * Runs in all, the first one included.
   * @defaultValue 5
   */
  maxAttempts?: number | undefined;
  /**
   * The wait before each re-run.
   * @defaultValue 10
   */
  initialDelayMs?: number | undefined;
  /**
   * Each wait is the previous one times this.
   * @defaultValue 1
   */
  multiplier?: number | undefined;
  /**
   * How the wait is randomised.
   * @defaultValue 'equal' (5 to 10 ms with the defaults)
   */
  jitter?: Jitter | undefined;
}

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'maxAttempts', 'deadlineMs', 'attemptTimeoutMs', 'signal', 'onRetry', 'onRecovered', 'budget', 'clock',
  'initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'random', 'name',
]);

const CONFLICT: Verdict = Object.freeze({ kind: 'transient', reason: 'conflict' });
const NOT_A_CONFLICT: Verdict = Object.freeze({ kind: 'permanent', reason: 'not a conflict' });

type Bag = Record<string, unknown>;

function isObject(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null;
}

/** The Status a client-node error carries: `body` as JSON text (1.x) or parsed, or the error itself. */
function statusOf(error: Bag): Bag | undefined {
  let body = error.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (isObject(body)) return body;
  return error.kind === 'Status' ? error : undefined;
}

/**
 * Whether `error` is a Kubernetes Conflict: HTTP 409 with reason `Conflict`, or a 409 with no
 * reason at all (client-go's `IsConflict`). A 409 `AlreadyExists` is not one.
 */
function isConflict(error: unknown): boolean {
  if (!isObject(error)) return false;
  const status = statusOf(error);
  const code = typeof error.code === 'number' ? error.code : typeof error.statusCode === 'number' ? error.statusCode : status?.code;
  if (code !== 409) return false;
  const reason = status?.reason;
  return reason === 'Conflict' || reason === undefined || reason === '';
}

/**
 * Re-runs a read-modify-write while the API server answers Conflict (HTTP 409, reason `Conflict`:
 * someone else updated the object since it was read), as client-go's `retry.RetryOnConflict` does.
 * `fn` must read the object afresh each time, change it, and write it back. Any other failure,
 * AlreadyExists included, is thrown at once. When the attempts run out, the last Conflict is thrown.
 *
 * Options as {@link retry} (no `classify`); the defaults are client-go's `DefaultRetry`: 5 runs,
 * about 10 ms apart. Bad options reject the returned promise.
 *
 * Guide: [Kubernetes API calls and watches](../../docs/guides/kubernetes.md).
 *
 * @param fn - The read-modify-write. It receives `{ attempt, signal }`.
 * @returns What `fn` returned, once it ran without a conflict.
 *
 * @example
 * ```ts
 * import { retryOnConflict } from 'ridethrough/kubernetes';
 *
 * // What client-node throws when the resourceVersion is stale.
 * const conflict = Object.assign(new Error('HTTP-Code: 409'), {
 *   code: 409,
 *   body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Conflict', code: 409 }),
 * });
 * let version = 1;
 * const saved = await retryOnConflict(async ({ attempt }) => {
 *   const current = { resourceVersion: String(version) }; // read
 *   if (attempt < 3) {
 *     version++; // someone else wrote in between
 *     throw conflict;
 *   }
 *   return current; // write succeeded
 * });
 * console.log(saved); // { resourceVersion: '3' }
 * ```
 */
export function retryOnConflict<T>(
  fn: (context: AttemptContext) => Promise<T> | T,
  options?: RetryOnConflictOptions,
): Promise<T> {
  const where = 'retryOnConflict()';
  try {
    requiredFunction(where, 'fn', fn);
    const o = optionsObject(where, options);
    checkOptionNames(where, o, OPTION_NAMES);
    const merged: Record<string, unknown> = { maxAttempts: 5, initialDelayMs: 10, multiplier: 1, jitter: 'equal' };
    // An option given as undefined keeps its default, as everywhere else.
    for (const [key, value] of Object.entries(o)) if (value !== undefined) merged[key] = value;
    merged.classify = (error: unknown) => (isConflict(error) ? CONFLICT : NOT_A_CONFLICT);
    return retry(fn, merged as RetryOptions);
  } catch (error) {
    return Promise.reject(error);
  }
}
