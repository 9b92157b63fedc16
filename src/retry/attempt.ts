/**
 * One attempt of {@link retry}: the call of `fn`, raced against the caller's signal, the
 * attempt's time limit and the deadline, and traced on `ridethrough:retry:attempt` when someone
 * subscribes.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { startTimer } from '../shared/clock.js';
import { tracingChannels } from '../shared/diagnostics.js';
import { noop, onAbort, timeoutError } from '../shared/signals.js';
import type { AttemptContext, AttemptTraceContext } from './events.js';
import type { RetrySettings } from './options.js';

/** The `ridethrough:retry:attempt` tracing channel. */
export const attemptTracing = tracingChannel<unknown, AttemptTraceContext>(tracingChannels.retryAttempt);

/** How an attempt failed: `stopped` says whether its time limit or the deadline ended it. */
export type Failure = { readonly error: unknown; readonly stopped: 'timeout' | 'deadline' | undefined };
/** What an attempt came to. */
export type Outcome<T> = ({ readonly ok: true; readonly value: T }) | ({ readonly ok: false } & Failure);

/** `run` (one attempt), inside the `ridethrough:retry:attempt` trace: for when someone subscribes. */
export function tracedAttempt<T>(name: string | undefined, attempt: number, run: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  const context: AttemptTraceContext = { name, attempt };
  const { start, end, asyncStart, asyncEnd, error: errorChannel } = attemptTracing;
  // As tracePromise does, but the trace sees the attempt's own error, not an outcome object.
  const outcome = start.runStores(context, () => {
    try {
      return run();
    } finally {
      end.publish(context);
    }
  });
  return outcome.then((settled) => {
    if (settled.ok) context.result = settled.value;
    else {
      context.error = settled.error;
      errorChannel.publish(context);
    }
    asyncStart.publish(context);
    asyncEnd.publish(context);
    return settled;
  });
}

/**
 * One attempt, raced against whatever can stop it (the caller's signal, the attempt's time
 * limit, the deadline), so that an `fn` that ignores its signal cannot hang the call. One timer
 * serves the time limit and the deadline, whichever ends first.
 */
export function racedAttempt<T>(
  fn: (context: AttemptContext) => Promise<T> | T,
  attempt: number,
  s: RetrySettings,
  deadlineAt: number | undefined,
  lastError: unknown,
): Promise<Outcome<T>> {
  const { signal, attemptTimeoutMs, clock } = s;
  const untilDeadline = deadlineAt === undefined ? Infinity : Math.max(0, deadlineAt - clock.now());
  const limitMs = Math.min(attemptTimeoutMs ?? Infinity, untilDeadline);
  const limited = limitMs !== Infinity;
  // A time limit needs a signal of the attempt's own, which also follows the caller's.
  const context = new Context(attempt, limited ? undefined : signal);
  let result: Promise<T>;
  try {
    // Called here rather than inside the promise below: what fn throws then carries two frames
    // of ours fewer in its stack (a shorter stack to read, and less heap while a retry waits).
    result = Promise.resolve(fn(context));
  } catch (error) {
    return Promise.resolve(failed(error));
  }
  // Nothing can stop this attempt (it is traced, so the loop did not await fn itself): no race.
  if (signal === undefined && !limited) return result.then(succeeded, failed);
  if (signal?.aborted) {
    // fn aborted the caller's signal itself, or something it called did.
    context.abort(signal.reason);
    result.then(undefined, noop);
    return Promise.resolve(failed(signal.reason));
  }
  return new Promise<Outcome<T>>((resolve) => {
    let done = false;
    let cancelTimer = noop;
    let detachResult = noop;
    const settle = (outcome: Outcome<T>): void => {
      if (done) return;
      done = true;
      cancelTimer();
      detachCaller();
      detachResult();
      resolve(outcome);
    };
    const detachCaller =
      signal === undefined
        ? noop
        : onAbort(signal, () => {
            context.abort(signal.reason);
            settle(failed(signal.reason));
          });
    // Armed once fn has started: a clock that ends its waits early on some event (changeWake)
    // must see this timer as part of the attempt, not as a wait between attempts.
    if (limited) {
      const byDeadline = untilDeadline <= (attemptTimeoutMs ?? Infinity);
      cancelTimer = startTimer(clock, limitMs, () => {
        const reason = byDeadline
          ? timeoutError(`retry deadline of ${s.deadlineMs} ms exceeded`, lastError)
          : timeoutError(`attempt ${attempt} timed out after ${attemptTimeoutMs} ms`);
        context.abort(reason);
        settle({ ok: false, error: reason, stopped: byDeadline ? 'deadline' : 'timeout' });
      });
    }
    detachResult = whenSettled(
      result,
      (value) => settle(succeeded(value)),
      (error) => settle(failed(error)),
    );
  });
}

const succeeded = <T>(value: T): Outcome<T> => ({ ok: true, value });
const failed = (error: unknown): Outcome<never> => ({ ok: false, error, stopped: undefined });

interface Waiter {
  readonly fulfilled: (value: never) => void;
  readonly rejected: (error: unknown) => void;
}

const waitersOf = new WeakMap<Promise<unknown>, Set<Waiter>>();

/**
 * Calls `fulfilled` or `rejected` when `promise` settles, unless the returned function detaches
 * them first. One reaction per promise, fanned out: an `fn` that returns one shared promise
 * which never settles (a memoised "synced" promise) would otherwise collect a reaction, and the
 * timed-out attempt it holds, per attempt.
 */
function whenSettled<T>(promise: Promise<T>, fulfilled: (value: T) => void, rejected: (error: unknown) => void): () => void {
  let waiters = waitersOf.get(promise);
  if (waiters === undefined) {
    const set = new Set<Waiter>();
    waiters = set;
    waitersOf.set(promise, set);
    promise.then(
      (value) => {
        waitersOf.delete(promise);
        for (const waiter of set) waiter.fulfilled(value as never);
      },
      (error: unknown) => {
        waitersOf.delete(promise);
        for (const waiter of set) waiter.rejected(error);
      },
    );
  }
  const waiter: Waiter = { fulfilled: fulfilled as (value: never) => void, rejected };
  const set = waiters;
  set.add(waiter);
  return () => set.delete(waiter);
}

/**
 * The attempt context. Its signal is made on first read only (an AbortController costs about a
 * microsecond, and most functions under retry never look at it), unless it is the caller's own.
 * {@link Context.abort} aborts it: at once if it was read, else as soon as it is. The gate's
 * `CheckCall` does the same for a check; they are not one base class because constructing a
 * derived class with private fields cost about 12 ns here against 0.3 ns, a third of a bare
 * `await fn()` on retry's success path.
 */
export class Context implements AttemptContext {
  #signal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #aborted: { readonly reason: unknown } | undefined;
  constructor(
    readonly attempt: number,
    signal: AbortSignal | undefined,
  ) {
    this.#signal = signal;
  }
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted !== undefined) this.#controller.abort(this.#aborted.reason);
      this.#signal = this.#controller.signal;
    }
    return this.#signal;
  }
  /** Aborts the signal this context made (not a caller's signal passed in), with `reason`. */
  abort(reason: unknown): void {
    if (this.#aborted !== undefined) return;
    this.#aborted = { reason };
    this.#controller?.abort(reason);
  }
}
