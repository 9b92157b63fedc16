/**
 * `ridethrough/retry`: backoff retry. Call a function until it succeeds, waiting longer after
 * each transient failure, giving up at once on a permanent one, and never outliving the caller's
 * deadline or signal ({@link retry}); the schedule on its own ({@link backoffDelays}); a budget
 * that stops retry storms ({@link createRetryBudget}); a shared pace ({@link createRateLimiter}).
 *
 * ```ts
 * import { retry } from 'ridethrough/retry';
 *
 * let calls = 0;
 * const answer = await retry(async () => {
 *   if (++calls < 3) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
 *   return 'ok';
 * }, { maxAttempts: 5, initialDelayMs: 10, deadlineMs: 5_000 });
 * console.log(answer, calls); // ok 3
 * ```
 *
 * Guide: [Retry options and jitter](../../docs/guides/retry-options.md).
 *
 * This file is the subpath's face and holds {@link retry} itself: the retry loop. One attempt
 * (its race and its trace) is in attempt.ts, the schedule in backoff.ts, the shared budget in
 * budget.ts, option checking in options.ts, the event and trace payloads in events.ts, the rate
 * limiter in rate-limiter.ts.
 *
 * @module
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { Classifier, Verdict } from '../classify/index.js';
import { safeClassify } from '../classify/safe-classify.js';
import { diagnosticsChannel, diagnosticsChannels, tracingChannels } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { optionsObject, requiredFunction } from '../shared/validate.js';
import { attemptTracing, Context, racedAttempt, tracedAttempt, type Failure } from './attempt.js';
import { delayStream } from './backoff.js';
import type { AttemptContext, GiveUpReason, RetryTraceContext } from './events.js';
import { checkRetryOptions, type RetryOptions, type RetrySettings } from './options.js';

export { backoffDelays, type BackoffOptions, type Jitter } from './backoff.js';
export { createRetryBudget, type RetryBudget, type RetryBudgetOptions, type TokenBucketBudget } from './budget.js';
export type {
  AttemptContext,
  AttemptTraceContext,
  GiveUpEvent,
  GiveUpReason,
  RecoveredEvent,
  RetryEvent,
  RetryMessages,
  RetryTraceContext,
} from './events.js';
export type { RetryOptions } from './options.js';
export { createRateLimiter, type RateLimiter, type RateLimiterOptions } from './rate-limiter.js';

const retryChannel = diagnosticsChannel(diagnosticsChannels.retry.retry);
const recoveredChannel = diagnosticsChannel(diagnosticsChannels.retry.recovered);
const giveUpChannel = diagnosticsChannel(diagnosticsChannels.retry.giveUp);
const hookErrorChannel = diagnosticsChannel(diagnosticsChannels.retry.hookError);
const callTracing = tracingChannel<unknown, RetryTraceContext>(tracingChannels.retry);

const ATTEMPT_TIMED_OUT: Verdict = Object.freeze({ kind: 'transient', reason: 'attempt timed out' });

/**
 * Calls `fn` until it succeeds, retrying transient failures with exponential backoff and jitter.
 *
 * - Each error is classified (`classify` option): a permanent one rejects at once; a transient one
 *   is retried after a wait from the schedule, stretched to the server's `retryAfterMs` when the
 *   verdict carries one, unless that is longer than `maxRetryAfterMs` (5 minutes by default):
 *   then it gives up at once with the last error.
 * - It rejects with the last error itself (same identity, nothing added) when the attempts run
 *   out, the budget is spent or the next wait would end past `deadlineMs`; with `signal.reason`
 *   when the signal aborts; with a `TimeoutError` (cause: the last error) when the deadline passes
 *   during an attempt. No attempt starts after `deadlineMs`, however long the hooks take.
 * - Without a `signal`, `deadlineMs` or `attemptTimeoutMs`, an attempt runs without timers or
 *   allocations beyond its context; a 0 ms wait never costs a timer.
 * - `onRetry` and `onRecovered` report: what they throw or reject with never changes the outcome
 *   and is published on `ridethrough:retry:hook-error`. Events are frozen.
 * - Traced on `ridethrough:retry` (the call) and `ridethrough:retry:attempt` (each attempt) when
 *   someone subscribes; see {@link RetryTraceContext}.
 * - Nothing is left behind: every timer and listener is removed when the promise settles.
 *
 * Invalid arguments reject the call with a `TypeError` or `RangeError` naming the option (unknown
 * option names included: `retries` suggests `maxAttempts`); nothing is thrown at the call.
 *
 * Guide: [Retry options and jitter](../../docs/guides/retry-options.md).
 *
 * @param fn - The operation. It receives `{ attempt, signal }`; pass the signal on to I/O.
 * @returns What `fn` returned, once it succeeds.
 *
 * @example
 * ```ts
 * import { retry } from 'ridethrough';
 * let calls = 0;
 * const value = await retry(
 *   async ({ attempt }) => {
 *     calls = attempt;
 *     if (attempt < 3) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
 *     return 'ok';
 *   },
 *   {
 *     name: 'fetch-config',
 *     initialDelayMs: 10,
 *     deadlineMs: 5_000,
 *     onRecovered: ({ attempts }) => console.log(`recovered after ${attempts} attempts`),
 *   },
 * );
 * console.log(value, calls); // ok 3
 * ```
 */
