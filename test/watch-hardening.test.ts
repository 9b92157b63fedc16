/**
 * watchWithFallback against what an attack review and a contract review found (issues 10 and
 * 14), on the real file system with real inotify: attribute changes that are no news, paths
 * changed while the watch was being rebuilt, and directories replaced while the watch arms.
 * Negative checks ("no run for X") wait for a positive signal first (test/support/barrier.ts).
 */
import { chmod, mkdir, mkdtemp, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchWithFallback, type WakeContext, type WatchOptions } from 'ridethrough/watch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { throughBarrier } from './support/barrier.js';
import { pollUntil } from './support/poll.js';

const HOUR = 3_600_000;

let base: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ridethrough-watch-hardening-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(base, { recursive: true, force: true });
});

interface Run {
  readonly reason: WakeContext['reason'];
  readonly paths: readonly string[];
}

function record(paths: string[], options: WatchOptions = {}) {
  const runs: Run[] = [];
  const watcher = watchWithFallback(paths, ({ reason, paths: concerned }) => void runs.push({ reason, paths: concerned }), {
    intervalMs: HOUR,
    debounceMs: 20,
    retry: { initialDelayMs: 50, maxDelayMs: 200, jitter: 'none' },
    ...options,
  });
  cleanups.push(() => watcher.close());
  return { runs, watcher };
}

describe('attribute changes are no news (issue 14)', () => {
  it('a chmod or utimes of a watched directory wakes nothing', async () => {
    const dir = join(base, 'conf.d');
    const barrier = join(base, 'barrier');
    await mkdir(dir);
    await writeFile(barrier, '0');
    const { runs, watcher } = record([dir, barrier]);
    await watcher.ready;
    await pollUntil(() => runs.length === 1, 'the start run');
    for (let i = 0; i < 20; i++) {
      await chmod(dir, i % 2 === 0 ? 0o700 : 0o755);
      await utimes(dir, new Date(), new Date());
    }
    const seen = await throughBarrier(runs, barrier, 1);
    expect(seen.filter((run) => run.paths.includes(dir))).toEqual([]);
    expect(watcher.mode).toBe('watching');
    // Content still wakes it.
    await writeFile(join(dir, 'a.conf'), 'x');
    await pollUntil(() => runs.some((run) => run.paths.includes(dir)), 'the run for a new file in the directory');
  });

  it('a chmod of a watched file wakes nothing; a write does', async () => {
    const file = join(base, 'tls.key');
    const barrier = join(base, 'barrier');
    await writeFile(file, 'k1');
    await writeFile(barrier, '0');
    const { runs, watcher } = record([file, barrier]);
    await watcher.ready;
    await pollUntil(() => runs.length === 1, 'the start run');
    for (let i = 0; i < 20; i++) await chmod(file, i % 2 === 0 ? 0o600 : 0o640);
    const seen = await throughBarrier(runs, barrier, 1);
    expect(seen.filter((run) => run.paths.includes(file))).toEqual([]);
    await writeFile(file, 'k2');
    await pollUntil(() => runs.some((run) => run.paths.includes(file)), 'the run for the write');
  });

  it('a watched directory removed and recreated under its name is still news', async () => {
    const dir = join(base, 'conf.d');
    await mkdir(dir);
    const { runs, watcher } = record([dir]);
    await watcher.ready;
    await pollUntil(() => runs.length === 1, 'the start run');
    await rm(dir, { recursive: true });
    await mkdir(dir); // same inode number on ext4, new birth time
    await pollUntil(() => runs.some((run) => run.reason === 'change'), 'the run for the replaced directory');
    await pollUntil(() => watcher.mode === 'watching', 'the watch re-armed on the new directory');
    const before = runs.length;
    await writeFile(join(dir, 'a.conf'), 'x');
    await pollUntil(() => runs.length > before, 'the run for a file in the new directory');
  });
});

describe('paths changed while the watch is rebuilt (issue 10)', () => {
  /**
   * Watches [a, b] and removes b, which makes the directory watch rebuild; then, at a moving
   * offset into that rebuild, does `second` to a, and expects runs naming a (and b when `expectB`).
   */
  async function duringRebuild(removeB: (b: string) => Promise<void>, second: (a: string) => Promise<void>, expectB: boolean): Promise<void> {
    for (let offsetMs = 0; offsetMs <= 40; offsetMs += 1) {
      const dir = await mkdtemp(join(base, `round-${offsetMs}-`));
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      await writeFile(a, 'a');
      await writeFile(b, 'b');
      const { runs, watcher } = record([a, b], { debounceMs: 5 });
      await watcher.ready;
      await pollUntil(() => runs.length === 1, 'the start run');
      await removeB(b);
      await new Promise((resolve) => setTimeout(resolve, offsetMs));
      await second(a);
      const reported = (): Set<string> => new Set(runs.slice(1).flatMap((run) => run.paths));
      await pollUntil(() => reported().has(a) && (!expectB || reported().has(b)), `runs naming a${expectB ? ' and b' : ''} (${offsetMs} ms after b went)`, 5_000);
      await watcher.close();
    }
  }

  it('reports every deleted path, whenever during the rebuild the second goes', async () => {
    await duringRebuild(unlink, unlink, true);
  });

  it('reports an in-place write made while the directory watch is rebuilt', async () => {
    await duringRebuild((b) => rename(b, `${b}.moved`), (a) => writeFile(a, 'a2'), false);
  });
});

describe('a watch that says watching holds a watch (issue 14, item 9)', () => {
  it('after its directory is replaced hundreds of times, a later write is still seen', async () => {
    const parent = join(base, 'volume');
    await mkdir(parent);
    const dir = join(parent, 'dir');
    const file = join(dir, 'token');
    for (let round = 0; round < 10; round++) {
      await mkdir(dir, { recursive: true });
      await writeFile(file, 'v0');
      const { runs, watcher } = record([file], { debounceMs: 0 });
      await watcher.ready;
      for (let i = 0; i < 300; i++) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir);
        await writeFile(file, `v${i}`);
      }
      await pollUntil(() => watcher.mode === 'watching', 'the watch re-armed', 10_000);
      // Quiet: let the re-arm settle, then a write must wake it (the timer is an hour away).
      await new Promise((resolve) => setTimeout(resolve, 300));
      await pollUntil(() => watcher.mode === 'watching', 'the watch re-armed', 10_000);
      const before = runs.length;
      await writeFile(file, 'final');
      await pollUntil(() => runs.length > before, `a run for the write after the replacements (round ${round})`, 5_000);
      await watcher.close();
    }
  }, 120_000);
});
