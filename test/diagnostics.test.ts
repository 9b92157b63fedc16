/**
 * The promise of src/shared/diagnostics.ts: an event nobody subscribes to is never published
 * (no message is built). Every primitive is exercised with no subscriber, and publish() must not
 * be reached (an unsubscribed channel is a plain Channel, so an unguarded publish would hit the spy).
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile, diagnosticsChannels, readinessGate, retry, subscribe, watchWithFallback, type Verdict } from 'ridethrough';
import { afterEach, describe, expect, it, vi } from 'vitest';

const transient = (): Verdict => ({ kind: 'transient', reason: 'test' });

async function exerciseEveryPrimitive(dir: string): Promise<void> {
  let calls = 0;
  await retry(
    async () => {
      if (++calls < 2) throw new Error('once');
      return calls;
    },
    { initialDelayMs: 0, classify: transient },
  );
  await retry(async () => Promise.reject(new Error('always')), { maxAttempts: 2, initialDelayMs: 0, classify: transient }).catch(() => {});
  await atomicWriteFile(join(dir, 'config'), 'v1');
  const gate = readinessGate({ checks: { ok: () => true } });
  await gate.evaluate(undefined);
  gate.drain();
  const file = join(dir, 'token');
  await writeFile(file, 'v1');
  let woke!: () => void;
  const started = new Promise<void>((resolve) => (woke = resolve));
  const watcher = watchWithFallback(file, () => woke(), { intervalMs: 60_000 });
  await started;
  await watcher.close();
}

describe('diagnostics channels', () => {
  afterEach(() => vi.restoreAllMocks());

  it('publish nothing when nobody subscribes, and deliver once someone does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ridethrough-diagnostics-'));
    const publish = vi.spyOn(diagnostics_channel.Channel.prototype, 'publish');
    try {
      await exerciseEveryPrimitive(dir);
      expect(publish).not.toHaveBeenCalled();

      const received: unknown[] = [];
      const listener = (message: unknown): void => void received.push(message);
      diagnostics_channel.subscribe(diagnosticsChannels.retry.recovered, listener);
      try {
        await exerciseEveryPrimitive(dir);
      } finally {
        diagnostics_channel.unsubscribe(diagnosticsChannels.retry.recovered, listener);
      }
      expect(received).toEqual([expect.objectContaining({ attempts: 2 })]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('subscribe()', () => {
  it('delivers the frozen events of one channel until unsubscribed, then none', async () => {
    const seen: Array<{ attempt: number; name: string | undefined; frozen: boolean }> = [];
    const unsubscribe = subscribe('ridethrough:retry:retry', (event) => {
      seen.push({ attempt: event.attempt, name: event.name, frozen: Object.isFrozen(event) });
    });
    const flaky = (): ((context: { attempt: number }) => Promise<string>) => async ({ attempt }) => {
      if (attempt < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      return 'ok';
    };
    await retry(flaky(), { initialDelayMs: 0, name: 'fetch-pod' });
    expect(seen).toEqual([
      { attempt: 1, name: 'fetch-pod', frozen: true },
      { attempt: 2, name: 'fetch-pod', frozen: true },
    ]);
    unsubscribe();
    await retry(flaky(), { initialDelayMs: 0 });
    expect(seen).toHaveLength(2);
  });

  it('refuses what is not a ridethrough channel or not a handler, at the call', () => {
    expect(() => subscribe('http.client.request.start' as never, () => undefined)).toThrow(
      new TypeError('subscribe(): "channel" must be a ridethrough channel name, got "http.client.request.start"'),
    );
    expect(() => subscribe('ridethrough:retry:retry', 'log' as never)).toThrow(/"handler" must be a function, got "log"/);
  });
});
