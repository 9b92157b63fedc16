/**
 * watchWithFallback on the real file system with real inotify. Every wait is bounded (seconds,
 * never tight milliseconds); schedules are tested with a fake clock in watch-schedule.test.ts.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FSWatcher } from 'chokidar';
import { diagnosticsChannels } from 'ridethrough';
import { watchWithFallback, type ModeChangeEvent, type WakeContext, type Watcher, type WatchOptions } from 'ridethrough/watch';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeletVolume } from 'ridethrough/testing';
import { throughBarrier, witnessed } from './support/barrier.js';
import { pollUntil } from './support/poll.js';

const HOUR = 3_600_000;

let base: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ridethrough-watch-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(base, { recursive: true, force: true });
  vi.restoreAllMocks();
});

/** Polls `condition` with real timers until it holds, for at most `timeoutMs`. */
interface Recorded {
  reason: WakeContext['reason'];
  paths: readonly string[];
  content: string | undefined;
}

/** Starts a watcher that records every run, the content of `readPath` as the run saw it, and errors. */
function record(paths: string | string[], readPath: string | undefined, options: WatchOptions = {}) {
  const runs: Recorded[] = [];
  const errors: Array<{ error: unknown; source: string }> = [];
  const modes: ModeChangeEvent[] = [];
  let active = 0;
  let maxActive = 0;
  const watcher: Watcher = watchWithFallback(
    paths,
    async ({ reason, paths: concerned }) => {
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        const content = readPath === undefined ? undefined : await readFile(readPath, 'utf8').catch(() => undefined);
        runs.push({ reason, paths: concerned, content });
      } finally {
        active--;
      }
    },
    {
      intervalMs: HOUR,
      debounceMs: 20,
      retry: { initialDelayMs: 50, maxDelayMs: 200, jitter: 'none' },
      onError: (error, { source }) => errors.push({ error, source }),
      onModeChange: (event) => modes.push(event),
      ...options,
    },
  );
  cleanups.push(() => watcher.close());
  return {
    watcher,
    runs,
    errors,
    modes,
    maxActive: () => maxActive,
    changes: () => runs.filter((run) => run.reason === 'change'),
  };
}

describe('kubelet volume updates', () => {
  it('wakes once per swap, 25 swaps in a row, with the new content readable in onWake', async () => {
    const volume = await KubeletVolume.create({ token: 'v0', 'ca.crt': 'ca' });
    cleanups.push(() => volume.cleanup());
    const token = volume.path('token');
    const barrier = join(base, 'barrier');
    await writeFile(barrier, '0');
    const w = record([token, barrier], token);
    await w.watcher.ready;
    expect(w.watcher.mode).toBe('watching');
    await pollUntil(() => w.runs.length === 1, 'the start run');
    expect(w.runs[0]).toMatchObject({ reason: 'start', content: 'v0' });

    const swaps = 25;
    for (let i = 1; i <= swaps; i++) {
      await volume.set('token', `v${i}`);
      await pollUntil(() => w.changes().length === i, `the wake for swap ${i}`);
      expect(w.changes()[i - 1]).toEqual({ reason: 'change', paths: [token], content: `v${i}` });
    }
    // Exactly one wake per swap: the timestamped directories coming and going are not news.
    const late = await throughBarrier(w.runs, barrier, w.runs.length);
    expect(late.map((run) => run.paths)).toEqual([[barrier]]);
    expect(w.changes().filter((run) => run.paths.includes(token))).toHaveLength(swaps);
    expect(await volume.timestampDirs()).toHaveLength(1);
    expect(w.errors).toEqual([]);
    expect(w.maxActive()).toBe(1);
  });

  it('sees the last of many back-to-back swaps, never running twice at once', async () => {
    const volume = await KubeletVolume.create({ token: 'v0' });
    cleanups.push(() => volume.cleanup());
    const token = volume.path('token');
    const w = record(token, token);
    await w.watcher.ready;
    for (let i = 1; i <= 40; i++) await volume.set('token', `v${i}`);
    await pollUntil(() => w.runs.at(-1)?.content === 'v40', 'a run that reads the last version');
    expect(w.maxActive()).toBe(1);
    expect(w.watcher.mode).toBe('watching');
  });

  it('watches a whole volume directory, and a key another update adds', async () => {
    const volume = await KubeletVolume.create({ 'app.yaml': 'a: 1' });
    cleanups.push(() => volume.cleanup());
    const w = record(volume.dir, volume.path('app.yaml'));
    await w.watcher.ready;
    await volume.set('app.yaml', 'a: 2');
    await pollUntil(() => w.changes().length === 1, 'the wake for the update');
    expect(w.changes()[0]).toEqual({ reason: 'change', paths: [volume.dir], content: 'a: 2' });
    await volume.set('extra.yaml', 'b: 1');
    await pollUntil(() => w.changes().length === 2, 'the wake for the added key');
    await volume.remove('extra.yaml');
    await pollUntil(() => w.changes().length === 3, 'the wake for the removed key');
    expect(w.errors).toEqual([]);
  });

  it('follows a link from elsewhere into a volume', async () => {
    const volume = await KubeletVolume.create({ 'config.yaml': 'v1' });
    cleanups.push(() => volume.cleanup());
    const etc = join(base, 'etc');
    await mkdir(etc);
    const link = join(etc, 'config.yaml');
    await symlink(volume.path('config.yaml'), link);
    const w = record(link, link);
    await w.watcher.ready;
    await volume.set('config.yaml', 'v2');
    await pollUntil(() => w.changes().at(-1)?.content === 'v2', 'the wake through the link');
    await volume.set('config.yaml', 'v3');
    await pollUntil(() => w.changes().at(-1)?.content === 'v3', 'the second wake through the link');
  });
});

