/**
 * A manual {@link Clock} for schedule tests: time moves only when the test says so, and every
 * wait the code under test starts is visible. End-to-end tests use the real clock instead.
 */
import type { Clock } from '../shared/clock.js';
import { onAbort } from '../shared/signals.js';
import { checkOptionNames, numberOption, optionsObject } from '../shared/validate.js';

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly ms: number;
  readonly resolve: () => void;
}

/** One wait the code under test started on a {@link FakeClock}, and what became of it. */
export interface SleepLog {
  /** The duration asked for. */
  readonly ms: number;
  /** `pending` until time reaches its end (`done`) or its signal aborts it (`aborted`). */
  state: 'pending' | 'done' | 'aborted';
}

/** Options of the {@link FakeClock} constructor. */
export interface FakeClockOptions {
  /**
   * What {@link FakeClock.now} says before time moves (milliseconds, finite).
   * @defaultValue `0`
   */
  start?: number | undefined;
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['start']);

/**
 * A {@link Clock} whose time moves only when the test calls {@link FakeClock.advance},
 * {@link FakeClock.next}, {@link FakeClock.fireNext} or {@link FakeClock.spend}. Pass it as the
 * `clock` option of any primitive to test a schedule without waiting for it.
 *
 * @example
 * ```ts
 * import { retry } from 'ridethrough/retry';
 * import { FakeClock } from 'ridethrough/testing';
 *
 * const clock = new FakeClock();
 * let calls = 0;
 * const result = retry(
 *   async () => {
 *     if (++calls < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
 *     return 'ok';
 *   },
 *   { clock, initialDelayMs: 100, jitter: 'none' },
 * );
 * while (await clock.next()) {} // run every backoff wait at once
 * console.log(await result, calls, clock.requested); // ok 3 [ 100, 200 ]
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];
  /** Every `sleep` duration requested, in order (0 ms ones and already-aborted ones included). */
  readonly requested: number[] = [];
  /** Every wait started (not already aborted), in order, with what became of it. */
  readonly sleeps: SleepLog[] = [];

  /** Throws a TypeError or RangeError on bad options. */
  constructor(options?: FakeClockOptions) {
    const given = optionsObject('new FakeClock()', options);
    checkOptionNames('new FakeClock()', given, OPTION_NAMES);
    this.#now = numberOption('new FakeClock()', 'start', given.start, 0);
  }

  /** The fake time, in milliseconds. */
  now(): number {
    return this.#now;
  }

  /**
   * Resolves when the fake time reaches `now() + ms`, or rejects with `signal.reason` as soon as
   * `signal` aborts (no listener left behind either way). `ms <= 0` resolves at once.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.requested.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const log: SleepLog = { ms, state: 'done' };
    this.sleeps.push(log);
    if (!(ms > 0)) return Promise.resolve();
    log.state = 'pending';
    return new Promise<void>((resolve, reject) => {
      const detach =
        signal === undefined
          ? undefined
          : onAbort(signal, () => {
              this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
              log.state = 'aborted';
              reject(signal.reason);
            });
      const sleeper: Sleeper = {
        at: this.#now + ms,
        seq: this.#seq++,
        ms,
        resolve: () => {
          detach?.();
          log.state = 'done';
          resolve();
        },
      };
      this.#sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `ms` without waking anyone: simulates work that takes time. */
  spend(ms: number): void {
    this.#now += numberOption('FakeClock.spend()', 'ms', ms, 0, { min: 0 });
  }

  /** Durations of the waits still pending, earliest end first. */
  get pending(): number[] {
    return this.#sorted().map((s) => s.ms);
  }

  /**
   * Moves time forward by `ms`, ending each wait that falls due, in order, and letting the code
   * under test react between them (see {@link flush}).
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + numberOption('FakeClock.advance()', 'ms', ms, 0, { min: 0 });
    for (;;) {
      await flush();
      const next = this.#sorted()[0];
      if (next === undefined || next.at > target) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = next.at;
      next.resolve();
    }
    this.#now = target;
    await flush();
  }

  /**
   * Moves time to the end of the earliest pending wait (the earliest of `ms` when given) and ends
   * it, synchronously; the code under test reacts once the caller yields. Throws when no such
   * wait is pending.
   */
  fireNext(ms?: number): void {
    const next = this.#sorted().find((s) => ms === undefined || s.ms === ms);
    if (next === undefined) throw new Error(`FakeClock.fireNext(): no pending sleep${ms === undefined ? '' : ` of ${ms} ms`}`);
    this.#sleepers = this.#sleepers.filter((s) => s !== next);
    this.#now = next.at;
    next.resolve();
  }

  /** Advances to the end of the next pending wait and lets the code react; false when none is pending. */
  async next(): Promise<boolean> {
    await flush();
    const next = this.#sorted()[0];
    if (next === undefined) return false;
    await this.advance(next.at - this.#now);
    return true;
  }

  #sorted(): Sleeper[] {
    return [...this.#sleepers].sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}

/**
 * Lets every queued promise callback run (a few turns of the event loop), so the code under test
 * reacts to what the test just did before the test looks.
 *
 * @example
 * ```ts
 * import { flush } from 'ridethrough/testing';
 *
 * let done = false;
 * void Promise.resolve().then(() => Promise.resolve()).then(() => (done = true));
 * await flush();
 * console.log(done); // true
 * ```
 */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
