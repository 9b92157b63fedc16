/**
 * watchWithFallback against the usual ways of noticing a Kubernetes volume update.
 *
 * 1. Wake latency: a volume is updated the way kubelet does it (ridethrough/testing's KubeletVolume),
 *    many times; for each way of watching, the time from the rename of `..data_tmp` over `..data`
 *    to the first callback that reads the new content, p50 and p99, and the updates never seen
 *    within a second (missed). Each callback reads the file, as a refresh task would. The ways
 *    run one after the other in this one process, on the same machine state.
 * 2. 100 idle watchers (each on its own volume): heap and RSS per watcher, CPU per second idle.
 *
 * Run: `npm run bench -- watch` (or `node --expose-gc --import tsx bench/watch.bench.ts`).
 * `WATCH_BENCH_SWAPS=300` changes the number of updates per way (default 120).
 */
import { FSWatcher as ChokidarWatcher, watch as chokidarWatch } from 'chokidar';
import { readFile } from 'node:fs/promises';
import { unwatchFile, watch as fsWatch, watchFile } from 'node:fs';
import { watchWithFallback } from 'ridethrough/watch';
import { KubeletVolume } from 'ridethrough/testing';
import { percentile, printTable, type Row } from './harness.js';

const SWAPS = Number(process.env.WATCH_BENCH_SWAPS ?? 120);
const MISS_AFTER_MS = 1000;
/**
 * Pause after each update, so late events of one update (chokidar's `atomic` option holds an
 * unlink back for 100 ms) do not count for the next, and updates are further apart than
 * chokidar's 50 ms per-path change throttle (kubelet updates are minutes apart).
 */
const SETTLE_MS = 120;

/** A way of watching: start it on a file, calling `notify` from each callback; returns a stop function. */
interface Way {
  name: string;
  /** Time a wake may take by design (the debounce), for the target check. */
  budgetMs?: number;
  start(volume: KubeletVolume, file: string, notify: () => void): Promise<() => Promise<void>>;
}

const ours = (debounceMs: number): Way => ({
  name: `watchWithFallback, debounce ${debounceMs} ms`,
  budgetMs: debounceMs,
  async start(_volume, file, notify) {
    const watcher = watchWithFallback(file, () => notify(), { debounceMs, intervalMs: 3_600_000, runOnStart: false });
    await watcher.ready;
    if (watcher.mode !== 'watching') throw new Error(`watcher is ${watcher.mode}`);
    return () => watcher.close();
  },
});

const ways: Way[] = [
  {
    name: 'fs.watch on the directory (baseline)',
    async start(volume, _file, notify) {
      const watcher = fsWatch(volume.dir, () => notify());
      watcher.on('error', () => {});
      return async () => watcher.close();
    },
  },
  ours(0),
  ours(5),
  ours(100),
  {
    name: 'chokidar 5 on the directory',
    async start(volume, _file, notify) {
      const watcher = chokidarWatch(volume.dir, { ignoreInitial: true });
      watcher.on('error', () => {});
      watcher.on('all', () => notify());
      await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
      return () => watcher.close();
    },
  },
  {
    name: 'chokidar 5 on the file',
    async start(_volume, file, notify) {
      const watcher = chokidarWatch(file, { ignoreInitial: true });
      watcher.on('error', () => {});
      watcher.on('all', () => notify());
      await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
      return () => watcher.close();
    },
  },
  {
    name: 'fs.watchFile, 100 ms polling',
    async start(_volume, file, notify) {
      const listener = (): void => notify();
      watchFile(file, { interval: 100 }, listener);
      return async () => unwatchFile(file, listener);
    },
  },
];

interface Result {
  latencies: number[];
  missed: number;
  callbacks: number;
}

async function measure(way: Way): Promise<Result> {
  const volume = await KubeletVolume.create({ token: 'v0', 'ca.crt': 'ca' });
  const file = volume.path('token');
  let expected = '';
  let seen: ((latency: number) => void) | undefined;
  let callbacks = 0;
  const stop = await way.start(volume, file, () => {
    const at = performance.now();
    callbacks++;
    void readFile(file, 'utf8').then(
      (content) => {
        if (content === expected && seen) {
          const done = seen;
          seen = undefined;
          // A callback that fired for an earlier step of this update (the new directory being
          // written) and read after the flip counts from the flip: the task saw the new content.
          done(Math.max(0, at - volume.renamedAt));
        }
      },
      () => {},
    );
  });
  const latencies: number[] = [];
  let missed = 0;
  for (let i = 1; i <= SWAPS; i++) {
    expected = `v${i}-${'x'.repeat(i % 7)}`;
    const latency = new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => {
        seen = undefined;
        resolve(undefined);
      }, MISS_AFTER_MS + (way.budgetMs ?? 0));
      seen = (ms) => {
        clearTimeout(timer);
        resolve(ms);
      };
    });
    await volume.set('token', expected);
    const ms = await latency;
    if (ms === undefined) missed++;
    else latencies.push(ms);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  }
  await stop();
  await volume.cleanup();
  return { latencies, missed, callbacks };
}

