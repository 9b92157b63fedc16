/**
 * watchWithFallback and liveConfig under adversarial timing: wakes and closes at awkward moments
 * (before the first arm, during a run, during a re-arm), throwing user callbacks, and what is left
 * behind afterwards. Real file system and inotify; every wait is bounded in seconds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { liveConfig, watchWithFallback, type Watcher } from 'ridethrough/watch';
import { witnessed } from './support/barrier.js';
import { pollUntil } from './support/poll.js';

const HOUR = 3_600_000;

let dir: string;
let file: string;
const watchers: Watcher[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-watch-races-'));
  file = join(dir, 'token');
  await writeFile(file, 'v1');
});

afterEach(async () => {
  for (const watcher of watchers.splice(0)) await watcher.close();
  await rm(dir, { recursive: true, force: true });
});

/** Timers and handles (file system requests come and go with any I/O, vitest's own included). */
function handles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => !r.startsWith('FSReq'));
}

/** Asserts that no kind of handle is more numerous than in `before`. */
function expectNoMoreThan(before: string[]): void {
  const count = (list: string[], kind: string): number => list.filter((r) => r === kind).length;
  const after = handles();
  for (const kind of new Set([...after, ...before])) expect(count(after, kind), kind).toBeLessThanOrEqual(count(before, kind));
}

describe('timers', () => {
  it('a wake() before the first arm with runOnStart: false leaves no timer behind after close()', async () => {
    await new Promise(setImmediate);
    const before = handles();
    const reasons: string[] = [];
    const watcher = watchWithFallback(file, ({ reason }) => void reasons.push(reason), { runOnStart: false, intervalMs: HOUR });
    watchers.push(watcher);
    watcher.wake(); // runs while the watch is being armed, and schedules the next timer
    await watcher.ready;
    await pollUntil(() => reasons.length === 1, 'the manual run');
    await watcher.close();
    expect(reasons).toEqual(['manual']);
    expectNoMoreThan(before);
  });
});

describe('liveConfig', () => {
  it('rejects with the signal reason, leaving nothing behind, when aborted while the watch is being armed', async () => {
    await new Promise(setImmediate);
    const before = handles();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const loading = liveConfig(file, {
      intervalMs: HOUR,
      // The first arm reports 'watching' before liveConfig can resolve: abort right then.
      onModeChange: ({ mode }) => {
        if (mode === 'watching') controller.abort(reason);
      },
      signal: controller.signal,
    });
    await expect(loading).rejects.toBe(reason);
    await new Promise(setImmediate);
    expectNoMoreThan(before);
  });
});

describe('closing from inside onWake', () => {
  it('close() called (not awaited) by the run itself resolves once that run returns, and nothing runs again', async () => {
    await new Promise(setImmediate);
    const before = handles();
    const reasons: string[] = [];
    let closing: Promise<void> | undefined;
    let returned = false;
    let abortedInRun = false;
    const watcher = watchWithFallback(
      file,
      async ({ reason, signal }) => {
        reasons.push(reason);
        closing = watcher.close(); // as the docs say: call it, do not await it here
        abortedInRun = signal.aborted;
        await new Promise((resolve) => setTimeout(resolve, 20));
        returned = true;
      },
      { intervalMs: HOUR, debounceMs: 0 },
    );
    await pollUntil(() => closing !== undefined, 'the run to call close()');
    await closing;
    expect(returned).toBe(true);
    expect(abortedInRun).toBe(true);
    expect(watcher.mode).toBe('closed');
    watcher.wake();
    await witnessed(file, () => writeFile(file, 'v2'), 0);
    expect(reasons).toEqual(['start']);
    expectNoMoreThan(before);
  });
});

describe('a random option that throws', () => {
  it('does not break the timer schedule', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ridethrough-random-'));
    const file = join(dir, 'token');
    await writeFile(file, 'v1');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let runs = 0;
    const watcher = watchWithFallback(file, () => void runs++, {
      intervalMs: 20,
      jitter: 0.5,
      random: () => {
        throw new Error('random broke');
      },
    });
    try {
      await pollUntil(() => runs >= 3, 'three timer runs');
    } finally {
      await watcher.close();
      process.off('unhandledRejection', onUnhandled);
      await rm(dir, { recursive: true, force: true });
    }
    expect(unhandled).toEqual([]);
  });
});
