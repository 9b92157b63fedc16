/**
 * retry() at scale (issue 14, items 12 and 14), for one build:
 * (a) many pending retries sharing ONE AbortSignal (the docs' `signal: shutdown.signal`
 *     pattern): each fn fails once with ECONNRESET and then waits in a 60 s backoff. Reported:
 *     the time to create them all, the time until every one is waiting, the heap growth while
 *     they wait (after full collections), and the time from `abort()` until all have settled.
 *     Once with only `initialDelayMs`, once with `deadlineMs` and `attemptTimeoutMs` added.
 * (b) a never-settling promise shared by every attempt (a memoised "synced" promise) and
 *     `attemptTimeoutMs: 1`: the heap growth after 20,000 timed-out attempts (200 calls of 100
 *     attempts) have all settled, after full collections, with the shared promise still alive.
 *
 * Each case runs in its own Node process, stopped after RIDETHROUGH_CASE_TIMEOUT_MS (60 s by
 * default); a case stopped that way is reported "not run: > 60 s" and, for 100k, retried at 40k.
 * `RIDETHROUGH_DIST=/path/to/dist` measures another build (e.g. an older release's dist/);
 * the default is the built `dist/` of this checkout (bench/tsconfig.json).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { retry as retryFn } from 'ridethrough';
import { fullGc, printTable, type Row } from './harness.js';

const MB = 1024 * 1024;
const dist = process.env.RIDETHROUGH_DIST;
const caseTimeoutMs = Number(process.env.RIDETHROUGH_CASE_TIMEOUT_MS ?? 60_000);

interface SharedResult {
  createMs: number;
  waitingMs: number;
  heapMB: number;
  abortMs: number;
}
interface NeverResult {
  attempts: number;
  heapMB: number;
  runMs: number;
}

async function load(): Promise<typeof retryFn> {
  const spec = dist ? pathToFileURL(resolve(dist, 'index.js')).href : 'ridethrough';
  const mod = (await import(spec)) as { retry: typeof retryFn };
  return mod.retry;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function sharedSignal(retry: typeof retryFn, count: number, withDeadline: boolean): Promise<SharedResult> {
  const controller = new AbortController();
  const signal = controller.signal;
  let calls = 0;
  const fn = async (): Promise<never> => {
    calls++;
    throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
  };
  const options = withDeadline
    ? { initialDelayMs: 60_000, jitter: 'none' as const, deadlineMs: 120_000, attemptTimeoutMs: 30_000, signal }
    : { initialDelayMs: 60_000, jitter: 'none' as const, signal };
  const done = (): undefined => undefined;
  await fullGc();
  const before = process.memoryUsage().heapUsed;
  const settled: Array<Promise<unknown>> = new Array(count);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) settled[i] = retry(fn, options).then(done, done);
  const createMs = performance.now() - t0;
  // Wait for the positive signal: every fn has been called once (and failed), then let the
  // rejections be classified and the 60 s waits armed.
  while (calls < count) await turn();
  await turn();
  await turn();
  const waitingMs = performance.now() - t0;
  if (calls !== count) throw new Error(`expected ${count} calls, saw ${calls}`);
  await fullGc();
  const heapMB = (process.memoryUsage().heapUsed - before) / MB;
  const t1 = performance.now();
  controller.abort(new Error('shutdown'));
  await Promise.all(settled);
  const abortMs = performance.now() - t1;
  if (calls !== count) throw new Error(`a retry tried again before the abort: ${calls} calls for ${count}`);
  return { createMs, waitingMs, heapMB, abortMs };
}

async function neverSettling(retry: typeof retryFn, calls: number, attemptsEach: number): Promise<NeverResult> {
  const never = new Promise<never>(() => {});
  let attempts = 0;
  const fn = (): Promise<never> => {
    attempts++;
    return never;
  };
  const done = (): undefined => undefined;
  await fullGc();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const runs: Array<Promise<unknown>> = [];
  for (let i = 0; i < calls; i++) {
    runs.push(retry(fn, { attemptTimeoutMs: 1, maxAttempts: attemptsEach, initialDelayMs: 0 }).then(done, done));
  }
  await Promise.all(runs);
  const runMs = performance.now() - t0;
  runs.length = 0;
  await fullGc();
  const heapMB = (process.memoryUsage().heapUsed - before) / MB;
  if (attempts !== calls * attemptsEach) throw new Error(`expected ${calls * attemptsEach} attempts, saw ${attempts}`);
  void never; // still alive here, as a memoised promise would be
  return { attempts, heapMB, runMs };
}

// --- child: one case ------------------------------------------------------------------------
const [, , caseName, arg] = process.argv;
if (caseName) {
  const retry = await load();
  let result: SharedResult | NeverResult;
  if (caseName === 'shared') result = await sharedSignal(retry, Number(arg), false);
  else if (caseName === 'shared-deadline') result = await sharedSignal(retry, Number(arg), true);
  else if (caseName === 'never') result = await neverSettling(retry, 200, 100);
  else throw new Error(`unknown case ${caseName}`);
  console.log(JSON.stringify(result));
  process.exit(0);
}

// --- parent: every case, each in its own process -----------------------------------------------
function runCase(name: string, arg = ''): SharedResult | NeverResult | 'timeout' {
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), name, arg], {
    encoding: 'utf8',
    env: process.env,
    timeout: caseTimeoutMs,
    killSignal: 'SIGKILL',
  });
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return 'timeout';
  if (child.signal === 'SIGKILL') return 'timeout';
  if (child.status !== 0) throw new Error(`case ${name} ${arg} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as SharedResult | NeverResult;
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const limit = `not run: > ${Math.round(caseTimeoutMs / 1000)} s`;
console.log(`build: ${dist ?? 'dist/ of this checkout'}`);
for (const [name, title] of [
  ['shared', 'pending retries sharing one AbortSignal, { initialDelayMs: 60_000, signal }'],
  ['shared-deadline', 'the same with deadlineMs: 120_000, attemptTimeoutMs: 30_000'],
] as const) {
  const rows: Row[] = [];
  for (const count of [1_000, 10_000, 100_000]) {
    let n = count;
    let r = runCase(name, String(n));
    if (r === 'timeout') {
      rows.push({ name: `${fmt(n)}: create`, value: NaN, unit: 'ms', note: limit });
      if (n !== 100_000) continue;
      n = 40_000;
      r = runCase(name, String(n));
      if (r === 'timeout') {
        rows.push({ name: `${fmt(n)}: create`, value: NaN, unit: 'ms', note: limit });
        continue;
      }
    }
    const s = r as SharedResult;
    rows.push(
      { name: `${fmt(n)}: create (sync loop)`, value: s.createMs, unit: 'ms' },
      { name: `${fmt(n)}: until all waiting`, value: s.waitingMs, unit: 'ms' },
      { name: `${fmt(n)}: heap growth, waiting`, value: s.heapMB, unit: 'MB', note: `${fmt(Math.round((s.heapMB * MB) / n))} B each` },
      { name: `${fmt(n)}: abort until all settled`, value: s.abortMs, unit: 'ms' },
    );
  }
  printTable(title, rows);
}
const never = runCase('never');
printTable(
  'shared never-settling promise, attemptTimeoutMs: 1, 200 calls x 100 attempts',
  never === 'timeout'
    ? [{ name: '20,000 timed-out attempts', value: NaN, unit: 'MB', note: limit }]
    : [
        { name: `${fmt((never as NeverResult).attempts)} attempts: heap growth after gc`, value: (never as NeverResult).heapMB, unit: 'MB' },
        { name: 'time for all of them', value: (never as NeverResult).runMs, unit: 'ms' },
      ],
);