async function latencyTables(): Promise<void> {
  const results: Array<{ way: Way; result: Result }> = [];
  for (const way of ways) results.push({ way, result: await measure(way) });
  const baseline = results[0]!.result;
  const p = (r: Result, q: number): number => percentile([...r.latencies], q);
  const rows = (q: number): Row[] =>
    results.map(({ way, result }) => ({
      name: way.name,
      value: p(result, q),
      unit: 'ms',
      ratio: p(result, q) / p(baseline, q),
      note:
        q === 99 && way.budgetMs !== undefined
          ? `target <= ${way.budgetMs + 50} ms: ${p(result, 99) <= way.budgetMs + 50 ? 'met' : 'NOT met'}`
          : '',
    }));
  printTable(`Wake latency p50, rename of ..data -> callback reading the new content (${SWAPS} kubelet updates each)`, rows(50));
  printTable('Wake latency p99', rows(99));
  printTable(
    `Missed updates (no callback read the new content within ${MISS_AFTER_MS} ms + debounce)`,
    results.map(({ way, result }) => ({
      name: way.name,
      value: result.missed,
      unit: 'missed',
      note: `of ${SWAPS}; ${(result.callbacks / SWAPS).toFixed(1)} callbacks per update`,
    })),
  );
}

/** 100 watchers, each on its own volume, idle: heap, RSS and CPU. */
async function idleTables(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench does)');
  const COUNT = 100;
  const IDLE_MS = 3000;
  const volumes = await Promise.all(Array.from({ length: COUNT }, () => KubeletVolume.create({ token: 'v0' })));

  interface Idle {
    name: string;
    start(volume: KubeletVolume): Promise<() => Promise<void>>;
  }
  const kinds: Idle[] = [
    {
      name: 'nothing (baseline)',
      start: async () => async () => {},
    },
    {
      name: 'watchWithFallback (default options)',
      async start(volume) {
        const watcher = watchWithFallback(volume.path('token'), () => {}, { runOnStart: false });
        await watcher.ready;
        return () => watcher.close();
      },
    },
    {
      name: 'chokidar 5 on the directory',
      async start(volume) {
        const watcher: ChokidarWatcher = chokidarWatch(volume.dir, { ignoreInitial: true });
        watcher.on('error', () => {});
        await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
        return () => watcher.close();
      },
    },
    {
      name: 'fs.watchFile, 100 ms polling',
      async start(volume) {
        const listener = (): void => {};
        watchFile(volume.path('token'), { interval: 100 }, listener);
        return async () => unwatchFile(volume.path('token'), listener);
      },
    },
  ];

  const heapRows: Row[] = [];
  const cpuRows: Row[] = [];
  let baselineCpu = 0;
  for (const kind of kinds) {
    gc();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const stops = await Promise.all(volumes.map((volume) => kind.start(volume)));
    gc();
    gc();
    const heapPer = (process.memoryUsage().heapUsed - heapBefore) / COUNT;
    const rssPer = (process.memoryUsage().rss - rssBefore) / COUNT;
    const cpuBefore = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMsPerSecond = (cpu.user + cpu.system) / 1000 / (IDLE_MS / 1000);
    if (kind === kinds[0]) baselineCpu = cpuMsPerSecond;
    await Promise.all(stops.map((stop) => stop()));
    if (kind !== kinds[0]) heapRows.push({ name: kind.name, value: heapPer, unit: 'B', note: `RSS ${Math.round(rssPer).toLocaleString('en-US')} B per watcher` });
    cpuRows.push({ name: kind.name, value: cpuMsPerSecond, unit: 'ms/s', note: kind === kinds[0] ? '' : `${(cpuMsPerSecond - baselineCpu).toFixed(2)} ms/s above the baseline` });
  }
  printTable(`Heap per idle watcher (${COUNT} watchers, one volume each)`, heapRows);
  printTable(`CPU while ${COUNT} watchers sit idle for ${IDLE_MS / 1000} s (process CPU ms per second)`, cpuRows);
  await Promise.all(volumes.map((volume) => volume.cleanup()));
}

await latencyTables();
await idleTables();
