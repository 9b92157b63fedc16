/**
 * retry() against its peers, in one run, as ratios to a bare `await fn()`:
 * the success path, a one-failure path with 0 ms delay, both again with subscribers on every
 * channel, abort-to-reject latency during a long wait, and heap bytes per pending retry.
 */
import { ConstantBackoff, handleAll, retry as cockatielRetry } from 'cockatiel';
import { backOff } from 'exponential-backoff';
import pRetry from 'p-retry';
import { retry, type Verdict } from 'ridethrough';
import { COUNT, ROUNDS } from './retry-heap.js';
import { observedStates, type ObservedFigures } from './retry-observed.js';
import { jsonFromChild, median, nsPerOpInterleaved, printTable, type HeapPerItem, type Row } from './harness.js';

const ok = async (): Promise<number> => 1;
const transient: Verdict = { kind: 'transient', reason: 'test' };
const alwaysTransient = (): Verdict => transient;

// --- success path -------------------------------------------------------------------------
const cockatielOnce = cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ConstantBackoff(0) });
const success: Array<[string, () => Promise<unknown>]> = [
  ['bare await fn()', () => ok()],
  ['ridethrough retry(fn)', () => retry(ok)],
  ['p-retry', () => pRetry(ok)],
  ['cockatiel', () => cockatielOnce.execute(ok)],
  ['exponential-backoff backOff', () => backOff(ok)],
];
const successNs = await measureAll(success);
printTable('success path (ns per call, ratio to bare await fn())', ratioRows(success, successNs));

// --- one failure, then success, 0 ms delay --------------------------------------------------
function flaky(): () => Promise<number> {
  let calls = 0;
  return async () => {
    if (++calls % 2 === 1) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    return 1;
  };
}
const f1 = flaky();
const f2 = flaky();
const f3 = flaky();
const f4 = flaky();
const f5 = flaky();
const cockatielZero = cockatielRetry(handleAll, { maxAttempts: 1, backoff: new ConstantBackoff(0) });
const oneFailure: Array<[string, () => Promise<unknown>]> = [
  ['bare await fn() (two calls)', async () => f1().catch(f1)],
  ['ridethrough retry(fn)', () => retry(f2, { initialDelayMs: 0, classify: alwaysTransient })],
  ['p-retry', () => pRetry(f3, { retries: 1, minTimeout: 0, maxTimeout: 0 })],
  ['cockatiel', () => cockatielZero.execute(f4)],
  ['exponential-backoff backOff', () => backOff(f5, { startingDelay: 0, numOfAttempts: 2 })],
];
const oneFailureNs = await measureAll(oneFailure, 50);
printTable('one failure then success, 0 ms delay (ns per call)', ratioRows(oneFailure, oneFailureNs));

// --- the same two paths, with subscribers on every channel ----------------------------------
// Each state in its own process (retry-observed.ts): Node changes a channel object's class when
// it gains or loses its first subscriber, so subscribing and unsubscribing within one process
// slows every later call, subscribed or not, which is not what a program that subscribes at
// start-up (or never) sees.
const observedRows: Record<keyof ObservedFigures, Row[]> = { success: [], oneFailure: [] };
for (const [state, label] of observedStates) {
  const figures = jsonFromChild<ObservedFigures>(new URL('retry-observed.ts', import.meta.url), state);
  for (const path of ['success', 'oneFailure'] as const) {
    const { bareNs, retryNs } = figures[path];
    observedRows[path].push({ name: label, value: retryNs, unit: 'ns', ratio: retryNs / bareNs, note: `bare ${bareNs.toFixed(1)} ns` });
  }
}
printTable('success path by who subscribes (ns per retry(fn) call, ratio to bare await fn() in the same process)', observedRows.success);
printTable('one failure then success, 0 ms delay, by who subscribes (ratio to two bare calls)', observedRows.oneFailure);

// --- abort during a long wait ----------------------------------------------------------------
const alwaysFails = async (): Promise<never> => {
  throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
};
async function abortLatency(start: (signal: AbortSignal) => Promise<unknown>, runs: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const controller = new AbortController();
    const settled = start(controller.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20)); // now inside the long wait
    const t0 = performance.now();
    controller.abort(new Error('stop'));
    await settled;
    samples.push(performance.now() - t0);
  }
  return median(samples);
}
const cockatielSlow = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(2_000) });
const abortRows: Row[] = [
  {
    name: 'ridethrough (10 s wait)',
    value: await abortLatency((signal) => retry(alwaysFails, { initialDelayMs: 10_000, maxDelayMs: 10_000, jitter: 'none', signal }), 20),
    unit: 'ms',
  },
  {
    name: 'p-retry (10 s wait)',
    value: await abortLatency((signal) => pRetry(alwaysFails, { minTimeout: 10_000, signal }), 20),
    unit: 'ms',
  },
  {
    name: 'cockatiel (2 s wait, not interruptible)',
    value: await abortLatency((signal) => cockatielSlow.execute(alwaysFails, signal), 1),
    unit: 'ms',
  },
];
printTable('abort-to-reject latency, median (exponential-backoff takes no signal)', abortRows);

// --- heap bytes per pending retry --------------------------------------------------------------
// Each case in its own Node process (retry-heap.ts says how each is measured); the harness's
// own cost per call is measured the same way and subtracted; the spread is the lowest and
// highest of the counted rounds.
const heapCase = (name: string): HeapPerItem => jsonFromChild<HeapPerItem>(new URL('retry-heap.ts', import.meta.url), name);
const harness = heapCase('harness');
const memRows: Row[] = [{ name: 'harness alone (subtracted below)', value: harness.median, unit: 'B', note: spread(harness, 0) }];
for (const [name, label] of [
  ['reference', 'reference: failed call + timer + abort listener'],
  ['ridethrough', 'ridethrough'],
  ['p-retry', 'p-retry'],
  ['cockatiel', 'cockatiel (3 s wait, signal passed)'],
] as const) {
  const bytes = heapCase(name);
  memRows.push({ name: label, value: bytes.median - harness.median, unit: 'B', note: spread(bytes, harness.median) });
}
printTable(
  `heap bytes per pending retry (${COUNT.toLocaleString('en-US')} waiting after one failure, each with its own AbortController; median of ${ROUNDS} rounds, one process per case)`,
  memRows,
);
console.log('(exponential-backoff takes no signal and its 60 s timers cannot be cancelled, so it is left out of the memory table.)');

function spread(h: HeapPerItem, less: number): string {
  const f = (n: number): string => Math.round(n - less).toLocaleString('en-US');
  return `rounds ${f(h.min)} to ${f(h.max)}`;
}

// -----------------------------------------------------------------------------------------------
async function measureAll(cases: Array<[string, () => Promise<unknown>]>, minTimeMs = 100): Promise<number[]> {
  return nsPerOpInterleaved(
    cases.map(([, fn]) => fn),
    { minTimeMs },
  );
}

function ratioRows(cases: Array<[string, () => Promise<unknown>]>, ns: number[]): Row[] {
  return cases.map(([name], i) => ({ name, value: ns[i]!, unit: 'ns', ratio: ns[i]! / ns[0]! }));
}