describe('ordinary files', () => {
  it('wakes on in-place writes and appends', async () => {
    const file = join(base, 'config.json');
    await writeFile(file, '{"a":1}');
    const w = record(file, file);
    await w.watcher.ready;
    await writeFile(file, '{"a":2}');
    await pollUntil(() => w.changes().at(-1)?.content === '{"a":2}', 'the wake for the write');
    await appendFile(file, '\n');
    await pollUntil(() => w.changes().at(-1)?.content === '{"a":2}\n', 'the wake for the append');
    expect(w.watcher.mode).toBe('watching');
  });

  it('wakes on a rename over the file, every time', async () => {
    const file = join(base, 'cert.pem');
    await writeFile(file, 'v0');
    const w = record(file, file);
    await w.watcher.ready;
    for (let i = 1; i <= 5; i++) {
      const temp = join(base, `.cert.pem.${i}.tmp`);
      await writeFile(temp, `v${i}`);
      await rename(temp, file);
      await pollUntil(() => w.changes().at(-1)?.content === `v${i}`, `the wake for rename ${i}`);
    }
    expect(w.errors).toEqual([]);
    expect(w.watcher.mode).toBe('watching');
  });

  it('does not wake for other files in the same directory', async () => {
    const file = join(base, 'mine');
    await writeFile(file, 'a');
    await writeFile(join(base, 'other'), 'x');
    const barrier = join(base, 'barrier');
    await writeFile(barrier, '0');
    const w = record([file, barrier], file);
    await w.watcher.ready;
    await pollUntil(() => w.runs.length === 1, 'the start run');
    for (let i = 0; i < 10; i++) await writeFile(join(base, 'other'), `x${i}`);
    await writeFile(join(base, 'new-neighbour'), 'y');
    await rm(join(base, 'new-neighbour'));
    const seen = await throughBarrier(w.runs, barrier, 1);
    expect(seen.map((run) => run.paths)).toEqual([[barrier]]);
    await writeFile(file, 'b');
    await pollUntil(() => w.changes().at(-1)?.content === 'b', 'the wake for the watched file');
    // (A write in place may be seen in two windows, truncation then data: one or two runs.)
    expect(w.changes().slice(1).every((run) => run.paths.length === 1 && run.paths[0] === file)).toBe(true);
  });

  it('follows a symlink to a file in another directory', async () => {
    const real = join(base, 'real');
    await mkdir(real);
    await writeFile(join(real, 'key'), 'k1');
    const link = join(base, 'key-link');
    await symlink(join(real, 'key'), link);
    const w = record(link, link);
    await w.watcher.ready;
    await writeFile(join(real, 'key'), 'k2');
    await pollUntil(() => w.changes().at(-1)?.content === 'k2', 'the wake for the target written in place');
  });

  it('reports only the paths that changed, as they were given', async () => {
    const a = join(base, 'a');
    const b = join(base, 'b');
    await writeFile(a, '1');
    await writeFile(b, '1');
    const w = record([a, b, a], undefined);
    expect(w.watcher.paths).toEqual([a, b]);
    await w.watcher.ready;
    await writeFile(b, '2');
    await pollUntil(() => w.changes().length === 1, 'the wake for b');
    expect(w.changes()[0]!.paths).toEqual([b]);
  });
});

