/**
 * The per-path queue of atomicWriteFile: writes to one path run one at a time, in call order.
 */
import { noop, onAbort } from '../shared/signals.js';

const queues = new Map<string, Promise<void>>();

/** Runs `task` after every earlier task queued for `key`: calls for one path run in call order, so the last call's content wins. */
export function inQueue<T>(key: string, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> {
  let started = false;
  const previous = queues.get(key);
  const run = (): Promise<T> => {
    started = true;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return task();
  };
  const result = previous ? previous.then(run) : run();
  const tail = result.then(noop, noop);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  if (!previous || !signal) return result;
  // Waiting behind another write: an abort rejects now; the task will see the signal and skip.
  return new Promise<T>((resolvePromise, rejectPromise) => {
    // onAbort: many writes may wait on one shutdown signal; one native listener serves them all.
    const detach = onAbort(signal, () => {
      if (!started) rejectPromise(signal.reason);
    });
    result.then(resolvePromise, rejectPromise).finally(detach);
  });
}
