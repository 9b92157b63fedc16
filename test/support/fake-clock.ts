/**
 * A manual Clock for schedule tests: time moves only when the test says so, and every wait the
 * code under test starts is visible. End-to-end tests use the real clock instead.
 */
import type { Clock } from 'ridethrough';

interface Sleeper {
  at: number;
  seq: number;
  ms: number;
  resolve: () => void;
}

/** One wait the code under test started, and what became of it. */
export interface SleepLog {
  ms: number;
  state: 'pending' | 'done' | 'aborted';
}

export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #sleepers: Sleeper[] = [];
  /** Every `sleep` duration requested, in order (0 ms ones and already-aborted ones included). */
  readonly requested: number[] = [];
  /** Every wait started (not already aborted), in order, with what became of it. */
  readonly sleeps: SleepLog[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.requested.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const log: SleepLog = { ms, state: 'done' };
    this.sleeps.push(log);
    if (!(ms > 0)) return Promise.resolve();
    log.state = 'pending';
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.#now + ms,
        seq: this.#seq++,
        ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          log.state = 'done';
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        log.state = 'aborted';
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `ms` without waking anyone: simulates work that takes time. */
  spend(ms: number): void {
    this.#now += ms;
  }

  /** Durations of the waits still pending, earliest first. */
  get pending(): number[] {
    return this.#sorted().map((s) => s.ms);
  }

  /** Moves time forward by `ms`, waking each sleeper that falls due, in order, letting the code react between. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
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
   * it, synchronously; the code under test reacts once the caller yields.
   */
  fireNext(ms?: number): void {
    const next = this.#sorted().find((s) => ms === undefined || s.ms === ms);
    if (next === undefined) throw new Error(`no pending sleep${ms === undefined ? '' : ` of ${ms} ms`}`);
    this.#sleepers = this.#sleepers.filter((s) => s !== next);
    this.#now = next.at;
    next.resolve();
  }

  /** Advances to the next pending wait's end (and lets the code react); false when none is pending. */
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

/** Lets every queued promise callback run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