describe('missing paths, removals and watcher failures', () => {
  it('deleting the file goes timer-only; re-creating it goes back to watching and wakes', async () => {
    const file = join(base, 'token');
    await writeFile(file, 'v1');
    const w = record(file, file);
    await w.watcher.ready;
    await rm(file);
    await pollUntil(() => w.watcher.mode === 'timer-only', 'timer-only mode');
    expect(w.errors.map(({ error, source }) => [source, (error as NodeJS.ErrnoException).code])).toContainEqual(['watch', 'ENOENT']);
    await writeFile(file, 'v2');
    await pollUntil(() => w.watcher.mode === 'watching', 'watching again');
    await pollUntil(() => w.changes().at(-1)?.content === 'v2', 'a wake that reads the new file');
    await writeFile(file, 'v3');
    await pollUntil(() => w.changes().at(-1)?.content === 'v3', 'a wake from the re-armed watch');
  });

  it('survives its directory being removed and re-created', async () => {
    const dir = join(base, 'conf');
    const file = join(dir, 'app.yaml');
    await mkdir(dir);
    await writeFile(file, 'v1');
    const w = record(file, file);
    await w.watcher.ready;
    await rm(dir, { recursive: true });
    await pollUntil(() => w.watcher.mode === 'timer-only', 'timer-only mode');
    await mkdir(dir);
    await writeFile(file, 'v2');
    await pollUntil(() => w.watcher.mode === 'watching', 'watching again');
    await pollUntil(() => w.changes().at(-1)?.content === 'v2', 'a wake that reads the new directory');
    await writeFile(file, 'v3');
    await pollUntil(() => w.changes().at(-1)?.content === 'v3', 'a wake from the new directory watch');
  });

  it('re-arms when the directory is replaced faster than the debounce', async () => {
    const dir = join(base, 'conf');
    const file = join(dir, 'app.yaml');
    await mkdir(dir);
    await writeFile(file, 'v1');
    const w = record(file, file, { debounceMs: 50 });
    await w.watcher.ready;
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await writeFile(file, 'v2');
    await pollUntil(() => w.changes().at(-1)?.content === 'v2', 'a wake after the replacement');
    // The old directory's inotify watch is dead; only a rebuilt watch sees this.
    await writeFile(file, 'v3');
    await pollUntil(() => w.changes().at(-1)?.content === 'v3', 'a wake from the rebuilt watch');
    expect(w.watcher.mode).toBe('watching');
  });

  it('a path that appears only after start: timer-only, then watching, and a wake', async () => {
    const file = join(base, 'later', 'deeper', 'token');
    const w = record(file, file);
    await w.watcher.ready;
    expect(w.watcher.mode).toBe('timer-only');
    await pollUntil(() => w.runs.length === 1, 'the start run');
    expect(w.runs[0]).toMatchObject({ reason: 'start', content: undefined });
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]!.source).toBe('watch');
    expect((w.errors[0]!.error as NodeJS.ErrnoException).code).toBe('ENOENT');

    await mkdir(join(base, 'later', 'deeper'), { recursive: true });
    await writeFile(file, 'hello');
    await pollUntil(() => w.watcher.mode === 'watching', 'watching mode');
    await pollUntil(() => w.changes().at(-1)?.content === 'hello', 'the wake for the new file');
    expect(w.modes.map(({ previous, mode }) => `${previous}->${mode}`)).toEqual(['timer-only->watching']);
    // The same missing path is reported once, not at every re-arm attempt.
    expect(w.errors).toHaveLength(1);
  });

  it('a watcher error falls back to the timer, is reported, and recovers', async () => {
    const instances: FSWatcher[] = [];
    const add = FSWatcher.prototype.add;
    vi.spyOn(FSWatcher.prototype, 'add').mockImplementation(function (this: FSWatcher, ...args) {
      instances.push(this);
      return add.apply(this, args);
    });
    const file = join(base, 'token');
    await writeFile(file, 'v1');
    const w = record(file, file);
    await w.watcher.ready;
    expect(w.watcher.mode).toBe('watching');
    const failure = Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), {
      code: 'ENOSPC',
      syscall: 'watch',
    });
    instances.at(-1)!.emit('error', failure);
    expect(w.watcher.mode).toBe('timer-only');
    expect(w.errors).toEqual([{ error: failure, source: 'watch' }]);
    expect(w.modes.at(-1)).toMatchObject({ previous: 'watching', mode: 'timer-only', error: failure });

    await pollUntil(() => w.watcher.mode === 'watching', 'recovery');
    expect(instances.length).toBeGreaterThanOrEqual(2);
    await writeFile(file, 'v2');
    await pollUntil(() => w.changes().at(-1)?.content === 'v2', 'a wake from the new watch');
  });
});

