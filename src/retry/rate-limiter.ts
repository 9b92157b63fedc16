/**
 * A client-side rate limiter: a token bucket that paces calls to one server, optionally adaptive
 * (it slows down when the server throttles and recovers along a CUBIC curve, as the AWS SDKs'
 * adaptive retry mode does). Used by `ridethrough/kubernetes`, usable alone.
 */
import { clockOption, startTimer, type Clock } from '../shared/clock.js';
import { onAbort } from '../shared/signals.js';
import {
  booleanOption,
  checkOptionNames,
  numberOption,
  optionsObject,
  signalOption,
} from '../shared/validate.js';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /**
   * Calls per second in the long run (client-go's default). `Infinity` paces nothing.
   * @defaultValue 5
   */
  qps?: number | undefined;
  /**
   * Calls that may start at once after a quiet spell (the bucket's size; an integer >= 1).
   * @defaultValue 10
   */
  burst?: number | undefined;
  /**
   * Slow down on {@link RateLimiter.onThrottle} and recover on {@link RateLimiter.onSuccess}:
   * the rate drops to 70% of the rate actually sent, then climbs back along a CUBIC curve
   * (concave up to the rate that was throttled, convex past it), never above `qps`.
   * @defaultValue false
   */
  adaptive?: boolean | undefined;
  /**
   * The slowest an adaptive limiter goes (calls per second, > 0).
   * @defaultValue 0.5
   */
  minQps?: number | undefined;
  /** @defaultValue realClock */
  clock?: Clock | undefined;
}

/** A token bucket; see {@link createRateLimiter}. */
export interface RateLimiter {
  /**
   * Resolves when the caller may make one call (at once while tokens are left). Waiters are served
   * in order. Aborting `signal` rejects with its reason and gives the place up; nothing (timer or
   * listener) stays behind.
   */
  acquire(signal?: AbortSignal | undefined): Promise<void>;
  /** Takes a token if one is free now and nobody is waiting; `false` otherwise. */
  tryAcquire(): boolean;
  /** Reports a throttling answer (HTTP 429). An adaptive limiter slows down; a plain one ignores it. */
  onThrottle(): void;
  /** Reports an answer that was not throttled. An adaptive limiter recovers its rate; a plain one ignores it. */
  onSuccess(): void;
  /** The rate now, in calls per second (below the configured `qps` while an adaptive limiter recovers). */
  readonly qps: number;
  /** Callers waiting in {@link RateLimiter.acquire}. */
  readonly waiting: number;
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['qps', 'burst', 'adaptive', 'minQps', 'clock']);

// CUBIC constants of the AWS SDKs' adaptive retry mode (smithy-lang, DefaultRateLimiter).
/** The rate after a throttle, as a share of the rate that was throttled. */
const BETA = 0.7;
/** How steeply the rate recovers (calls/s per s^3). */
const SCALE = 0.4;
/** Weight of the newest half-second in the measured sending rate. */
const SMOOTH = 0.8;
const MEASURE_BUCKET_S = 0.5;

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  detach: (() => void) | undefined;
}

const resolved = Promise.resolve();

/**
 * Creates a token-bucket {@link RateLimiter} (client-go's `flowcontrol` token bucket: QPS 5, burst
 * 10). A full bucket lets `burst` calls start at once; after that one call starts every
 * `1 / qps` seconds. With `adaptive: true` it also follows the server's throttling: report each
 * answer with `onThrottle()` (a 429) or `onSuccess()`.
 *
 * Options are checked at the call (TypeError / RangeError naming the option).
 *
 * Guide: [Retry options and jitter](../../docs/guides/retry-options.md).
 *
 * @example
 * ```ts
 * import { createRateLimiter } from 'ridethrough/retry';
 * const limiter = createRateLimiter({ qps: 50, burst: 2 });
 * const started = performance.now();
 * for (let i = 0; i < 4; i++) await limiter.acquire();
 * // Two at once from the bucket, then one every 20 ms.
 * console.log(performance.now() - started >= 35); // true
 * ```
 */
export function createRateLimiter(options?: RateLimiterOptions): RateLimiter {
  const where = 'createRateLimiter()';
  const o = optionsObject(where, options);
  checkOptionNames(where, o, OPTION_NAMES);
  const qps = numberOption(where, 'qps', o.qps, 5, { min: 0, minExclusive: true, infinite: true });
  const burst = numberOption(where, 'burst', o.burst, 10, { min: 1, integer: true });
  const adaptive = booleanOption(where, 'adaptive', o.adaptive, false);
  const minQps = numberOption(where, 'minQps', o.minQps, 0.5, { min: 0, minExclusive: true });
  if (minQps > qps) throw new RangeError(`${where}: option "minQps" (${minQps}) must not exceed "qps" (${qps})`);
  const clock = clockOption(where, o.clock);
  return new TokenBucket(qps, burst, adaptive, minQps, clock);
}

