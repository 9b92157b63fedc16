/**
 * The contract of issue 10 and the hangs of issue 14 (item 5) for the readers: every callback
 * throws and rejects and nothing reaches the host; a FIFO is refused at once, with no thread of
 * the pool left blocked in open(). And their argument errors, word for word: both readers check
 * their options with the same code (files/options.ts), each in its own order, and take every
 * option of `retry` (retry/options.ts), `maxRetryAfterMs` included.
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
import { RETRY_OPTIONS } from '../src/retry/options.js';

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

describe('the readers\' argument errors, word for word', () => {
  const message = (promise: Promise<unknown>): Promise<string> =>
    promise.then(
      () => 'resolved',
      (error: Error) => `${error.constructor.name}: ${error.message}`,
    );
  const one = (options: unknown): Promise<string> => message(readFileWithRetry(join(dir, 'f'), options as never));
  const many = (options: unknown): Promise<string> => message(readFilesWithRetry({ cert: join(dir, 'f') }, options as never));

  // [options, readFileWithRetry's message, readFilesWithRetry's message ('' when the same with the other name)]
  const table: [unknown, string, string][] = [
    [5, 'TypeError: readFileWithRetry(): options must be an object, got 5', ''],
    [[], 'TypeError: readFileWithRetry(): options must be an object, got an array', ''],
    [{ retries: 2 }, 'TypeError: readFileWithRetry(): unknown option "retries"; did you mean "maxAttempts"? It counts calls, the first one included (retries: 2 is maxAttempts: 3)', ''],
    [{ encodng: 'utf8' }, 'TypeError: readFileWithRetry(): unknown option "encodng"; did you mean "encoding"?', '(unknown option)'],
    [{ encoding: 'nope' }, `RangeError: readFileWithRetry(): option "encoding" must be a Buffer encoding such as 'utf8', got "nope"`, '(unknown option)'],
    [{ encoding: 5 }, `TypeError: readFileWithRetry(): option "encoding" must be a Buffer encoding such as 'utf8', got 5`, '(unknown option)'],
    [{ parse: 'JSON' }, 'TypeError: readFileWithRetry(): option "parse" must be a function, got "JSON"', ''],
    [{ allowEmpty: 'no' }, 'TypeError: readFileWithRetry(): option "allowEmpty" must be a boolean, got "no"', ''],
    [{ classify: {} }, 'TypeError: readFileWithRetry(): option "classify" must be a function, got an object', ''],
    [{ name: 7 }, 'TypeError: readFileWithRetry(): option "name" must be a string, got 7', ''],
    [{ onRetry: 1 }, 'TypeError: readFileWithRetry(): option "onRetry" must be a function, got 1', ''],
    [{ onRecovered: 'x' }, 'TypeError: readFileWithRetry(): option "onRecovered" must be a function, got "x"', ''],
    [{ maxAttempts: 0 }, 'RangeError: retry(): option "maxAttempts" must be an integer >= 1, got 0', 'RangeError: retry(): option "maxAttempts" must be an integer >= 1, got 0'],
    [{ deadlineMs: -1 }, 'RangeError: retry(): option "deadlineMs" must be a finite number > 0 and <= 2147483647, got -1', 'RangeError: retry(): option "deadlineMs" must be a finite number > 0 and <= 2147483647, got -1'],
    [{ initialDelayMs: 10_000, maxDelayMs: 5 }, 'RangeError: retry(): option "initialDelayMs" (10000) must not exceed "maxDelayMs" (5)', 'RangeError: retry(): option "initialDelayMs" (10000) must not exceed "maxDelayMs" (5)'],
    [{ clock: {} }, 'TypeError: retry(): option "clock" must be an object with now(), sleep(), got an object', 'TypeError: readFilesWithRetry(): option "clock" must be an object with now(), sleep(), got an object'],
    // With two bad options each reader reports the first in its own order, as before.
    [{ parse: 1, name: 2 }, 'TypeError: readFileWithRetry(): option "parse" must be a function, got 1', 'TypeError: readFilesWithRetry(): option "name" must be a string, got 2'],
    [{ allowEmpty: 1, onRetry: 2 }, 'TypeError: readFileWithRetry(): option "allowEmpty" must be a boolean, got 1', 'TypeError: readFilesWithRetry(): option "onRetry" must be a function, got 2'],
    [{ encoding: 5, parse: 1 }, `TypeError: readFileWithRetry(): option "encoding" must be a Buffer encoding such as 'utf8', got 5`, '(unknown option)'],
    [{ clock: 1, parse: 1 }, 'TypeError: readFileWithRetry(): option "parse" must be a function, got 1', 'TypeError: readFilesWithRetry(): option "parse" must be a function, got 1'],
    [{ clock: 1, maxAttempts: 0 }, 'RangeError: retry(): option "maxAttempts" must be an integer >= 1, got 0', 'TypeError: readFilesWithRetry(): option "clock" must be an object with now(), sleep(), got 1'],
  ];

  /** The list an unknown option that resembles none is answered with: every retry option (`name` last), then the reader's own. */
  const known = (own: string[]): string => [...[...RETRY_OPTIONS].filter((n) => n !== 'name'), ...own, 'parse', 'allowEmpty', 'name'].join(', ');

  it.each(table)('%j', async (options, ofOne, ofMany) => {
    expect(await one(options)).toBe(ofOne);
    const unknown = `TypeError: readFilesWithRetry(): unknown option "${Object.keys(options as object)[0]}"; known options: ${known([])}`;
    expect(await many(options)).toBe(ofMany === '' ? ofOne.replace('readFileWithRetry()', 'readFilesWithRetry()') : ofMany === '(unknown option)' ? unknown : ofMany);
  });

  it('lists every option of retry, maxRetryAfterMs included, for an unknown option that resembles none', async () => {
    expect(await one({ zzz: 1 })).toBe(`TypeError: readFileWithRetry(): unknown option "zzz"; known options: ${known(['encoding'])}`);
    expect(await many({ zzz: 1 })).toBe(`TypeError: readFilesWithRetry(): unknown option "zzz"; known options: ${known([])}`);
    expect(known([])).toContain('attemptTimeoutMs, maxRetryAfterMs, signal');
  });

  it('passes maxRetryAfterMs on to retry: a server wait beyond it gives up at once with the last error', async () => {
    // A classifier that says "transient, but come back in a minute", as a Retry-After would.
    const classify = (): { kind: 'transient'; reason: string; retryAfterMs: number } => ({ kind: 'transient', reason: 'busy', retryAfterMs: 60_000 });
    const started = performance.now();
    await expect(readFileWithRetry(join(dir, 'missing'), { classify, maxRetryAfterMs: 1_000 })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFilesWithRetry({ cert: join(dir, 'missing') }, { classify, maxRetryAfterMs: 1_000 })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
