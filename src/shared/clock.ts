/**
 * Time, as every primitive sees it. Injectable so schedules can be tested with a fake clock
 * and so no primitive reads `Date.now()` or calls `setTimeout` directly.
 */
import { noop, onAbort } from './signals.js';
import { objectOption, type NumberConstraints } from './validate.js';

/**
 * A source of time and of abortable waits. Every primitive takes one as its `clock` option;
 * the default is {@link realClock}.
 *
 * @example
 * ```ts
 * import { realClock } from 'ridethrough';
 * const started = realClock.now();
 * await realClock.sleep(5);
 * console.log(realClock.now() - started >= 4);
 * ```
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin. Only differences are meaningful; it never goes backwards. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as `signal` aborts.
   * Either way no timer and no abort listener is left behind. `ms <= 0` resolves without a timer.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const resolved = Promise.resolve();

/** The longest delay `setTimeout` honours (about 24.8 days); Node fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** The range of a time limit that one timer must hold (`deadlineMs`, `attemptTimeoutMs`): > 0 and at most {@link MAX_TIMER_MS}. */
export const TIMER_RANGE: Readonly<NumberConstraints> = Object.freeze({ min: 0, minExclusive: true, max: MAX_TIMER_MS });

/** Checks a `clock` option: an object with `now()` and `sleep()`; {@link realClock} when not given. */
export function clockOption(where: string, value: unknown, name = 'clock'): Clock {
  return objectOption<Clock>(where, name, value, ['now', 'sleep']) ?? realClock;
}

/**
 * The real clock: `performance.now()` and a `setTimeout` that is cleared on abort.
 * A pending sleep keeps the process alive, like any timer the caller is awaiting.
 */
export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // No timer at all for a zero wait: a setTimeout(0) costs a full millisecond here.
    if (!(ms > 0)) return resolved;
    return new Promise<void>((resolve, reject) => {
      // setTimeout fires at once for delays past 2^31 - 1 ms (about 24.8 days): wait in steps.
      const end = performance.now() + ms;
      let timer = setTimeout(step, Math.min(ms, MAX_TIMER_MS));
      function step(): void {
        const remaining = end - performance.now();
        if (remaining > 1) {
          timer = setTimeout(step, Math.min(remaining, MAX_TIMER_MS));
          return;
        }
        detach();
        resolve();
      }
      // onAbort, not addEventListener: many sleeps may share one caller signal.
      const detach =
        signal === undefined
          ? noop
          : onAbort(signal, () => {
              clearTimeout(timer);
              reject(signal.reason);
            });
    });
  },
});

const CANCELLED = Symbol('cancelled');

/**
 * Calls `fn` after `ms` on `clock` unless the returned cancel function is called first.
 * Built on `clock.sleep`, so a fake clock drives it too.
 */
export function startTimer(clock: Clock, ms: number, fn: () => void): () => void {
  if (clock === realClock && ms > 0 && ms <= MAX_TIMER_MS) {
    // The same on the real clock, without the controller, the promise and the abort event:
    // a retry with a deadline that succeeds at once cost about 9 us, and costs 1.3 us like this.
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  }
  const controller = new AbortController();
  clock.sleep(ms, controller.signal).then(fn, noop);
  return () => controller.abort(CANCELLED);
}