describe('runs', () => {
  /** A watcher whose task takes a while and records what each 'change' run read. */
  async function slowTask(file: string, barrier = join(base, 'barrier')) {
    await writeFile(barrier, '0');
    const state = { active: 0, maxActive: 0, contents: [] as string[], runs: [] as Array<{ paths: readonly string[] }> };
    const watcher = watchWithFallback(
      [file, barrier],
      async ({ reason, paths }) => {
        state.active++;
        state.maxActive = Math.max(state.maxActive, state.active);
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (reason === 'change' && paths.includes(file)) state.contents.push(await readFile(file, 'utf8'));
        state.runs.push({ paths });
        state.active--;
      },
      { intervalMs: HOUR }, // the default debounce, 100 ms
    );
    cleanups.push(() => watcher.close());
    await watcher.ready;
    return state;
  }

  it('turns a burst of 1,000 writes into a handful of runs, never two at once', async () => {
    const file = join(base, 'hot');
    await writeFile(file, '0');
    const state = await slowTask(file);
    // All at once: the events queue up in the kernel while the loop is busy writing. (Appends:
    // rewriting from offset 0 makes ext4 flush each time, which only makes the test slow.)
    for (let i = 1; i <= 1000; i++) appendFileSync(file, 'x');
    await pollUntil(() => state.contents.at(-1)?.length === 1001, 'a run that reads the last write');
    await throughBarrier(state.runs, join(base, 'barrier'), state.runs.length); // no late run left to come
    expect(state.contents.length).toBeLessThanOrEqual(3);
    expect(state.maxActive).toBe(1);
  });

  it('turns 1,000 writes spread over time into at most one run per debounce window', async () => {
    const file = join(base, 'hot');
    await writeFile(file, '0');
    const state = await slowTask(file);
    const started = Date.now();
    for (let i = 1; i <= 1000; i++) await appendFile(file, 'x');
    const elapsed = Date.now() - started;
    await pollUntil(() => state.contents.at(-1)?.length === 1001, 'a run that reads the last write');
    expect(state.maxActive).toBe(1);
    // One run per window while the writes lasted, plus the tail (a window and a follow-up).
    expect(state.contents.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 3);
  });

  it('collapses wakes during a run into exactly one follow-up', async () => {
    const file = join(base, 'f');
    await writeFile(file, 'a');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const reasons: string[] = [];
    const watcher = watchWithFallback(
      file,
      async ({ reason }) => {
        reasons.push(reason);
        if (reasons.length === 1) await gate;
      },
      { intervalMs: HOUR, debounceMs: 10 },
    );
    cleanups.push(() => watcher.close());
    await pollUntil(() => reasons.length === 1, 'the start run');
    for (let i = 0; i < 5; i++) watcher.wake();
    release();
    await pollUntil(() => reasons.length === 2, 'the follow-up run');
    // A later wake runs once more: had the five wakes made more than one follow-up, those runs
    // would come before it. (Only wake(): a file event's timing would depend on the machine.)
    watcher.wake();
    await pollUntil(() => reasons.length === 3, 'the run of the later wake');
    expect(reasons).toEqual(['start', 'manual', 'manual']);
  });

  it('runOnStart: false waits for a change or a wake()', async () => {
    const file = join(base, 'f');
    await writeFile(file, 'a');
    const barrier = join(base, 'barrier');
    await writeFile(barrier, '0');
    const w = record([file, barrier], file, { runOnStart: false });
    await w.watcher.ready;
    expect((await throughBarrier(w.runs, barrier)).map((run) => run.reason)).toEqual(['change']); // no 'start' before it
    w.runs.length = 0;
    w.watcher.wake();
    await pollUntil(() => w.runs.length === 1, 'the manual run');
    expect(w.runs[0]).toEqual({ reason: 'manual', paths: [file, barrier], content: 'a' });
  });

  it('reports a failed run to onError and to the diagnostics channel, and retries', async () => {
    const file = join(base, 'f');
    await writeFile(file, 'a');
    const published: unknown[] = [];
    const listener = (message: unknown): void => void published.push(message);
    diagnostics_channel.subscribe(diagnosticsChannels.watch.error, listener);
    cleanups.push(() => void diagnostics_channel.unsubscribe(diagnosticsChannels.watch.error, listener));
    const failure = new Error('token endpoint down');
    const reasons: string[] = [];
    const errors: unknown[] = [];
    const watcher = watchWithFallback(
      file,
      ({ reason }) => {
        reasons.push(reason);
        if (reasons.length <= 2) throw failure;
      },
      { intervalMs: HOUR, retry: { initialDelayMs: 20, jitter: 'none' }, onError: (error) => errors.push(error) },
    );
    cleanups.push(() => watcher.close());
    await pollUntil(() => reasons.length === 3, 'two retries');
    expect(reasons).toEqual(['start', 'retry', 'retry']);
    expect(errors).toEqual([failure, failure]);
    expect(published).toEqual([
      { error: failure, source: 'wake', paths: [file] },
      { error: failure, source: 'wake', paths: [file] },
    ]);
  });
});