export function retry<T>(fn: (context: AttemptContext) => Promise<T> | T, options?: RetryOptions): Promise<T> {
  let settings: RetrySettings;
  try {
    requiredFunction('retry()', 'fn', fn);
    settings =
      options === undefined
        ? (defaultSettings ??= checkRetryOptions({}, 'retry()'))
        : checkRetryOptions(optionsObject('retry()', options), 'retry()');
  } catch (error) {
    return Promise.reject(error);
  }
  if (settings.signal?.aborted) return Promise.reject(settings.signal.reason);
  if (!callTracing.hasSubscribers) {
    return canAbort(settings) || attemptTracing.hasSubscribers ? retryLoop(fn, settings, undefined) : firstAttempt(fn, settings);
  }
  const trace: RetryTraceContext = { name: settings.name, attempts: 0, verdict: undefined };
  return callTracing.tracePromise(retryLoop<T>, trace, undefined, fn, settings, trace);
}

/** The settings of `retry(fn)` with no options, checked once. */
let defaultSettings: RetrySettings | undefined;

/**
 * Attempt 1 of a call that nothing can abort, outside the loop: most calls succeed at once, and a
 * `.then` costs them far less than entering the loop's async function (about 1.8x a bare
 * `await fn()` against 2.5x, measured on the built package). A failure goes on in the loop as
 * attempt 1's outcome; the caller's async stack still runs through it, as V8 follows the promise
 * a `then` callback returns.
 */
function firstAttempt<T>(fn: (context: AttemptContext) => Promise<T> | T, s: RetrySettings): Promise<T> {
  const startedAt = wantsEvents(s) ? s.clock.now() : undefined;
  let result: Promise<T> | T;
  try {
    result = fn(new Context(1, undefined));
  } catch (error) {
    return retryLoop(fn, s, undefined, { error, startedAt });
  }
  return Promise.resolve(result).then(
    (value) => {
      s.budget?.onSuccess();
      return value;
    },
    (error: unknown) => retryLoop(fn, s, undefined, { error, startedAt }),
  );
}

/** What attempt 1 did when {@link firstAttempt} made it. */
type FirstFailure = { readonly error: unknown; readonly startedAt: number | undefined };

function canAbort(s: RetrySettings): boolean {
  return s.signal !== undefined || s.deadlineMs !== undefined || s.attemptTimeoutMs !== undefined;
}

/**
 * The retry loop, in one async function for the whole call: the caller's `await` is linked to it,
 * so a rejection's async stack keeps the caller's frames; and a pending retry holds this frame,
 * its settings, one timer and one abort listener, whatever options it was given (the deadline
 * needs no timer of its own during a wait, which never starts unless it ends before the deadline).
 */
