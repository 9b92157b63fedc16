/**
 * retry() against its peers, in one run, as ratios to a bare `await fn()`:
 * the success path, a one-failure path with 0 ms delay, abort-to-reject latency during a long
 * wait, and heap bytes per pending retry.
 */
import { ConstantBackoff, handleAll, retry as cockatielRetry } from 'cockatiel';
import { backOff } from 'exponential-backoff';
import pRetry from 'p-retry';
import { retry, type Verdict } from 'ridethrough';
import { heapBytesPer, median, nsPerOpInterleaved, printTable, type HeapPerItem, type Row } from './harness.js';

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
// 10,000 calls at a time, each after one failure in a 60 s wait, each with its own signal; one
// warm-up round, then the median of ROUNDS rounds, each between full collections (harness.ts),
// less the harness's own cost per call (its AbortController, a pending promise and its .catch,
// the array slots), measured the same way. The spread is the lowest and highest round.
const COUNT = 10_000;
const ROUNDS = 5;
const noop = (): void => undefined;
async function pendingBytes(start: (signal: AbortSignal) => Promise<unknown>, { ends = true } = {}): Promise<HeapPerItem> {
  let controllers: AbortController[] = new Array<AbortController>(COUNT);
  let settled: Promise<unknown>[] = new Array<Promise<unknown>>(COUNT);
  return heapBytesPer(
    COUNT,
    (i) => {
      const controller = new AbortController();
      controllers[i] = controller;
      settled[i] = start(controller.signal).catch(noop);
      return undefined;
    },
    {
      rounds: ROUNDS,
      settle: () => new Promise((resolve) => setTimeout(resolve, 200)), // every call is now in its wait
      release: async () => {
        for (const c of controllers) c.abort(new Error('stop'));
        if (ends) await Promise.all(settled);
        controllers = new Array<AbortController>(COUNT);
        settled = new Array<Promise<unknown>>(COUNT);
      },
    },
  );
}
async function sleepWithListener(signal: AbortSignal): Promise<void> {
  // The least any abortable wait holds: a timer and an abort listener.
  await alwaysFails().catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 60_000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
// cockatiel's wait cannot be interrupted, so its calls are measured in a 3 s wait they must sit out.
const cockatielLong = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(3_000) });
const harness = await pendingBytes(() => new Promise(noop), { ends: false });
const memCases: Array<[string, (signal: AbortSignal) => Promise<unknown>]> = [
  ['reference: failed call + timer + abort listener', sleepWithListener],
  ['ridethrough', (signal) => retry(alwaysFails, { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none', signal })],
  ['p-retry', (signal) => pRetry(alwaysFails, { minTimeout: 60_000, signal })],
  ['cockatiel (3 s wait, signal passed)', (signal) => cockatielLong.execute(alwaysFails, signal)],
];
const memRows: Row[] = [
  { name: 'harness alone (subtracted below)', value: harness.median, unit: 'B', note: spread(harness, 0) },
];
for (const [name, start] of memCases) {
  const bytes = await pendingBytes(start);
  memRows.push({ name, value: bytes.median - harness.median, unit: 'B', note: spread(bytes, harness.median) });
}
printTable(
  `heap bytes per pending retry (${COUNT.toLocaleString('en-US')} waiting after one failure, each with its own AbortController; median of ${ROUNDS} rounds)`,
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
