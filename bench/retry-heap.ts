/**
 * Heap bytes per pending retry, one case per Node process: `retry.bench.ts` runs this file once
 * per case (`node --expose-gc --import tsx bench/retry-heap.ts <case>`), so that no case's
 * garbage, JIT state or heap layout colours the next (run in one process after other cases,
 * the same ridethrough calls measured about 1 kB more each). It prints one JSON line.
 *
 * Each case: 10,000 calls at a time, each after one failure in a 60 s wait (cockatiel: 3 s, its
 * wait cannot be interrupted), each with its own AbortController; one warm-up round, then the
 * median of 5 rounds between full collections (harness.ts). `harness` measures the same loop
 * around a pending promise that holds nothing: the bench subtracts it.
 */
import { ConstantBackoff, handleAll, retry as cockatielRetry } from 'cockatiel';
import pRetry from 'p-retry';
import { retry } from 'ridethrough';
import { heapBytesPer, type HeapPerItem } from './harness.js';

export const COUNT = 10_000;
export const ROUNDS = 5;

const noop = (): void => undefined;
const alwaysFails = async (): Promise<never> => {
  throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
};

async function sleepWithListener(signal: AbortSignal): Promise<void> {
  // The least any abortable wait holds: a timer and an abort listener.
  await alwaysFails().catch(noop);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 60_000);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

const cockatielLong = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(3_000) });

/** The cases, by the name given on the command line. */
export const heapCases: Readonly<Record<string, (signal: AbortSignal) => Promise<unknown>>> = {
  harness: () => new Promise(noop),
  reference: sleepWithListener,
  ridethrough: (signal) => retry(alwaysFails, { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none', signal }),
  'p-retry': (signal) => pRetry(alwaysFails, { minTimeout: 60_000, signal }),
  cockatiel: (signal) => cockatielLong.execute(alwaysFails, signal),
};

async function pendingBytes(start: (signal: AbortSignal) => Promise<unknown>, ends: boolean): Promise<HeapPerItem> {
  let controllers = new Array<AbortController>(COUNT);
  let settled = new Array<Promise<unknown>>(COUNT);
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

const name = process.argv[2];
if (name !== undefined) {
  const start = heapCases[name];
  if (start === undefined) throw new Error(`unknown case ${name}; one of ${Object.keys(heapCases).join(', ')}`);
  console.log(JSON.stringify(await pendingBytes(start, name !== 'harness')));
}
