/**
 * The contract of issue 10 and the hangs of issue 14 (item 5) for the readers: every callback
 * throws and rejects and nothing reaches the host; a FIFO is refused at once, with no thread of
 * the pool left blocked in open().
 */
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diagnosticsChannels, type HookErrorEvent } from 'ridethrough';
import { readFilesWithRetry, readFileWithRetry } from 'ridethrough/files';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-contract-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Collects what reaches the host while `body` runs, and a little after. */
async function countEscapes(body: () => Promise<void>): Promise<{ unhandled: unknown[]; uncaught: unknown[] }> {
  const unhandled: unknown[] = [];
  const uncaught: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUncaught);
  try {
    await body();
    // Rejections are reported after the microtask queue drains: give them two turns of the loop.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise(setImmediate);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUncaught);
  }
  return { unhandled, uncaught };
}

function hookErrors(): { events: HookErrorEvent[]; stop: () => void } {
  const events: HookErrorEvent[] = [];
  const listener = (message: unknown) => events.push(message as HookErrorEvent);
  subscribe(diagnosticsChannels.files.hookError, listener);
  return { events, stop: () => unsubscribe(diagnosticsChannels.files.hookError, listener) };
}

describe('every callback throws or rejects: nothing reaches the host', () => {
  for (const style of ['throw', 'reject'] as const) {
    it(`readFileWithRetry and readFilesWithRetry, hooks that ${style}`, async () => {
      const bad = (label: string) => (style === 'throw' ? () => { throw new Error(label); } : () => Promise.reject(new Error(label)));
      const file = join(dir, 'f');
      const errors = hookErrors();
      let parses = 0;
      const escapes = await countEscapes(async () => {
        setTimeout(() => void writeFile(file, '{"a":1}'), 30);
        const value = await readFileWithRetry(file, {
          name: 'settings',
          initialDelayMs: 5,
          deadlineMs: 10_000,
          onRetry: bad('onRetry'),
          onRecovered: bad('onRecovered'),
          parse: (text) => {
            if (parses++ === 0) return style === 'throw' ? (() => { throw new Error('parse'); })() : Promise.reject(new Error('parse'));
            return JSON.parse(text) as { a: number };
          },
          classify: () => (style === 'throw' ? (() => { throw new Error('classify'); })() : { kind: 'transient', reason: 'test' }),
        }).catch((error: unknown) => error);
        // A classifier that throws is the classifier's failure, not the host's: the call settles.
        expect(value).toBeDefined();
        await readFilesWithRetry({ f: file }, { name: 'pair', initialDelayMs: 5, deadlineMs: 10_000, onRetry: bad('onRetry'), onRecovered: bad('onRecovered') });
      });
      errors.stop();
      expect(escapes).toEqual({ unhandled: [], uncaught: [] });
      for (const event of errors.events) expect(Object.isFrozen(event)).toBe(true);
      if (style === 'reject') {
        // The reads waited once (the file came late), so onRetry and onRecovered each ran.
        expect(errors.events.map((e) => [e.hook, e.name, (e.error as Error).message])).toEqual(
          expect.arrayContaining([['onRetry', 'settings', 'onRetry'], ['onRecovered', 'settings', 'onRecovered']]),
        );
      }
    });
  }

  it('a hook that rejects does not change the outcome, gets a frozen event carrying name', async () => {
    const file = join(dir, 'g');
    setTimeout(() => void writeFile(file, 'ok'), 30);
    const seen: object[] = [];
    const errors = hookErrors();
    const value = await readFileWithRetry(file, {
      name: 'ca-bundle',
      initialDelayMs: 5,
      deadlineMs: 10_000,
      onRetry: async (event) => {
        seen.push(event);
        throw new Error('log sink down');
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    errors.stop();
    expect(value).toBe('ok');
    expect(seen.length).toBeGreaterThan(0);
    for (const event of seen) {
      expect(Object.isFrozen(event)).toBe(true);
      expect(event).toMatchObject({ name: 'ca-bundle' });
    }
    expect(errors.events[0]).toMatchObject({ hook: 'onRetry', name: 'ca-bundle', error: new Error('log sink down') });
  });
});

describe('a FIFO (issue 14, item 5)', () => {
  it('is refused at once with a clear error by both readers, and no thread is left blocked', async () => {
    const fifo = join(dir, 'config');
    await promisify(execFile)('mkfifo', [fifo]);
    const started = performance.now();
    const one = await readFileWithRetry(fifo, { deadlineMs: 2000 }).catch((error: unknown) => error);
    expect(one).toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/readFileWithRetry\(\): ".*config" is a FIFO; only regular files are read/) });
    const many = await readFilesWithRetry({ config: fifo }, { deadlineMs: 2000 }).catch((error: unknown) => error);
    expect(many).toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/readFilesWithRetry\(\): ".*config" is a FIFO/) });
    // Permanent: refused on the first attempt, not after the deadline.
    expect(performance.now() - started).toBeLessThan(1500);
    // Four more would fill libuv's default pool had the opens blocked: a plain read still completes.
    await Promise.all([1, 2, 3, 4].map(() => readFileWithRetry(fifo, { deadlineMs: 500 }).catch(() => undefined)));
    await writeFile(join(dir, 'plain'), 'x');
    expect(await readFile(join(dir, 'plain'), 'utf8')).toBe('x');
  });
});
