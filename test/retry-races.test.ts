/**
 * Races and limits of retry() found in review: the deadline at a wait boundary, waits and time
 * limits longer than a timer can hold, a clock that breaks its contract.
 */
import diagnostics_channel from 'node:diagnostics_channel';
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
  it('rejects deadlineMs, attemptTimeoutMs and maxDelayMs above 2147483647 ms at the call, naming the option', async () => {
    const fn = async (): Promise<number> => 1;
    const cases: Array<[string, object]> = [
      ['deadlineMs', { deadlineMs: 3e9 }],
      ['attemptTimeoutMs', { attemptTimeoutMs: MAX_TIMER_MS + 1 }],
      ['maxDelayMs', { maxDelayMs: 1e12 }],
    ];
    for (const [name, options] of cases) {
      await expect(retry(fn, options)).rejects.toThrow(RangeError);
      await expect(retry(fn, options)).rejects.toThrow(new RegExp(`^retry\\(\\): option "${name}" must be .*<= ${MAX_TIMER_MS}, got`));
    }
    // The limit itself is accepted.
    const controller = new AbortController();
    const outcome = retry(fn, { deadlineMs: MAX_TIMER_MS, attemptTimeoutMs: MAX_TIMER_MS, maxDelayMs: MAX_TIMER_MS, signal: controller.signal });
    return expect(outcome).resolves.toBe(1);
  });

  it('gives up at once with the last error when a server asks for a wait beyond maxRetryAfterMs (default 5 minutes)', async () => {
    const clock = new FakeClock();
    const errors: Error[] = [];
    const reasons: unknown[] = [];
    const listener = (event: unknown): void => void reasons.push((event as { reason: unknown }).reason);
    diagnostics_channel.subscribe('ridethrough:retry:give-up', listener);
    try {
      for (const retryAfterMs of [40 * 24 * 3600 * 1000, 300_001, Infinity]) {
        const outcome = retry(
          async () => {
            const error = new Error('busy');
            errors.push(error);
            throw error;
          },
          { clock, classify: () => ({ ...TRANSIENT, retryAfterMs }) },
        );
        await expect(outcome).rejects.toBe(errors.at(-1));
      }
    } finally {
      diagnostics_channel.unsubscribe('ridethrough:retry:give-up', listener);
    }
    expect(errors).toHaveLength(3); // one call each
    expect(clock.requested).toEqual([]); // and no wait at all
    expect(reasons).toEqual(['retry-after', 'retry-after', 'retry-after']);
  });

  it('waits what the server asks up to maxRetryAfterMs, beyond maxDelayMs', async () => {
    const clock = new FakeClock();
    const outcome = retry(
      async ({ attempt }) => {
        if (attempt === 1) throw new Error('busy');
        return 'ok';
      },
      { clock, maxDelayMs: 1_000, maxRetryAfterMs: 600_000, classify: () => ({ ...TRANSIENT, retryAfterMs: 600_000 }) },
    );
    while (await clock.next());
    expect(await outcome).toBe('ok');
    expect(clock.requested).toEqual([600_000]);
    await expect(retry(async () => 1, { maxRetryAfterMs: MAX_TIMER_MS + 1 })).rejects.toThrow(
      /^retry\(\): option "maxRetryAfterMs" must be .*<= 2147483647/,
    );
  });

  it('does not call fn again when a server asks for a Retry-After of weeks (real clock): it rejects at once', async () => {
    const before = timers();
    let calls = 0;
    const started = performance.now();
    const outcome = retry(
      async () => {
        calls++;
        throw new Error('busy');
      },
      { clock: realClock, classify: () => ({ ...TRANSIENT, retryAfterMs: 30 * 24 * 3600 * 1000 }) },
    );
    await expect(outcome).rejects.toThrow('busy');
    expect(calls).toBe(1);
    expect(performance.now() - started).toBeLessThan(5_000);
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
