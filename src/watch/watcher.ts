/**
 * {@link watchWithFallback}: a task run when its files change and on a timer whatever happens to
 * the file watch. This file puts the parts together and owns closing; the run loop
 * (run-loop.ts), the directory watch (directory-watch.ts, generation.ts, plan.ts), the options
 * (options.ts) and the reports (report.ts) are beside it.
 */
import { abortError } from '../shared/signals.js';
import { checkOptionNames, optionsObject, requiredFunction } from '../shared/validate.js';
import { DirectoryWatch } from './directory-watch.js';
import { validatePaths, watchSettings, WATCH_OPTIONS, type Settings } from './options.js';
import { Reporter } from './report.js';
import { RunLoop } from './run-loop.js';
import type { WakeContext, Watcher, WatchOptions } from './types.js';

/**
 * Runs `onWake` when any of `paths` changes, and every `intervalMs` anyway.
 *
 * - Files and directories; files in Kubernetes volumes (ConfigMap, Secret, projected token)
 *   included: each kubelet update wakes the task once, with the new content readable.
 * - `onWake` never runs concurrently with itself: wakes during a run collapse into exactly one
 *   follow-up run. Bursts of events are debounced (`debounceMs`).
 * - After each run the timer restarts: `intervalMs` (plus `jitter`) after a success, sooner on the
 *   `retry` schedule after a failure (reported to `onError`), until a run succeeds.
 * - A missing path or a failing watch is reported to `onError` and the watcher goes on in
 *   `'timer-only'` mode, re-arming until it can, then wakes the task once (reason `'change'`).
 * - `close()` (or aborting `signal`) stops everything and resolves when nothing is left.
 *
 * Invalid arguments throw a `TypeError` or `RangeError` naming the option, synchronously; an
 * unknown option name is refused too (`interval` -> did you mean `intervalMs`?).
 *
 * Guide: [Watching files](../../docs/guides/watching-files.md).
 *
 * @param paths - A path or a non-empty list of paths (files or directories), relative to the
 *   current directory or absolute. They need not exist yet.
 * @param onWake - The task. Throwing or rejecting counts as a failed run.
 *
 * @example
 * ```ts
 * import { mkdtemp, rm, writeFile } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { watchWithFallback } from 'ridethrough';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'watch-example-'));
 * const file = join(dir, 'token');
 * await writeFile(file, 'v1');
 * let changed!: () => void;
 * const seen = new Promise<void>((resolve) => (changed = resolve));
 * const watcher = watchWithFallback(file, ({ reason }) => {
 *   console.log('woke:', reason); // 'start', then 'change'
 *   if (reason === 'change') changed();
 * }, { intervalMs: 60_000, debounceMs: 20 });
 * await watcher.ready;
 * await writeFile(file, 'v2');
 * await seen;
 * await watcher.close();
 * await rm(dir, { recursive: true });
 * ```
 */
export function watchWithFallback(
  paths: string | readonly string[],
  onWake: (context: WakeContext) => unknown,
  options?: WatchOptions,
): Watcher {
  const where = 'watchWithFallback()';
  const given = validatePaths(where, paths);
  const task = requiredFunction<(context: WakeContext) => unknown>(where, 'onWake', onWake);
  const o = optionsObject(where, options);
  checkOptionNames(where, o, WATCH_OPTIONS);
  return new WatchLoop(watchSettings(where, given, task, o)).watcher;
}

/** One watcher: the run loop and the directory watch, sharing a mode, a lifetime and the reports. */
export class WatchLoop {
  readonly watcher: Watcher;
  readonly #s: Settings;
  readonly #lifetime = new AbortController();
  readonly #report: Reporter;
  readonly #runs: RunLoop;
  readonly #watch: DirectoryWatch;
  #closing: Promise<void> | undefined;

  constructor(settings: Settings) {
    this.#s = settings;
    this.#report = new Reporter(settings);
    const lifetime = this.#lifetime.signal;
    this.#watch = new DirectoryWatch(settings, this.#report, lifetime, (paths) => this.#runs.request('change', paths));
    this.#runs = new RunLoop(settings, this.#report, lifetime, {
      beforeRun: () => this.#watch.takeNoted(),
      beforeTimerRun: () => this.#watch.rearmIfDown(),
    });
    let ready: Promise<void>;
    if (settings.signal?.aborted) {
      this.#report.setMode('closed');
      this.#closing = Promise.resolve();
      ready = Promise.resolve();
    } else {
      settings.signal?.addEventListener('abort', this.#onAbort, { once: true });
      ready = this.#start();
    }
    const report = this.#report;
    this.watcher = Object.freeze({
      get mode() {
        return report.mode;
      },
      paths: Object.freeze([...settings.given]),
      ready,
      wake: () => this.#runs.request('manual', settings.given),
      close: () => this.#close(),
      [Symbol.asyncDispose]: () => this.#close(),
    });
  }

  async #start(): Promise<void> {
    await this.#watch.start();
    if (this.#report.isClosed()) return;
    if (this.#s.runOnStart) this.#runs.request('start', this.#s.given);
    // A wake() during the arm may have run already and started the timer: keep that one.
    else if (this.#runs.idle) this.#runs.scheduleNext();
  }

  readonly #onAbort = (): void => void this.#close();

  #close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#report.setMode('closed');
      this.#s.signal?.removeEventListener('abort', this.#onAbort);
      const reason = this.#s.signal?.aborted ? this.#s.signal.reason : abortError('watcher closed');
      this.#lifetime.abort(reason);
      const runs = this.#runs.stop();
      await this.#watch.close();
      await runs;
      // libuv releases a closed inotify handle in the close phase of the next loop turn.
      await nextTurn();
      await nextTurn();
    })();
    return this.#closing;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolveTurn) => setImmediate(resolveTurn));
}