describe('closing', () => {
  it('close() leaves process.getActiveResourcesInfo() as it found it', async () => {
    const volume = await KubeletVolume.create({ token: 'v0' });
    cleanups.push(() => volume.cleanup());
    const missing = join(base, 'not-yet', 'file');
    // File system requests (FSReq*) come and go with any I/O, vitest's included; handles must not.
    const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => !r.startsWith('FSReq')).sort();
    const requests = (): number => process.getActiveResourcesInfo().filter((r) => r.startsWith('FSReq')).length;
    const before = handles();
    const requestsBefore = requests();
    const watcher = watchWithFallback([volume.path('token'), volume.dir, missing], () => {}, { debounceMs: 20 });
    await watcher.ready;
    expect(handles()).not.toEqual(before); // the watch holds inotify handles (FSEventWrap)
    await volume.set('token', 'v1'); // leave a debounce window and chokidar work in flight
    await watcher.close();
    expect(watcher.mode).toBe('closed');
    // No timer, no watcher, no handle, at once. (Compared kind by kind, and as "no more than
    // before": a timer of vitest's own may end meanwhile on a loaded machine.)
    const count = (list: string[], kind: string): number => list.filter((r) => r === kind).length;
    const after = handles();
    for (const kind of new Set([...after, ...before])) expect(count(after, kind), kind).toBeLessThanOrEqual(count(before, kind));
    // A stat chokidar started before close() may still be finishing on the thread pool.
    await pollUntil(() => requests() <= requestsBefore, 'chokidar requests in flight to finish');
  });

  it('aborts the signal of a run in progress and waits for it', async () => {
    const file = join(base, 'f');
    await writeFile(file, 'a');
    let settled = false;
    let sawAbort = false;
    const errors: unknown[] = [];
    const watcher = watchWithFallback(
      file,
      async ({ signal }) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        sawAbort = signal.aborted;
        await new Promise((resolve) => setTimeout(resolve, 30));
        settled = true;
        throw signal.reason;
      },
      { onError: (error) => errors.push(error) },
    );
    await watcher.ready;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await watcher.close();
    expect(sawAbort).toBe(true);
    expect(settled).toBe(true);
    expect(errors).toEqual([]); // the abort it was asked for is no failure
    await watcher.close(); // idempotent
  });

  it('closes when options.signal aborts, and not at all when it was aborted already', async () => {
    const file = join(base, 'f');
    await writeFile(file, 'a');
    const controller = new AbortController();
    const runs: string[] = [];
    const watcher = watchWithFallback(file, ({ reason }) => void runs.push(reason), { signal: controller.signal });
    await watcher.ready;
    await pollUntil(() => runs.length === 1, 'the start run');
    controller.abort();
    await watcher.close();
    expect(watcher.mode).toBe('closed');
    watcher.wake();
    await witnessed(file, () => writeFile(file, 'b'));
    expect(runs).toEqual(['start']);

    const never = watchWithFallback(file, () => void runs.push('never'), { signal: AbortSignal.abort() });
    expect(never.mode).toBe('closed');
    await never.ready;
    await never.close();
    expect(runs).toEqual(['start']);
  });
});

