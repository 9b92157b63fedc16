import diagnostics_channel from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import {
  backoffDelays,
  createRetryBudget,
  diagnosticsChannels,
  realClock,
  retry,
  type AttemptContext,
  type RecoveredEvent,
  type RetryEvent,
  type Verdict,
} from 'ridethrough';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock, flush } from 'ridethrough/testing';
import { activeTimers as timers } from './support/resources.js';

const TRANSIENT: Verdict = { kind: 'transient', reason: 'test transient' };
const PERMANENT: Verdict = { kind: 'permanent', reason: 'test permanent' };
const alwaysTransient = (): Verdict => TRANSIENT;

class FlakyError extends Error {
  override name = 'FlakyError';
}

/** A function that fails `failures` times with fresh FlakyErrors, then returns 'ok'. */
function flaky(failures: number): { fn: (ctx: AttemptContext) => Promise<string>; errors: FlakyError[]; calls: () => number } {
  const errors: FlakyError[] = [];
  let calls = 0;
  return {
    errors,
    calls: () => calls,
    fn: async () => {
      calls++;
      if (calls <= failures) {
        const error = new FlakyError(`failure ${calls}`);
        errors.push(error);
        throw error;
      }
      return 'ok';
    },
  };
}

/** What a promise rejected with (fails the test if it resolved). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('retry: outcomes', () => {
  it('returns the first success without waiting and passes attempt 1 and a signal', async () => {
    const seen: AttemptContext[] = [];
    const value = await retry(async (ctx) => {
      seen.push(ctx);
      return 42;
    });
    expect(value).toBe(42);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.attempt).toBe(1);
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(seen[0]!.signal.aborted).toBe(false);
  });

  it('accepts a synchronous fn, whether it returns or throws', async () => {
    expect(await retry(() => 'sync')).toBe('sync');
    let calls = 0;
    const value = await retry(
      () => {
        if (++calls < 3) throw new FlakyError('sync throw');
        return calls;
      },
      { initialDelayMs: 0, classify: alwaysTransient },
    );
    expect(value).toBe(3);
  });

  it('retries transient failures until success and numbers the attempts', async () => {
    const { fn, calls } = flaky(3);
    const attempts: number[] = [];
    const value = await retry(
      (ctx) => {
        attempts.push(ctx.attempt);
        return fn(ctx);
      },
      { initialDelayMs: 0, classify: alwaysTransient },
    );
    expect(value).toBe('ok');
    expect(calls()).toBe(4);
    expect(attempts).toEqual([1, 2, 3, 4]);
  });

  it('rejects at once on a permanent verdict with the error itself, unmodified', async () => {
    const error = Object.freeze(new FlakyError('no key in file'));
    let calls = 0;
    const outcome = retry(
      async () => {
        calls++;
        throw error;
      },
      { classify: () => PERMANENT },
    );
    await expect(outcome).rejects.toBe(error);
    expect(calls).toBe(1);
    expect(Object.keys(error)).toEqual(['name']); // its own class field, nothing added by retry
  });

  it('maxAttempts counts every call, the first included, and rejects with the last error', async () => {
    const { fn, errors, calls } = flaky(10);
    const error = await rejection(retry(fn, { maxAttempts: 3, initialDelayMs: 0, classify: alwaysTransient }));
    expect(calls()).toBe(3);
    expect(error).toBe(errors[2]);
    expect(error).toBeInstanceOf(FlakyError);
  });

  it('maxAttempts: 1 never retries', async () => {
    const { fn, calls } = flaky(1);
    await expect(retry(fn, { maxAttempts: 1, classify: alwaysTransient })).rejects.toBeInstanceOf(FlakyError);
    expect(calls()).toBe(1);
  });

  it('uses the default classifier: an unrecognised error is permanent', async () => {
    const { fn, calls } = flaky(5);
    await expect(retry(fn)).rejects.toBeInstanceOf(FlakyError);
    expect(calls()).toBe(1);
  });

  it('a classifier that throws makes the error permanent instead of losing it', async () => {
    const { fn, errors } = flaky(5);
    const outcome = retry(fn, {
      classify: () => {
        throw new Error('classifier bug');
      },
    });
    expect(await rejection(outcome)).toBe(errors[0]);
  });

});

describe('retry: events', () => {
  it('calls onRetry before each wait and onRecovered once after a success that followed failures', async () => {
    const clock = new FakeClock();
    const { fn, errors } = flaky(2);
    const retries: RetryEvent[] = [];
    const recovered: RecoveredEvent[] = [];
    const outcome = retry(fn, {
      clock,
      jitter: 'none',
      initialDelayMs: 100,
      classify: alwaysTransient,
      onRetry: (e) => retries.push(e),
      onRecovered: (e) => recovered.push(e),
    });
    while (await clock.next());
    expect(await outcome).toBe('ok');
    expect(retries).toEqual([
      { attempt: 1, error: errors[0], verdict: TRANSIENT, delayMs: 100, elapsedMs: 0 },
      { attempt: 2, error: errors[1], verdict: TRANSIENT, delayMs: 200, elapsedMs: 100 },
    ]);
    expect(recovered).toEqual([{ attempts: 3, elapsedMs: 300, lastError: errors[1] }]);
  });

  it('does not call onRecovered when the first attempt succeeds', async () => {
    const onRecovered = vi.fn();
    await retry(async () => 1, { onRecovered });
    expect(onRecovered).not.toHaveBeenCalled();
  });

  it('publishes retry, recovered and give-up on its diagnostics channels', async () => {
    const messages: Array<[string, unknown]> = [];
    const names = Object.values(diagnosticsChannels.retry);
    const listeners = names.map((name) => {
      const listener = (message: unknown): void => void messages.push([name, message]);
      diagnostics_channel.subscribe(name, listener);
      return [name, listener] as const;
    });
    try {
      await retry(flaky(1).fn, { initialDelayMs: 0, classify: alwaysTransient });
      await retry(flaky(5).fn, { maxAttempts: 2, initialDelayMs: 0, classify: alwaysTransient }).catch(() => {});
    } finally {
      for (const [name, listener] of listeners) diagnostics_channel.unsubscribe(name, listener);
    }
    expect(messages.map(([name]) => name)).toEqual([
      'ridethrough:retry:retry',
      'ridethrough:retry:recovered',
      'ridethrough:retry:retry',
      'ridethrough:retry:give-up',
    ]);
    expect(messages[3]![1]).toMatchObject({ reason: 'attempts', attempts: 2, verdict: TRANSIENT });
  });
});

describe('retry: schedule', () => {
  it('waits initialDelayMs x multiplier^n, capped at maxDelayMs, without jitter', async () => {
    const clock = new FakeClock();
    const { fn } = flaky(7);
    const outcome = retry(fn, {
      clock,
      jitter: 'none',
      initialDelayMs: 100,
      multiplier: 3,
      maxDelayMs: 2000,
      classify: alwaysTransient,
    });
    while (await clock.next());
    await outcome;
    expect(clock.requested).toEqual([100, 300, 900, 2000, 2000, 2000, 2000]);
  });

  it('applies each jitter mode to the base delay', () => {
    const take = (jitter: 'full' | 'equal' | 'decorrelated' | 'none', random: () => number): number[] => {
      const delays = backoffDelays({ initialDelayMs: 100, multiplier: 2, maxDelayMs: 10_000, jitter, random });
      return Array.from({ length: 4 }, () => delays.next().value);
    };
    expect(take('none', () => 0.5)).toEqual([100, 200, 400, 800]);
    expect(take('full', () => 0.5)).toEqual([50, 100, 200, 400]);
    expect(take('full', () => 0)).toEqual([0, 0, 0, 0]);
    expect(take('equal', () => 0)).toEqual([50, 100, 200, 400]);
    expect(take('equal', () => 0.999999)).toEqual([100, 200, 400, 800]);
    // decorrelated: uniform in [initial, 3 x previous]
    expect(take('decorrelated', () => 0)).toEqual([100, 100, 100, 100]);
    expect(take('decorrelated', () => 0.999999)).toEqual([300, 900, 2700, 8100]);
  });

  it('a 0 ms delay starts no timer', async () => {
    const before = timers();
    const sleeping = realClock.sleep(0);
    expect(timers()).toBe(before);
    await sleeping;
  });

  it('a 0 ms schedule retries without any timer', async () => {
    const clock = new FakeClock();
    const { fn } = flaky(4);
    expect(await retry(fn, { clock, initialDelayMs: 0, classify: alwaysTransient })).toBe('ok');
    expect(clock.requested).toEqual([]); // not even a sleep(0) is asked of the clock
  });

  it('never yields NaN, a negative or an over-cap delay, at any attempt number, whatever random returns', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('full' as const, 'equal' as const, 'decorrelated' as const, 'none' as const),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 1e3, noNaN: true }),
        fc.array(fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(-1), fc.constant(2)), { minLength: 1, maxLength: 8 }),
        (jitter, initialDelayMs, multiplier, randoms) => {
          const maxDelayMs = initialDelayMs * 10 + 1;
          let i = 0;
          const delays = backoffDelays({ jitter, initialDelayMs, multiplier, maxDelayMs, random: () => randoms[i++ % randoms.length]! });
          for (let n = 0; n < 2000; n++) {
            const d = delays.next().value;
            if (!(Number.isFinite(d) && d >= 0 && d <= Math.round(maxDelayMs))) return false;
          }
          return true;
        },
      ),
      { numRuns: 100 },
    );
  });

  it('without jitter, delays never decrease and never exceed maxDelayMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        (initialDelayMs, multiplier, extra) => {
          const maxDelayMs = initialDelayMs + extra;
          const delays = backoffDelays({ jitter: 'none', initialDelayMs, multiplier, maxDelayMs });
          let previous = -1;
          for (let n = 0; n < 200; n++) {
            const d = delays.next().value;
            if (d < previous || d > maxDelayMs) return false;
            previous = d;
          }
          return true;
        },
      ),
    );
  });

  it('stretches the next wait to retryAfterMs, beyond maxDelayMs when the server asks for more', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const outcome = retry(
      async () => {
        if (++calls < 3) throw new FlakyError('429');
        return 'ok';
      },
      {
        clock,
        jitter: 'none',
        initialDelayMs: 100,
        maxDelayMs: 1000,
        classify: () => (calls === 1 ? { kind: 'transient', reason: 'HTTP 429', retryAfterMs: 5000 } : { kind: 'transient', reason: 'HTTP 429', retryAfterMs: 50 }),
      },
    );
    while (await clock.next());
    await outcome;
    // 5000 > the cap (the server asked); 50 < the scheduled 200, so the schedule wins.
    expect(clock.requested).toEqual([5000, 200]);
  });
});

describe('retry: deadline', () => {
  it('starts no wait that would end past the deadline and rejects with the last error', async () => {
    const clock = new FakeClock();
    const { fn, errors, calls } = flaky(100);
    const outcome = retry(fn, { clock, jitter: 'none', initialDelayMs: 300, deadlineMs: 1000, maxAttempts: Infinity, classify: alwaysTransient });
    outcome.catch(() => {});
    while (await clock.next());
    expect(await rejection(outcome)).toBe(errors[2]);
    // Waits of 300 and 600 fit (ending at 900); the next, 1200, would not.
    expect(clock.requested.filter((ms) => ms === 300 || ms === 600)).toEqual([300, 600]);
    expect(calls()).toBe(3);
    expect(clock.now()).toBeLessThanOrEqual(1000);
  });

  it('does not wait for a Retry-After that would end past the deadline', async () => {
    const clock = new FakeClock();
    const error = new FlakyError('503');
    const outcome = retry(
      async () => {
        throw error;
      },
      { clock, deadlineMs: 10_000, classify: () => ({ kind: 'transient', reason: 'HTTP 503', retryAfterMs: 60_000 }) },
    );
    await expect(outcome).rejects.toBe(error);
    expect(clock.now()).toBe(0);
  });

  it('aborts the attempt in flight at the deadline and rejects with a TimeoutError whose cause is the last error', async () => {
    const clock = new FakeClock();
    const first = new FlakyError('first');
    const signals: AbortSignal[] = [];
    const outcome = retry(
      async ({ attempt, signal }) => {
        signals.push(signal);
        if (attempt === 1) throw first;
        return new Promise<never>(() => {}); // hangs and ignores its signal
      },
      { clock, jitter: 'none', initialDelayMs: 100, deadlineMs: 1000, classify: alwaysTransient },
    );
    outcome.catch(() => {});
    await clock.advance(100);
    expect(signals).toHaveLength(2);
    expect(signals[1]!.aborted).toBe(false);
    await clock.advance(900);
    const error = await outcome.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('TimeoutError');
    expect((error as DOMException).message).toContain('1000 ms');
    expect((error as DOMException).cause).toBe(first);
    expect(signals[1]!.aborted).toBe(true);
  });

  it("gives an attempt that reads its signal only after its time limit a signal already aborted with the TimeoutError", async () => {
    const clock = new FakeClock();
    const contexts: AttemptContext[] = [];
    const outcome = retry(
      (context) => {
        contexts.push(context);
        return context.attempt === 1 ? new Promise<never>(() => {}) : 'second';
      },
      { clock, attemptTimeoutMs: 50, initialDelayMs: 0, classify: alwaysTransient },
    );
    await clock.advance(50);
    await expect(outcome).resolves.toBe('second');
    const late = contexts[0]!.signal; // first read, after the time-out
    expect(late.aborted).toBe(true);
    expect((late.reason as DOMException).message).toBe('attempt 1 timed out after 50 ms');
    expect(contexts[1]!.signal.aborted).toBe(false);
  });

  it("aborts an attempt's own signal with the caller's reason when the caller aborts mid-attempt", async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    let attemptSignal: AbortSignal | undefined;
    const outcome = retry(
      ({ signal }) => {
        attemptSignal = signal;
        return new Promise<never>(() => {});
      },
      { signal: controller.signal, attemptTimeoutMs: 60_000 },
    );
    expect(attemptSignal).not.toBe(controller.signal);
    expect(attemptSignal!.aborted).toBe(false);
    controller.abort(reason);
    await expect(outcome).rejects.toBe(reason);
    expect(attemptSignal!.reason).toBe(reason);
  });

  it('the sum of waits never exceeds deadlineMs (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.constantFrom('full' as const, 'equal' as const, 'decorrelated' as const, 'none' as const),
        fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
        async (deadlineMs, initialDelayMs, multiplier, jitter, retryAfterMs) => {
          const clock = new FakeClock();
          let waited = 0;
          const outcome = retry(
            async () => {
              clock.spend(1); // each attempt takes a millisecond, so 0 ms waits still end
              throw new FlakyError('x');
            },
            {
              clock,
              onRetry: ({ delayMs }) => {
                waited += delayMs;
              },
              deadlineMs,
              initialDelayMs,
              multiplier,
              jitter,
              maxDelayMs: 5000,
              maxAttempts: Infinity,
              classify: () => (retryAfterMs === undefined ? TRANSIENT : { ...TRANSIENT, retryAfterMs }),
            },
          );
          outcome.catch(() => {});
          for (let i = 0; i < 10_000 && (await clock.next()); i++);
          await outcome.catch(() => {});
          return waited <= deadlineMs;
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('retry: attempt timeout', () => {
  it('aborts a slow attempt, counts it as transient (whatever the classifier says) and tries again', async () => {
    const clock = new FakeClock();
    const signals: AbortSignal[] = [];
    const outcome = retry(
      async ({ attempt, signal }) => {
        signals.push(signal);
        if (attempt < 3) return new Promise<never>(() => {});
        return 'third time';
      },
      { clock, jitter: 'none', initialDelayMs: 10, attemptTimeoutMs: 500, classify: () => PERMANENT },
    );
    while (await clock.next());
    expect(await outcome).toBe('third time');
    expect(signals.map((s) => s.aborted)).toEqual([true, true, false]);
    expect((signals[0]!.reason as DOMException).name).toBe('TimeoutError');
    expect((signals[0]!.reason as DOMException).message).toBe('attempt 1 timed out after 500 ms');
  });

  it('rejects with the TimeoutError when every attempt times out', async () => {
    const clock = new FakeClock();
    const outcome = retry(async () => new Promise<never>(() => {}), {
      clock,
      maxAttempts: 2,
      initialDelayMs: 0,
      attemptTimeoutMs: 100,
    });
    outcome.catch(() => {});
    while (await clock.next());
    await expect(outcome).rejects.toMatchObject({ name: 'TimeoutError', message: 'attempt 2 timed out after 100 ms' });
  });

  it('leaves no unhandled rejection when a timed-out attempt rejects later', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const outcome = retry(
        () => new Promise<never>((_, reject) => setTimeout(() => reject(new FlakyError('late')), 30)),
        { maxAttempts: 1, attemptTimeoutMs: 5 },
      );
      await expect(outcome).rejects.toMatchObject({ name: 'TimeoutError' });
      await new Promise((resolve) => setTimeout(resolve, 80));
      await flush();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});

describe('retry: abort (real timers)', () => {
  afterEach(() => vi.useRealTimers());

  it('rejects with signal.reason within milliseconds of an abort in the middle of a 10 s wait, leaving no timer', async () => {
    const before = timers();
    const controller = new AbortController();
    const { fn, calls } = flaky(100);
    const outcome = retry(fn, { signal: controller.signal, initialDelayMs: 10_000, maxDelayMs: 10_000, jitter: 'none', classify: alwaysTransient });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls()).toBe(1);
    const reason = new Error('shutting down');
    const abortedAt = performance.now();
    controller.abort(reason);
    await expect(outcome).rejects.toBe(reason);
    // Generous bound for a shared machine; the benchmark measures the real figure (~0.1 ms).
    expect(performance.now() - abortedAt).toBeLessThan(5000);
    expect(calls()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls()).toBe(1);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('rejects at once, without calling fn, when the signal is already aborted', async () => {
    const reason = new Error('already');
    const fn = vi.fn(async () => 1);
    await expect(retry(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
  });

  it('rejects promptly when aborted during an attempt that ignores its signal', async () => {
    const controller = new AbortController();
    const seen: AbortSignal[] = [];
    const outcome = retry(
      (ctx) => {
        seen.push(ctx.signal);
        return new Promise<never>(() => {});
      },
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('stop'));
    await expect(outcome).rejects.toThrow('stop');
    expect(seen[0]!.aborted).toBe(true);
  });

  it('leaves no timer and no listener after a deadline-bound success', async () => {
    const before = timers();
    const controller = new AbortController();
    await retry(flaky(2).fn, { initialDelayMs: 1, deadlineMs: 60_000, attemptTimeoutMs: 60_000, signal: controller.signal, classify: alwaysTransient });
    expect(timers()).toBeLessThanOrEqual(before);
    // Aborting afterwards has no effect on anything left behind.
    controller.abort();
  });
});

describe('retry: budget', () => {
  it('stops retrying when the shared budget is spent and refills on success', async () => {
    const budget = createRetryBudget({ capacity: 10, retryCost: 5, successRefill: 5 });
    const failing = flaky(1000);
    await expect(retry(failing.fn, { budget, maxAttempts: 10, initialDelayMs: 0, classify: alwaysTransient })).rejects.toBeInstanceOf(FlakyError);
    expect(failing.calls()).toBe(3); // the first call and two paid retries
    expect(budget.available).toBe(0);
    await expect(retry(failing.fn, { budget, initialDelayMs: 0, classify: alwaysTransient })).rejects.toBeInstanceOf(FlakyError);
    expect(failing.calls()).toBe(4); // no retry at all
    await retry(async () => 'ok', { budget });
    expect(budget.available).toBe(5);
  });

  it('rejects bad budget options at the call', () => {
    expect(() => createRetryBudget({ capacity: 0 })).toThrow(/"capacity".*got 0/);
    expect(() => createRetryBudget({ retryCost: -1 })).toThrow(RangeError);
    expect(() => createRetryBudget({ successRefill: '1' as unknown as number })).toThrow(TypeError);
  });
});

describe('retry: invalid input rejects the call (nothing thrown at it), naming the option and the value', () => {
  const fn = async (): Promise<number> => 1;
  const cases: Array<[string, object, typeof TypeError, RegExp]> = [
    ['maxAttempts 0', { maxAttempts: 0 }, RangeError, /"maxAttempts".*got 0/],
    ['maxAttempts 1.5', { maxAttempts: 1.5 }, RangeError, /"maxAttempts" must be an integer >= 1, got 1.5/],
    ['maxAttempts NaN', { maxAttempts: Number.NaN }, RangeError, /"maxAttempts".*got NaN/],
    ['maxAttempts string', { maxAttempts: '3' }, TypeError, /"maxAttempts".*got "3"/],
    ['initialDelayMs negative', { initialDelayMs: -1 }, RangeError, /"initialDelayMs".*got -1/],
    ['initialDelayMs Infinity', { initialDelayMs: Infinity }, RangeError, /"initialDelayMs".*got Infinity/],
    ['multiplier < 1', { multiplier: 0.5 }, RangeError, /"multiplier" must be a finite number >= 1, got 0.5/],
    ['maxDelayMs NaN', { maxDelayMs: Number.NaN }, RangeError, /"maxDelayMs".*got NaN/],
    ['initial > max', { initialDelayMs: 5000, maxDelayMs: 1000 }, RangeError, /"initialDelayMs" \(5000\) must not exceed "maxDelayMs" \(1000\)/],
    ['unknown jitter', { jitter: 'random' }, RangeError, /"jitter" must be one of 'full', 'equal', 'decorrelated', 'none', got "random"/],
    ['deadlineMs 0', { deadlineMs: 0 }, RangeError, /"deadlineMs".*got 0/],
    ['attemptTimeoutMs negative', { attemptTimeoutMs: -5 }, RangeError, /"attemptTimeoutMs".*got -5/],
    ['signal not a signal', { signal: {} }, TypeError, /"signal" must be an AbortSignal, got an object/],
    ['classify not a function', { classify: 'default' }, TypeError, /"classify" must be a function/],
    ['onRetry not a function', { onRetry: true }, TypeError, /"onRetry" must be a function, got true/],
    ['budget without methods', { budget: {} }, TypeError, /"budget" must be an object with tryAcquire\(\), onSuccess\(\)/],
    ['clock without sleep', { clock: { now: () => 0 } }, TypeError, /"clock".*sleep\(\)/],
    ['random not a function', { random: 0.5 }, TypeError, /"random" must be a function, got 0.5/],
  ];
  it.each(cases)('%s', async (_name, options, Type, message) => {
    let outcome: Promise<unknown> | undefined;
    expect(() => (outcome = retry(fn, options as never))).not.toThrow();
    const thrown = await rejection(outcome!);
    expect(thrown).toBeInstanceOf(Type);
    expect((thrown as Error).message).toMatch(/^retry\(\): /);
    expect((thrown as Error).message).toMatch(message);
  });

  it('fn must be a function', async () => {
    await expect(retry(undefined as never)).rejects.toThrow(new TypeError('retry(): "fn" must be a function, got undefined'));
  });

  it('options must be an object', async () => {
    await expect(retry(fn, 5 as never)).rejects.toThrow(TypeError);
  });

  it('backoffDelays checks its options at the call', () => {
    expect(() => backoffDelays({ multiplier: 0 })).toThrow(/^backoffDelays\(\): option "multiplier"/);
  });
});

describe('retry: end to end with real errors (127.0.0.1)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('rides through real 503s from a real HTTP server, honouring Retry-After', async () => {
    let requests = 0;
    server = createServer((_req, res) => {
      requests++;
      if (requests <= 2) {
        res.writeHead(503, { 'retry-after': '0' }).end('busy');
      } else {
        res.writeHead(200).end('ready');
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const recovered: RecoveredEvent[] = [];
    const body = await retry(
      async ({ signal }) => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal });
        if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, headers: res.headers });
        return res.text();
      },
      { initialDelayMs: 10, deadlineMs: 10_000, onRecovered: (e) => recovered.push(e) },
    );
    expect(body).toBe('ready');
    expect(requests).toBe(3);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.attempts).toBe(3);
  });

  it('retries a real ECONNREFUSED until the server comes up', async () => {
    // Find a free port, then leave it closed for the first attempts.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    let attempts = 0;
    const body = await retry(
      async ({ attempt, signal }) => {
        attempts = attempt;
        if (attempt === 3) {
          server = createServer((_req, res) => res.end('up'));
          await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
        }
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal });
        return res.text();
      },
      { initialDelayMs: 10, deadlineMs: 10_000 },
    );
    expect(body).toBe('up');
    expect(attempts).toBe(3);
  });
});
