/**
 * The one measuring harness every benchmark uses. It reports what it measured; nothing here
 * asserts a speed. Run with `npm run bench` (all) or `npm run bench -- retry` (one file).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Median nanoseconds per call of `fn`, over `rounds` rounds of at least `minTimeMs` each. */
export async function nsPerOp(
  fn: () => unknown,
  { rounds = 5, minTimeMs = 250, async = true }: { rounds?: number; minTimeMs?: number; async?: boolean } = {},
): Promise<number> {
  // Warm up, and find a batch size that runs for about minTimeMs.
  let batch = 1;
  for (;;) {
    const ns = await runBatch(fn, batch, async);
    if (ns >= minTimeMs * 1e6 || batch >= 1 << 26) break;
    batch *= ns < 1e6 ? 10 : 2;
  }
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) samples.push((await runBatch(fn, batch, async)) / batch);
  return median(samples);
}

/**
 * Median nanoseconds per call of each function, measured in interleaved rounds (a batch of each,
 * in turn, `rounds` times), so that a change in machine load colours every case alike rather
 * than whichever case happened to run during it. Use it for anything reported as a ratio.
 */
export async function nsPerOpInterleaved(
  fns: ReadonlyArray<() => unknown>,
  { rounds = 15, minTimeMs = 100 }: { rounds?: number; minTimeMs?: number } = {},
): Promise<number[]> {
  const batches: number[] = [];
  for (const fn of fns) {
    let batch = 1;
    for (;;) {
      const ns = await runBatch(fn, batch, true);
      if (ns >= minTimeMs * 1e6 || batch >= 1 << 26) break;
      batch *= ns < 1e6 ? 10 : 2;
    }
    batches.push(batch);
  }
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fns.length; i++) samples[i]!.push((await runBatch(fns[i]!, batches[i]!, true)) / batches[i]!);
  }
  return samples.map(median);
}

async function runBatch(fn: () => unknown, n: number, isAsync: boolean): Promise<number> {
  const start = process.hrtime.bigint();
  if (isAsync) for (let i = 0; i < n; i++) await fn();
  else for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start);
}

/** The median of a list of numbers (the list is sorted in place). */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/** The p-th percentile (nearest rank) of a list of numbers (sorted in place). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  values.sort((a, b) => a - b);
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[rank]!;
}

/** Heap bytes per item, over several rounds: the median and the spread. */
export interface HeapPerItem {
  /** The median of the rounds, in bytes per item. */
  median: number;
  min: number;
  max: number;
  /** Bytes per item of each counted round, in the order they ran. */
  samples: number[];
}

/**
 * Heap bytes retained per item while `count` items created by `make` are alive, measured after
 * `settle()` (e.g. let pending work reach its steady state) and before `release()`, which must
 * end them (abort them, let them settle). One warm-up round is discarded (first calls compile
 * code and fill caches that stay), then `rounds` rounds are counted; each measures between two
 * full collections (several `gc()` calls with a turn of the event loop between, so weak
 * callbacks and finalizers run). The array holding the items is counted: subtract a harness
 * baseline (the same `make` around something that holds nothing) to get what an item costs.
 * Needs `--expose-gc`.
 */
export async function heapBytesPer(
  count: number,
  make: (i: number) => unknown,
  {
    settle,
    release,
    rounds = 5,
  }: { settle?: () => Promise<void>; release?: () => Promise<void> | void; rounds?: number } = {},
): Promise<HeapPerItem> {
  const samples: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    await fullGc();
    const before = process.memoryUsage().heapUsed;
    const keep: unknown[] = new Array(count);
    for (let i = 0; i < count; i++) keep[i] = make(i);
    await settle?.();
    await fullGc();
    const after = process.memoryUsage().heapUsed;
    await release?.();
    keep.length = 0;
    if (round > 0) samples.push((after - before) / count);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: median([...samples]), min: sorted[0]!, max: sorted[sorted.length - 1]!, samples };
}

/** Collects garbage until the heap stops shrinking (at most 6 times), yielding to the event loop between. */
export async function fullGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench does)');
  let last = Infinity;
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (i >= 2 && used >= last - 1024) break;
    last = used;
  }
}

/** One row of a results table. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  /** Shown as `x.xx x` against the baseline row of the same table when given. */
  ratio?: number;
  note?: string;
}

/** Prints a titled table of rows, aligned, to stdout. */
export function printTable(title: string, rows: Row[]): void {
  console.log(`\n## ${title}`);
  const name = Math.max(...rows.map((r) => r.name.length), 4);
  for (const r of rows) {
    const value = formatNumber(r.value).padStart(12);
    const ratio = r.ratio === undefined ? '' : `  ${r.ratio.toFixed(2).padStart(8)}x`;
    console.log(`${r.name.padEnd(name)}  ${value} ${r.unit.padEnd(6)}${ratio}${r.note ? `  ${r.note}` : ''}`);
  }
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}

/**
 * Runs `file` (a bench script beside this one) in a Node process of its own with `arg`, and
 * returns the JSON of the last line it prints: for measurements that another case run before
 * them in the same process would colour (heap layout, a channel's subscriber state).
 */
export function jsonFromChild<T>(file: URL, arg: string): T {
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(file), arg], { encoding: 'utf8', env: process.env });
  if (child.status !== 0) throw new Error(`${fileURLToPath(file)} ${arg} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as T;
}
