/**
 * The backoff schedule: how long to wait before each retry. {@link retry} draws its waits from
 * it, and {@link backoffDelays} hands the same delays to loops of the caller's own.
 */
import { optionsObject } from '../shared/validate.js';
import { checkBackoffOptions, type Schedule } from './options.js';

/**
 * How random spread is added to each delay, so that many clients failing together do not
 * retry together. With `base` the exponential delay of this retry:
 * - `'full'`: uniform in [0, base]. The fewest total calls under contention; the default.
 * - `'equal'`: base/2 plus uniform in [0, base/2]. Never waits less than half.
 * - `'decorrelated'`: uniform in [initialDelayMs, 3 x the previous delay], capped at `maxDelayMs`
 *   (ignores `multiplier`).
 * - `'none'`: exactly base. For tests and single clients.
 */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

/** The shape of the backoff schedule, shared by {@link retry} and {@link backoffDelays}. */
export interface BackoffOptions {
  /**
   * The delay before the first retry, before jitter. 0 retries at once, without a timer.
   * @defaultValue 100
   */
  initialDelayMs?: number | undefined;
  /**
   * Each delay is the previous one times this (>= 1), until `maxDelayMs`.
   * @defaultValue 2
   */
  multiplier?: number | undefined;
  /**
   * No computed delay exceeds this (a server's Retry-After may ask for more; see {@link retry}).
   * At most 2147483647 (about 24.8 days, the longest timer Node can set). Given alone, a longer
   * `initialDelayMs` raises the default to it; given both, `initialDelayMs` must not exceed it.
   * @defaultValue 30000, or `initialDelayMs` when that is longer
   */
  maxDelayMs?: number | undefined;
  /**
   * How delays are randomised; see {@link Jitter}.
   * @defaultValue 'full'
   */
  jitter?: Jitter | undefined;
  /**
   * Source of random numbers in [0, 1); values outside are clamped. Inject one for repeatable tests.
   * @defaultValue Math.random
   */
  random?: (() => number) | undefined;
}

/** Returns the next delay of a schedule each time it is called. */
export function delayStream(s: Schedule): () => number {
  let base = s.initialDelayMs;
  let previous = s.initialDelayMs;
  return () => {
    const u = unitInterval(s.random());
    let delay: number;
    switch (s.jitter) {
      case 'none':
        delay = base;
        break;
      case 'full':
        delay = u * base;
        break;
      case 'equal':
        delay = base / 2 + (u * base) / 2;
        break;
      case 'decorrelated':
        delay = Math.min(s.maxDelayMs, s.initialDelayMs + u * (previous * 3 - s.initialDelayMs));
        previous = delay;
        break;
    }
    // Grows by multiplication and is capped at once, so it never overflows to Infinity or NaN.
    base = Math.min(s.maxDelayMs, base * s.multiplier);
    return Math.round(delay);
  };
}

/**
 * A random number forced into [0, 1]: a user's `random` may return anything. NaN and negatives
 * become 0. The one place ridethrough clamps a random number; other modules import it.
 */
export function unitInterval(r: number): number {
  return r >= 0 && r < 1 ? r : r >= 1 ? 1 : 0;
}

/**
 * The delays, in milliseconds, that the schedule waits before each retry, in order and without
 * end: for loops of your own (a refresh timer, a watch loop) that want the same schedule as
 * {@link retry}. Options are checked at the call: a bad one throws there.
 *
 * Guide: [Retry options and jitter](../../docs/guides/retry-options.md).
 *
 * @example
 * ```ts
 * import { backoffDelays } from 'ridethrough';
 * const delays = backoffDelays({ initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitter: 'none' });
 * const first = Array.from({ length: 6 }, () => delays.next().value);
 * console.log(first); // [ 100, 200, 400, 800, 1000, 1000 ]
 * ```
 */
export function backoffDelays(options?: BackoffOptions): Generator<number, never, void> {
  const where = 'backoffDelays()';
  const next = delayStream(checkBackoffOptions(optionsObject(where, options), where));
  return (function* () {
    for (;;) yield next();
  })();
}
