/**
 * A positive signal for negative checks on a watcher ("no run for X"): write a barrier file that
 * the same watcher watches, and wait for its run. inotify delivers one loop's events in order and
 * the debounce gathers them in order, so by the barrier's run every run that X could have caused
 * has been recorded: a check made then cannot pass merely because the machine was slow.
 */
import { writeFile } from 'node:fs/promises';
import { watchWithFallback } from 'ridethrough/watch';
import { pollUntil } from './poll.js';

/** Writes `barrier` and resolves with the runs from index `from` up to and including the barrier's. */
export async function throughBarrier<R extends { readonly paths: readonly string[] }>(runs: R[], barrier: string, from = 0): Promise<R[]> {
  await writeFile(barrier, `${Date.now()}-${Math.random()}`);
  await pollUntil(() => runs.slice(from).some((run) => run.paths.includes(barrier)), 'the barrier run');
  const seen = runs.slice(from);
  return seen.slice(0, seen.findIndex((run) => run.paths.includes(barrier)) + 1);
}

/**
 * For a watcher that should be deaf (closed): makes `change` and resolves once a fresh watcher of
 * `path`, debouncing as long, has run for it. Had the deaf one heard it, its run would be queued
 * by then (its events came first, its debounce window is no longer).
 */
export async function witnessed(path: string, change: () => Promise<unknown>, debounceMs = 100): Promise<void> {
  let heard = false;
  const witness = watchWithFallback(path, ({ reason }) => void (heard ||= reason === 'change'), {
    intervalMs: 3_600_000,
    runOnStart: false,
    debounceMs,
  });
  try {
    await witness.ready;
    await change();
    await pollUntil(() => heard, `a witness watcher's run for the change of ${path}`);
    // The deaf watcher's run, had there been one, started on the same turn or earlier: one more turn.
    await new Promise(setImmediate);
  } finally {
    await witness.close();
  }
}
