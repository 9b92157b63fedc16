/**
 * Issue 10 for watch: `await using` closes a watcher and a live config, and what a reporting hook
 * (`onError`, `onModeChange`) throws or rejects with is published on watch:hook-error, never
 * unhandled, and never stops the watcher.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnosticsChannels, type HookErrorEvent } from 'ridethrough';
import { liveConfig, watchWithFallback, type Watcher } from 'ridethrough/watch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pollUntil } from './support/poll.js';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ridethrough-watch-contract-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('Symbol.asyncDispose', () => {
  it('closes a watcher at the end of its `await using` block', async () => {
    let kept: Watcher | undefined;
    {
      await using watcher = watchWithFallback(join(base, 'a'), () => undefined, { intervalMs: 3_600_000 });
      kept = watcher;
      await watcher.ready;
      expect(watcher.mode).not.toBe('closed');
    }
    expect(kept.mode).toBe('closed');
  });

  it('closes a live config at the end of its `await using` block', async () => {
    const file = join(base, 'config.json');
    await writeFile(file, '{"replicas":3}');
    let mode: string | undefined;
    let closed: { readonly mode: string } | undefined;
    {
      await using config = await liveConfig(file, { parse: (text) => JSON.parse(text) as unknown, intervalMs: 3_600_000 });
      expect(config.current).toEqual({ replicas: 3 });
      mode = config.mode;
      closed = config;
    }
    expect(mode).not.toBe('closed');
    expect(closed.mode).toBe('closed');
  });
});

describe('reporting hooks', () => {
  it('publishes what onError and onModeChange throw or reject with; the watcher goes on; nothing unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    const published: HookErrorEvent[] = [];
    const listener = (message: unknown): void => void published.push(message as HookErrorEvent);
    diagnostics_channel.subscribe(diagnosticsChannels.watch.hookError, listener);
    try {
      let runs = 0;
      // A missing parent directory the watcher cannot watch: timer-only mode (onModeChange)
      // with the watch error reported (onError), both hooks throwing and rejecting.
      const watcher = watchWithFallback(join(base, 'missing', 'deeper', 'file'), () => {
        // The first run fails, so onError is called with source 'wake'.
        if (++runs === 1) throw new Error('task failed');
      }, {
        intervalMs: 20,
        retry: { initialDelayMs: 10, maxDelayMs: 20 },
        onError: async () => {
          throw new Error('log sink down (async)');
        },
        onModeChange: () => {
          throw new Error('metrics sink down');
        },
      });
      await watcher.ready;
      await pollUntil(() => runs >= 3, 'the timer to keep running the task');
      watcher.wake();
      await watcher.close();
      await pollUntil(
        () => published.some((e) => e.hook === 'onModeChange') && published.some((e) => e.hook === 'onError'),
        'both hooks\' errors on hook-error',
      );
      for (const event of published) expect(Object.isFrozen(event)).toBe(true);
      const errors = published.map((e) => `${e.hook}: ${(e.error as Error).message}`);
      expect(errors).toContain('onModeChange: metrics sink down');
      expect(errors).toContain('onError: log sink down (async)');
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      diagnostics_channel.unsubscribe(diagnosticsChannels.watch.hookError, listener);
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    }
  });
});
