/**
 * retry()'s tracing channels, as an APM sees them: `ridethrough:retry` around the call and
 * `ridethrough:retry:attempt` around each attempt, on each of the loop's paths (a plain call, a
 * call with a signal, an attempt time limit), with the stores bound to `start` visible inside fn.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { tracingChannel } from 'node:diagnostics_channel';
import { retry, tracingChannels, type AttemptTraceContext, type RetryTraceContext, type Verdict } from 'ridethrough';
import { afterEach, describe, expect, it } from 'vitest';

const transient = (): Verdict => ({ kind: 'transient', reason: 'flaky' });
const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

type Seen = Array<[string, string, Record<string, unknown>]>;
const subscriptions: Array<() => void> = [];
afterEach(() => {
  for (const unsubscribe of subscriptions.splice(0)) unsubscribe();
});

/** Records every event of both channels, with a copy of the context as it was then. */
function record(): Seen {
  const seen: Seen = [];
  for (const [label, name] of [
    ['call', tracingChannels.retry],
    ['attempt', tracingChannels.retryAttempt],
  ] as const) {
    const handlers = Object.fromEntries(
      EVENTS.map((event) => [event, (context: object) => void seen.push([label, event, { ...context }])]),
    ) as unknown as Parameters<ReturnType<typeof tracingChannel>['subscribe']>[0];
    tracingChannel(name).subscribe(handlers);
    subscriptions.push(() => tracingChannel(name).unsubscribe(handlers));
  }
  return seen;
}

function failsOnce(error: Error): () => Promise<string> {
  let calls = 0;
  return async () => {
    if (++calls === 1) throw error;
    return 'ok';
  };
}

describe('retry tracing channels', () => {
  for (const [path, options] of [
    ['a plain call', {}],
    ['a call with a signal (raced attempts)', { signal: new AbortController().signal }],
    ['a call with attemptTimeoutMs', { attemptTimeoutMs: 60_000 }],
  ] as const) {
    it(`traces the call and each attempt on ${path}`, async () => {
      const seen = record();
      const boom = new Error('reset');
      await expect(retry(failsOnce(boom), { name: 'fetch-pod', initialDelayMs: 0, classify: transient, ...options })).resolves.toBe('ok');

      const call = seen.filter(([label]) => label === 'call');
      expect(call.map(([, event]) => event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
      expect(call[0]![2]).toMatchObject({ name: 'fetch-pod' });
      expect(call[3]![2]).toMatchObject({ name: 'fetch-pod', attempts: 2, result: 'ok', verdict: { kind: 'transient', reason: 'flaky' } });

      const attempts = seen.filter(([label]) => label === 'attempt');
      expect(attempts.map(([, event, context]) => `${event}:${String(context.attempt)}`)).toEqual([
        'start:1',
        'end:1',
        'error:1',
        'asyncStart:1',
        'asyncEnd:1',
        'start:2',
        'end:2',
        'asyncStart:2',
        'asyncEnd:2',
      ]);
      expect(attempts[2]![2].error).toBe(boom);
      expect(attempts[8]![2]).toMatchObject({ name: 'fetch-pod', attempt: 2, result: 'ok' });
      // Every attempt event falls between the call's start and its asyncEnd.
      expect(seen[0]).toEqual(['call', 'start', expect.anything()]);
      expect(seen.at(-1)).toEqual(['call', 'asyncEnd', expect.anything()]);
    });
  }

  it('publishes error on the call with the attempts made and the last verdict when it gives up', async () => {
    const seen = record();
    const boom = new Error('still down');
    await expect(retry(async () => Promise.reject(boom), { maxAttempts: 3, initialDelayMs: 0, classify: transient })).rejects.toBe(boom);
    const error = seen.find(([label, event]) => label === 'call' && event === 'error');
    expect(error?.[2]).toMatchObject({ attempts: 3, error: boom, verdict: { reason: 'flaky' } });
    expect(seen.filter(([label, event]) => label === 'attempt' && event === 'error')).toHaveLength(3);
  });

  it('traces a timed-out attempt with its TimeoutError', async () => {
    const seen = record();
    let calls = 0;
    const value = await retry(
      () => (++calls === 1 ? new Promise<string>(() => {}) : Promise.resolve('second')),
      { attemptTimeoutMs: 20, initialDelayMs: 0 },
    );
    expect(value).toBe('second');
    const error = seen.find(([label, event]) => label === 'attempt' && event === 'error');
    expect((error?.[2].error as Error).name).toBe('TimeoutError');
  });

  it('runs fn inside the stores bound to the start events, as an APM binds its span context', async () => {
    const callStore = new AsyncLocalStorage<string>();
    const attemptStore = new AsyncLocalStorage<number>();
    const call = tracingChannel<unknown, RetryTraceContext>(tracingChannels.retry);
    const attempt = tracingChannel<unknown, AttemptTraceContext>(tracingChannels.retryAttempt);
    call.start.bindStore(callStore, (context) => `call:${context.name}`);
    attempt.start.bindStore(attemptStore, (context) => context.attempt);
    subscriptions.push(
      () => call.start.unbindStore(callStore),
      () => attempt.start.unbindStore(attemptStore),
    );
    const inside: Array<[string | undefined, number | undefined]> = [];
    const fn = failsOnce(new Error('reset'));
    await retry(
      async () => {
        inside.push([callStore.getStore(), attemptStore.getStore()]);
        return fn();
      },
      { name: 'ca-bundle', initialDelayMs: 0, classify: transient },
    );
    expect(inside).toEqual([
      ['call:ca-bundle', 1],
      ['call:ca-bundle', 2],
    ]);
  });
});