describe('bad input throws at the call, naming the option', () => {
  const ok = (): void => {};
  it.each([
    ['paths', () => watchWithFallback([], ok), RangeError, /"paths" must not be empty/],
    ['paths', () => watchWithFallback(42 as never, ok), TypeError, /"paths" must be a string or an array/],
    ['paths', () => watchWithFallback([''], ok), RangeError, /"paths\[0\]" must not be empty/],
    ['paths', () => watchWithFallback(['a', 3] as never, ok), TypeError, /"paths\[1\]" must be a string, got 3/],
    ['paths', () => watchWithFallback(['a', 'b\0c'], ok), TypeError, /"paths\[1\]" must not contain NUL characters, got "b\\u0000c"/],
    ['onWake', () => watchWithFallback('a', 'nope' as never), TypeError, /"onWake" must be a function/],
    ['intervalMs', () => watchWithFallback('a', ok, { intervalMs: 0 }), RangeError, /"intervalMs" must be a finite number > 0, got 0/],
    ['intervalMs', () => watchWithFallback('a', ok, { intervalMs: Infinity }), RangeError, /"intervalMs".*got Infinity/],
    ['intervalMs', () => watchWithFallback('a', ok, { intervalMs: NaN }), RangeError, /"intervalMs".*got NaN/],
    ['intervalMs', () => watchWithFallback('a', ok, { intervalMs: '5' as never }), TypeError, /"intervalMs"/],
    ['jitter', () => watchWithFallback('a', ok, { jitter: 1.5 }), RangeError, /"jitter" must be a finite number >= 0 and <= 1, got 1.5/],
    ['jitter', () => watchWithFallback('a', ok, { jitter: -0.1 }), RangeError, /"jitter"/],
    ['debounceMs', () => watchWithFallback('a', ok, { debounceMs: -1 }), RangeError, /"debounceMs" must be a finite number >= 0, got -1/],
    ['runOnStart', () => watchWithFallback('a', ok, { runOnStart: 'yes' as never }), TypeError, /"runOnStart" must be a boolean/],
    ['retry', () => watchWithFallback('a', ok, { retry: 5 as never }), TypeError, /option "retry" must be an object/],
    ['retry', () => watchWithFallback('a', ok, { retry: { multiplier: 0.5 } }), RangeError, /^watchWithFallback\(\): option "retry.multiplier" must be a finite number >= 1, got 0.5$/],
    ['onError', () => watchWithFallback('a', ok, { onError: 1 as never }), TypeError, /"onError" must be a function/],
    ['onModeChange', () => watchWithFallback('a', ok, { onModeChange: {} as never }), TypeError, /"onModeChange"/],
    ['signal', () => watchWithFallback('a', ok, { signal: {} as never }), TypeError, /"signal" must be an AbortSignal/],
    ['clock', () => watchWithFallback('a', ok, { clock: {} as never }), TypeError, /"clock" must be an object with now\(\), sleep\(\)/],
    ['random', () => watchWithFallback('a', ok, { random: 0.5 as never }), TypeError, /"random" must be a function/],
    ['options', () => watchWithFallback('a', ok, 'fast' as never), TypeError, /options must be an object/],
    ['unknown option', () => watchWithFallback('a', ok, { interval: 5 } as never), TypeError, /unknown option "interval"; did you mean "intervalMs"\?/],
    ['unknown option', () => watchWithFallback('a', ok, { debounce: 5 } as never), TypeError, /unknown option "debounce"; did you mean "debounceMs"\?/],
  ])('%s', (_name, call, Type, message) => {
    const before = process.getActiveResourcesInfo().length;
    expect(call).toThrow(Type);
    expect(call).toThrow(message);
    expect(call).toThrow(/^watchWithFallback\(\)/);
    expect(process.getActiveResourcesInfo().length).toBe(before);
  });
});