class TokenBucket implements RateLimiter {
  readonly #maxQps: number;
  readonly #burst: number;
  readonly #adaptive: boolean;
  readonly #minQps: number;
  readonly #clock: Clock;
  #rate: number;
  #capacity: number;
  #tokens: number;
  #refilledAt: number;
  /** In arrival order; a Set deletes an aborted waiter in constant time. */
  readonly #waiters = new Set<Waiter>();
  #cancelTimer: (() => void) | undefined;

  // Adaptive state, in seconds and calls per second.
  #throttled = false;
  #lastMaxRate = 0;
  #lastThrottleAt = 0;
  #timeWindow = 0;
  #measuredRate = 0;
  #bucketCount = 0;
  #bucketStart: number;

  constructor(qps: number, burst: number, adaptive: boolean, minQps: number, clock: Clock) {
    this.#maxQps = qps;
    this.#burst = burst;
    this.#adaptive = adaptive;
    this.#minQps = minQps;
    this.#clock = clock;
    this.#rate = qps;
    this.#capacity = burst;
    this.#tokens = burst;
    this.#refilledAt = clock.now();
    this.#bucketStart = Math.floor(this.#seconds() / MEASURE_BUCKET_S) * MEASURE_BUCKET_S;
  }

  get qps(): number {
    return this.#rate;
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  tryAcquire(): boolean {
    if (this.#waiters.size > 0) return false;
    return this.#take();
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal !== undefined) {
      try {
        signalOption('RateLimiter.acquire()', signal);
      } catch (error) {
        return Promise.reject(error);
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#waiters.size === 0 && this.#take()) return resolved;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, detach: undefined };
      if (signal !== undefined) {
        waiter.detach = onAbort(signal, () => {
          this.#waiters.delete(waiter);
          reject(signal.reason);
          // The head may have left: re-plan (or drop) the one timer.
          this.#schedule();
        });
      }
      this.#waiters.add(waiter);
      if (this.#waiters.size === 1) this.#schedule();
    });
  }

  onThrottle(): void {
    if (!this.#adaptive) return;
    const now = this.#seconds();
    this.#measure(now, 0);
    // The rate that was too much: what was really sent, or the limit if that was lower.
    const rateToUse = this.#throttled ? Math.min(this.#measuredRate, this.#rate) : this.#measuredRate;
    this.#lastMaxRate = rateToUse > 0 ? rateToUse : this.#rate;
    this.#timeWindow = Math.cbrt((this.#lastMaxRate * (1 - BETA)) / SCALE);
    this.#lastThrottleAt = now;
    this.#throttled = true;
    this.#setRate(this.#lastMaxRate * BETA);
  }

  onSuccess(): void {
    if (!this.#adaptive || !this.#throttled) return;
    const now = this.#seconds();
    this.#measure(now, 0);
    const cubic = SCALE * (now - this.#lastThrottleAt - this.#timeWindow) ** 3 + this.#lastMaxRate;
    if (cubic >= this.#maxQps) {
      // Recovered: back to the plain bucket, full size.
      this.#throttled = false;
      this.#setRate(this.#maxQps);
      return;
    }
    // Never more than twice what is really being sent: an idle client does not earn a burst.
    this.#setRate(Math.min(cubic, 2 * this.#measuredRate));
  }

  #seconds(): number {
    return this.#clock.now() / 1000;
  }

  /** The sending rate, smoothed over half-second buckets (AWS's measured transmission rate). */
  #measure(now: number, sent: number): void {
    this.#bucketCount += sent;
    const bucket = Math.floor(now / MEASURE_BUCKET_S) * MEASURE_BUCKET_S;
    if (bucket <= this.#bucketStart) return;
    const current = this.#bucketCount / (bucket - this.#bucketStart);
    this.#measuredRate = current * SMOOTH + this.#measuredRate * (1 - SMOOTH);
    this.#bucketCount = 0;
    this.#bucketStart = bucket;
  }

  #setRate(rate: number): void {
    this.#refill();
    this.#rate = Math.min(this.#maxQps, Math.max(this.#minQps, rate));
    // A slowed-down bucket also holds less: a throttled client must not burst after a pause.
    this.#capacity = this.#throttled ? Math.min(this.#burst, Math.max(1, this.#rate)) : this.#burst;
    this.#tokens = Math.min(this.#tokens, this.#capacity);
    if (this.#waiters.size > 0) this.#schedule();
  }

  #refill(): void {
    const now = this.#clock.now();
    if (this.#rate === Infinity) this.#tokens = this.#capacity;
    else this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#refilledAt) * this.#rate) / 1000);
    this.#refilledAt = now;
  }

  #take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    if (this.#adaptive) this.#measure(this.#seconds(), 1);
    return true;
  }

  /** Serves the waiters that can go now, then arms one timer for the next (or none). */
  #schedule(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    for (const waiter of this.#waiters) {
      if (!this.#take()) break;
      this.#waiters.delete(waiter);
      waiter.detach?.();
      waiter.resolve();
    }
    if (this.#waiters.size === 0) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#rate));
    this.#cancelTimer = startTimer(this.#clock, waitMs, () => {
      this.#cancelTimer = undefined;
      this.#schedule();
    });
  }
}