async function retryLoop<T>(
  fn: (context: AttemptContext) => Promise<T> | T,
  s: RetrySettings,
  trace: RetryTraceContext | undefined,
  first?: FirstFailure,
): Promise<T> {
  const { clock, signal, deadlineMs } = s;
  // The clock is read only when something will want the elapsed time: the success path skips it.
  let startedAt = first !== undefined ? first.startedAt : deadlineMs !== undefined || wantsEvents(s) ? clock.now() : undefined;
  const deadlineAt = deadlineMs === undefined ? undefined : startedAt! + deadlineMs;
  const plain = !canAbort(s);
  let nextDelay: (() => number) | undefined;
  let lastError: unknown;
  let lastVerdict: Verdict | undefined;

  for (let attempt = 1; ; attempt++) {
    if (trace !== undefined) trace.attempts = attempt;
    if (attempt > 1) {
      if (signal?.aborted) return giveUp(s, startedAt, 'aborted', attempt - 1, signal.reason, undefined);
      if (deadlineAt !== undefined && clock.now() >= deadlineAt) {
        return giveUp(s, startedAt, 'deadline', attempt - 1, lastError, lastVerdict);
      }
    }

    let value: T | undefined;
    let failure: Failure | undefined;
    if (attempt === 1 && first !== undefined) {
      failure = { error: first.error, stopped: undefined };
      // One microtask, so that the promise the caller awaits takes hold of this one before fn
      // runs again: the async stack of what fn throws next then runs through to the caller.
      await undefined;
    } else if (plain && !attemptTracing.hasSubscribers) {
      // The plain call: nothing can abort it, so no timer, no controller and no race. Awaited
      // here, in the loop, so that an error's async stack runs through to the caller.
      try {
        value = await fn(new Context(attempt, undefined));
      } catch (error) {
        failure = { error, stopped: undefined };
      }
    } else {
      const outcome = await (attemptTracing.hasSubscribers
        ? tracedAttempt(s.name, attempt, () => racedAttempt(fn, attempt, s, deadlineAt, lastError))
        : racedAttempt(fn, attempt, s, deadlineAt, lastError));
      if (outcome.ok) value = outcome.value;
      else failure = outcome;
    }

    if (failure === undefined) {
      s.budget?.onSuccess();
      if (attempt > 1 && (s.onRecovered !== undefined || recoveredChannel.hasSubscribers)) {
        const now = clock.now();
        const event = Object.freeze({ attempts: attempt, elapsedMs: now - (startedAt ?? now), lastError, name: s.name });
        callHook(hookErrorChannel, 'onRecovered', s.onRecovered, event, s.name);
        if (recoveredChannel.hasSubscribers) recoveredChannel.publish(event);
      }
      return value as T;
    }

    const { error, stopped } = failure;
    if (signal?.aborted) return giveUp(s, startedAt, 'aborted', attempt, signal.reason, undefined);
    if (stopped === 'deadline') return giveUp(s, startedAt, 'deadline', attempt, error, undefined);
    const verdict = stopped === 'timeout' ? ATTEMPT_TIMED_OUT : judge(s.classify, error);
    lastError = error;
    lastVerdict = verdict;
    if (trace !== undefined) trace.verdict = verdict;
    if (verdict.kind !== 'transient') return giveUp(s, startedAt, 'permanent', attempt, error, verdict);
    if (attempt >= s.maxAttempts) return giveUp(s, startedAt, 'attempts', attempt, error, verdict);

    let delayMs = (nextDelay ??= delayStream(s.schedule))();
    const asked = verdict.retryAfterMs;
    if (asked !== undefined && asked > delayMs) {
      // A server's wait beyond the limit is not worth holding the call for: say so now.
      if (asked > s.maxRetryAfterMs) return giveUp(s, startedAt, 'retry-after', attempt, error, verdict);
      delayMs = asked;
    }
    startedAt ??= clock.now();
    // Checked before onRetry runs: a slow hook must not buy an attempt past the deadline.
    if (deadlineAt !== undefined && clock.now() + delayMs >= deadlineAt) {
      return giveUp(s, startedAt, 'deadline', attempt, error, verdict);
    }
    if (s.budget !== undefined && !s.budget.tryAcquire()) return giveUp(s, startedAt, 'budget', attempt, error, verdict);
    if (s.onRetry !== undefined || retryChannel.hasSubscribers) {
      const event = Object.freeze({ attempt, error, verdict, delayMs, elapsedMs: clock.now() - startedAt, name: s.name });
      callHook(hookErrorChannel, 'onRetry', s.onRetry, event, s.name);
      if (retryChannel.hasSubscribers) retryChannel.publish(event);
    }
    if (delayMs > 0) {
      try {
        await clock.sleep(delayMs, signal);
      } catch (sleepError) {
        if (signal?.aborted) return giveUp(s, startedAt, 'aborted', attempt, signal.reason, undefined);
        // A clock whose sleep rejects with nothing aborted broke its contract: say so as it did.
        throw sleepError;
      }
    }
  }
}

/** Publishes the give-up, when someone listens, and throws what the call rejects with. */
function giveUp(
  s: RetrySettings,
  startedAt: number | undefined,
  reason: GiveUpReason,
  attempts: number,
  error: unknown,
  verdict: Verdict | undefined,
): never {
  if (giveUpChannel.hasSubscribers) {
    const now = s.clock.now();
    giveUpChannel.publish(Object.freeze({ reason, attempts, error, verdict, elapsedMs: now - (startedAt ?? now), name: s.name }));
  }
  throw error;
}

function wantsEvents(s: RetrySettings): boolean {
  return (
    s.onRetry !== undefined ||
    s.onRecovered !== undefined ||
    retryChannel.hasSubscribers ||
    recoveredChannel.hasSubscribers ||
    giveUpChannel.hasSubscribers
  );
}

/** The classifier's verdict; one that throws or returns no verdict makes the error permanent. */
function judge(classifier: Classifier, error: unknown): Verdict {
  const verdict = safeClassify(classifier, error) as Verdict | null | undefined;
  if (typeof verdict === 'object' && verdict !== null && (verdict.kind === 'transient' || verdict.kind === 'permanent')) {
    return verdict;
  }
  return safeClassify(noVerdict, error);
}

const noVerdict: Classifier = () => {
  throw new TypeError('the classifier returned no verdict');
};
