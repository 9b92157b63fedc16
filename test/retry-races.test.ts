/**
 * Races and limits of retry() found in review: the deadline at a wait boundary, waits and time
 * limits longer than a timer can hold, a clock that breaks its contract.
 */
import { getEventListeners } from 'node:events';
import { realClock, retry, type AttemptContext, type Clock, type RetryOptions, type Verdict } from 'ridethrough';
import { describe, expect, it } from 'vitest';
import { FakeClock } from 'ridethrough/testing';
import { activeTimers as timers } from './support/resources.js';

const TRANSIENT: Verdict = { kind: 'transient', reason: 'test transient' };
/** The longest delay setTimeout honours; Node turns anything longer into 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

describe('retry: the deadline at a wait boundary (real timers)', () => {
  it('rejects with the last error itself when the deadline timer fires just before a wait that fits would end', async () => {
    // Timers are coarser than the clock: a wait planned to end a fraction of a millisecond before
    // the deadline is often cut by the deadline timer. No attempt is running then, so the caller
    // must still get the last error itself, not a TimeoutError.
    for (let i = 0; i < 10; i++) {
      const last = new Error(`transient ${i}`);
      const startedAt = performance.now();
      const outcome = retry(
        async ({ attempt }) => {
          // Spend the first attempt until the 10 ms wait ends ~0.3 ms before the 40 ms deadline.
          if (attempt === 1) while (performance.now() - startedAt < 29.7);
          throw last;
        },
        { deadlineMs: 40, initialDelayMs: 10, jitter: 'none', maxAttempts: 2, classify: () => TRANSIENT },
      );
      await expect(outcome).rejects.toBe(last);
    }
  });
});
describe('retry: delays and limits beyond what a timer can hold', () => {
  it('rejects deadlineMs, attemptTimeoutMs and maxDelayMs above 2147483647 ms at the call, naming the option', () => {
    const fn = async (): Promise<number> => 1;
    const cases: Array<[string, object]> = [
      ['deadlineMs', { deadlineMs: 3e9 }],
      ['attemptTimeoutMs', { attemptTimeoutMs: MAX_TIMER_MS + 1 }],
      ['maxDelayMs', { maxDelayMs: 1e12 }],
    ];
    for (const [name, options] of cases) {
      expect(() => retry(fn, options)).toThrow(RangeError);
      expect(() => retry(fn, options)).toThrow(new RegExp(`^retry\\(\\): option "${name}" must be .*<= ${MAX_TIMER_MS}, got`));
    }
    // The limit itself is accepted.
    const controller = new AbortController();
    const outcome = retry(fn, { deadlineMs: MAX_TIMER_MS, attemptTimeoutMs: MAX_TIMER_MS, maxDelayMs: MAX_TIMER_MS, signal: controller.signal });
    return expect(outcome).resolves.toBe(1);
  });

  it('waits at most 2147483647 ms for a Retry-After that asks for more (a longer timer would fire at once)', async () => {
    const clock = new FakeClock();
    const outcome = retry(
      async ({ attempt }) => {
        if (attempt === 1) throw new Error('busy');
        return 'ok';
      },
      { clock, classify: () => ({ ...TRANSIENT, retryAfterMs: 40 * 24 * 3600 * 1000 }) },
    );
    while (await clock.next());
    expect(await outcome).toBe('ok');
    expect(clock.requested).toEqual([MAX_TIMER_MS]);
  });

  it('does not call fn again soon when a server asks for a Retry-After of weeks (real clock)', async () => {
    const before = timers();
    const controller = new AbortController();
    let calls = 0;
    const outcome = retry(
      async () => {
        calls++;
        throw new Error('busy');
      },
      { signal: controller.signal, clock: realClock, classify: () => ({ ...TRANSIENT, retryAfterMs: 30 * 24 * 3600 * 1000 }) },
    );
    outcome.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(outcome).rejects.toBe(reason);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('retry: a clock that breaks its contract', () => {
  it('rejects with what a clock sleep threw when nothing aborted it, instead of a TypeError of its own', async () => {
    const broken = new Error('clock broke');
    const clock: Clock = { now: () => 0, sleep: () => Promise.reject(broken) };
    const outcome = retry(
      async () => {
        throw new Error('transient');
      },
      { clock, initialDelayMs: 10, classify: () => TRANSIENT },
    );
    await expect(outcome).rejects.toBe(broken);
  });
});

describe('retry: nothing left behind on any exit path (real timers)', () => {
  const hang = (): Promise<never> => new Promise<never>(() => {});
  const fail = async (): Promise<never> => {
    throw new Error('failed');
  };
  // Each path: what fn does, extra options, and when (ms) to abort the caller's signal, if ever.
  const paths: Array<[string, (ctx: AttemptContext) => Promise<unknown>, RetryOptions, number | undefined]> = [
    ['success', async () => 1, {}, undefined],
    ['success after failures', async ({ attempt }) => (attempt < 3 ? fail() : 1), { classify: () => TRANSIENT, initialDelayMs: 1 }, undefined],
    ['permanent error', fail, {}, undefined],
    ['attempts exhausted', fail, { classify: () => TRANSIENT, maxAttempts: 3, initialDelayMs: 1 }, undefined],
    ['abort during a wait', fail, { classify: () => TRANSIENT, initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' }, 20],
    ['abort during an attempt', hang, {}, 20],
    ['deadline during an attempt', hang, { deadlineMs: 30 }, undefined],
    ['deadline too close for the next wait', fail, { classify: () => TRANSIENT, deadlineMs: 100, initialDelayMs: 1_000, jitter: 'none' }, undefined],
    ['every attempt timed out', hang, { attemptTimeoutMs: 10, maxAttempts: 2, initialDelayMs: 1 }, undefined],
  ];
  it.each(paths)('%s', async (_name, fn, options, abortAfterMs) => {
    const before = timers();
    const controller = new AbortController();
    const aborter = abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(new Error('stop')), abortAfterMs);
    // A deadline and an attempt timeout far away, so that every path runs with all the machinery.
    await retry(fn, { deadlineMs: 60_000, attemptTimeoutMs: 60_000, ...options, signal: controller.signal }).catch(() => {});
    clearTimeout(aborter);
    expect(getEventListeners(controller.signal, 'abort')).toEqual([]);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
