/**
 * "A change ends the wait": a clock wrapper for the readers in this folder. Its `sleep` is the
 * base clock's, except that a backoff wait (one started between two attempts) also resolves as
 * soon as a raw `fs.watch` on the files' directories fires. `retry` needs no change: it only
 * sees a clock whose waits sometimes end early. The deadline and attempt-timeout timers, which
 * `retry` starts on the same clock outside that window, are never ended early.
 *
 * Raw `fs.watch` on the directory, not `watchWithFallback`: files sits below watch, and the
 * directory is where kubelet's `..data` flip and an in-place rewrite both show up (a raw watch
 * on the file itself dies after the first swap). The watch is armed on the first failed
 * attempt, so a read that succeeds at once costs nothing; a missing directory is watched
 * through its nearest existing parent and re-tried on every wake.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Clock } from '../shared/clock.js';

/** A clock whose backoff waits end at a change, and the marks that say where the waits are. */
export interface ChangeWake {
  /** Hand this to `retry` as its `clock`. */
  readonly clock: Clock;
  /** Call first thing in each attempt. */
  attemptStarted(): void;
  /** Call when an attempt failed: arms the watch (once) and opens the window for the next wait. */
  attemptFailed(): void;
  /** How many waits a change has ended so far (for tests and events). */
  readonly wakes: number;
  /** Closes the directory watches. Idempotent; call it when the read settles. */
  close(): void;
}

const WOKEN = Symbol('woken by a change');

/**
 * Wraps `base` for the files at `paths`. Until {@link ChangeWake.attemptFailed} nothing is
 * watched; afterwards each wait that starts between a failed attempt and the next one resolves
 * at the first change in one of the files' directories (or at once when a change came during
 * the attempt itself).
 */
export function changeWake(paths: readonly string[], base: Clock): ChangeWake {
  const dirs = [...new Set(paths.map((path) => dirname(resolve(path))))];
  const watchers = new Map<string, { dir: string; watcher: FSWatcher }>();
  let betweenAttempts = false;
  let changedDuringAttempt = false;
  let armed = false;
  let closed = false;
  let wakes = 0;
  const waiting = new Set<AbortController>();

  const onChange = (): void => {
    changedDuringAttempt = true;
    for (const controller of waiting) controller.abort(WOKEN);
    arm(); // a directory that was missing may exist now
  };

  const arm = (): void => {
    if (closed) return;
    armed = true;
    for (const dir of dirs) {
      if (watchers.get(dir)?.dir === dir) continue;
      const found = watchNearest(dir, onChange, () => {
        if (watchers.get(dir) === found) watchers.delete(dir);
      });
      if (found === undefined) continue;
      watchers.get(dir)?.watcher.close();
      watchers.set(dir, found);
    }
  };

  const clock: Clock = {
    now: () => base.now(),
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      if (!betweenAttempts || closed) return base.sleep(ms, signal);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (changedDuringAttempt) {
        wakes++;
        return Promise.resolve();
      }
      const controller = new AbortController();
      const forward = (): void => controller.abort(signal!.reason);
      signal?.addEventListener('abort', forward, { once: true });
      waiting.add(controller);
      return base.sleep(ms, controller.signal).then(
        () => undefined,
        (error: unknown) => {
          if (controller.signal.reason !== WOKEN || signal?.aborted) throw error;
          wakes++;
        },
      ).finally(() => {
        waiting.delete(controller);
        signal?.removeEventListener('abort', forward);
      });
    },
  };

  return {
    clock,
    attemptStarted() {
      betweenAttempts = false;
      changedDuringAttempt = false;
    },
    attemptFailed() {
      if (!armed) arm();
      betweenAttempts = true;
    },
    get wakes() {
      return wakes;
    },
    close() {
      closed = true;
      for (const { watcher } of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** Watches `dir`, or its nearest existing parent; `dir` in the result says which one. */
function watchNearest(dir: string, onChange: () => void, onError: () => void): { dir: string; watcher: FSWatcher } | undefined {
  for (let current = dir; ; current = dirname(current)) {
    try {
      const watcher = watch(current, { persistent: false }, onChange);
      // A watch that errors (the directory was removed) is dropped; the next change re-arms.
      watcher.on('error', () => {
        watcher.close();
        onError();
      });
      return { dir: current, watcher };
    } catch {
      if (dirname(current) === current) return undefined;
    }
  }
}
