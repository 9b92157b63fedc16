/** retry() and the contract of issue 10/14: hooks never steer, nothing unhandled, every option checked. */
import diagnostics_channel from 'node:diagnostics_channel';
import { retry, type RetryEvent, type Verdict } from 'ridethrough';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const TRANSIENT: Verdict = { kind: 'transient', reason: 'test transient' };
const alwaysTransient = (): Verdict => TRANSIENT;

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('retry: hooks report, never steer', () => {
  let unhandled = 0;
  const count = (): void => void unhandled++;
  beforeEach(() => {
    unhandled = 0;
    process.on('unhandledRejection', count);
    process.on('uncaughtException', count);
  });
  afterEach(() => {
    process.off('unhandledRejection', count);
    process.off('uncaughtException', count);
  });

  it('a throwing or rejecting onRetry/onRecovered changes nothing, is published as {hook, error, name}, and is never unhandled', async () => {
    const published: unknown[] = [];
    const listener = (message: unknown): void => void published.push(message);
    diagnostics_channel.subscribe('ridethrough:retry:hook-error', listener);
    try {
      const thrown = new Error('log sink down (sync)');
      const rejected = new Error('log sink down (async)');
      const value = await retry(
        async ({ attempt }) => {
          if (attempt < 3) throw new Error('flaky');
          return 'ok';
        },
        {
          name: 'op',
          initialDelayMs: 0,
          classify: alwaysTransient,
          onRetry: ({ attempt }) => {
            if (attempt === 1) throw thrown;
          },
          onRecovered: async () => {
            throw rejected;
          },
        },
      );
      expect(value).toBe('ok');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(published).toEqual([
        { hook: 'onRetry', error: thrown, name: 'op' },
        { hook: 'onRecovered', error: rejected, name: 'op' },
      ]);
      expect(published.every((m) => Object.isFrozen(m))).toBe(true);
      expect(unhandled).toBe(0);
    } finally {
      diagnostics_channel.unsubscribe('ridethrough:retry:hook-error', listener);
    }
  });

  it('hands hooks and subscribers frozen events carrying the name', async () => {
    const seen: RetryEvent[] = [];
    await retry(
      async ({ attempt }) => {
        if (attempt === 1) throw new Error('flaky');
        return 1;
      },
      {
        name: 'fetch-pod',
        initialDelayMs: 0,
        classify: alwaysTransient,
        onRetry: (event) => {
          seen.push(event);
          (event as { delayMs: number }).delayMs = 999_999;
        },
      },
    ).catch(() => undefined);
    expect(seen).toHaveLength(1);
    expect(Object.isFrozen(seen[0])).toBe(true);
    expect(seen[0]!.delayMs).toBe(0);
    expect(seen[0]!.name).toBe('fetch-pod');
  });

  it('starts no attempt after deadlineMs, however long onRetry takes', async () => {
    let calls = 0;
    const error = new Error('flaky');
    const outcome = retry(
      async () => {
        calls++;
        throw error;
      },
      { deadlineMs: 200, initialDelayMs: 0, classify: alwaysTransient, onRetry: () => busyWait(300) },
    );
    await expect(outcome).rejects.toBe(error);
    expect(calls).toBe(1);
  });
});

describe('retry: options', () => {
  it('refuses unknown option names with the peer spelling, by rejecting', async () => {
    const call = (): Promise<unknown> => retry(async () => 1, { retries: 2 } as never);
    let outcome: Promise<unknown> | undefined;
    expect(() => (outcome = call())).not.toThrow();
    await expect(outcome).rejects.toThrow(/^retry\(\): unknown option "retries"; did you mean "maxAttempts"\?/);
    await expect(retry(async () => 1, { minTimeout: 5 } as never)).rejects.toThrow(/did you mean "initialDelayMs"/);
  });

  it('initialDelayMs alone may exceed the default maxDelayMs; two given values that contradict are refused', async () => {
    const controller = new AbortController();
    let calls = 0;
    const outcome = retry(
      async () => {
        calls++;
        throw new Error('flaky');
      },
      { initialDelayMs: 60_000, jitter: 'none', classify: alwaysTransient, signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('stop'));
    await expect(outcome).rejects.toThrow('stop');
    expect(calls).toBe(1);
    await expect(retry(async () => 1, { initialDelayMs: 5_000, maxDelayMs: 1_000 })).rejects.toThrow(RangeError);
  });

  it('treats a classifier that returns undefined or null like one that throws: the error itself, permanent', async () => {
    for (const verdict of [undefined, null]) {
      const error = new Error('the user error');
      let calls = 0;
      const outcome = retry(
        async () => {
          calls++;
          throw error;
        },
        { initialDelayMs: 0, classify: () => verdict as unknown as Verdict },
      );
      await expect(outcome).rejects.toBe(error);
      expect(calls).toBe(1);
    }
  });

  it("keeps the caller's frames in a rejection's async stack with initialDelayMs: 0 and an async fn", async () => {
    async function callerFrameMarker(): Promise<unknown> {
      return await retry(
        async () => {
          await Promise.resolve();
          throw new Error('always');
        },
        { initialDelayMs: 0, maxAttempts: 2, classify: alwaysTransient },
      );
    }
    const error = (await callerFrameMarker().catch((e: unknown) => e)) as Error;
    expect(error.stack).toContain('callerFrameMarker');
  });

  it('puts at most three frames of its own between fn and the caller in what fn throws, on every path', async () => {
    // fn is called from the loop's frames, not from inside a promise executor: a shorter stack
    // to read, and less heap for a pending retry that keeps the error as its last one.
    for (const options of [{}, { signal: new AbortController().signal }, { attemptTimeoutMs: 60_000 }, { deadlineMs: 60_000 }]) {
      let stack = '';
      function attemptFrameMarker({ attempt }: { attempt: number }): Promise<string> {
        if (attempt === 1) {
          const error = new Error('first');
          stack = error.stack ?? '';
          throw error;
        }
        return Promise.resolve('ok');
      }
      function callerFrameMarker(): Promise<string> {
        return retry(attemptFrameMarker, { initialDelayMs: 0, classify: alwaysTransient, ...options });
      }
      await expect(callerFrameMarker()).resolves.toBe('ok');
      const frames = stack.split('\n').slice(1);
      const from = frames.findIndex((f) => f.includes('attemptFrameMarker'));
      const to = frames.findIndex((f) => f.includes('callerFrameMarker'));
      expect(from, stack).toBe(0);
      const between = frames.slice(from + 1, to);
      expect(to, stack).toBeGreaterThan(from);
      expect(between.length, `${JSON.stringify(options)}\n${stack}`).toBeLessThanOrEqual(3);
      expect(between.join('\n')).not.toContain('new Promise');
    }
  });
});
