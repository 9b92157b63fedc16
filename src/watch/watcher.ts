/**
 * The watcher behind {@link watchWithFallback}: its options and their checking, the run loop (one
 * run at a time, one follow-up, the interval and retry timers) and the directory watch (chokidar
 * generations, the event filter, the debounce, re-arming). How it watches is told in index.ts.
 */
import { FSWatcher } from 'chokidar';
import { basename, resolve } from 'node:path';
import { backoffDelays, type BackoffOptions } from '../retry/index.js';
import { checkBackoffOptions } from '../retry/options.js';
import { realClock, startTimer, type Clock } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { abortError, linkedController } from '../shared/signals.js';
import { isKubeletBookkeeping, makePlan, type Plan } from './plan.js';
import { booleanOption, checkOptionNames, describe, functionOption, numberOption, objectOption, optionsObject, pathArgument, requiredFunction, signalOption } from '../shared/validate.js';

/** Why `onWake` runs. */
export type WakeReason =
  /** The first run, right after the watch was armed (unless `runOnStart: false`). */
  | 'start'
  /** A watched path changed, or the watch was re-armed after a gap. */
  | 'change'
  /** The interval elapsed. */
  | 'timer'
  /** The previous run failed; this is the retry, on the `retry` schedule. */
  | 'retry'
  /** {@link Watcher.wake} was called. */
  | 'manual';

/**
 * - `'watching'`: every path exists and its directory watch is live; changes wake the task promptly.
 * - `'timer-only'`: some path is missing or the watch failed; the task runs on its timer while
 *   the watch is re-armed.
 * - `'closed'`: {@link Watcher.close} was called or the `signal` aborted.
 */
export type WatchMode = 'watching' | 'timer-only' | 'closed';

/** What `onWake` receives. */
export interface WakeContext {
  /** Why this run happens. */
  readonly reason: WakeReason;
  /**
   * The paths this run is about, spelled as they were given: for `'change'`, those that changed
   * (all of them after a re-arm); otherwise all the watched paths.
   */
  readonly paths: readonly string[];
  /** Aborts when the watcher closes; pass it on to I/O. `close()` waits for the run to settle. */
  readonly signal: AbortSignal;
}

/** Where an error reported to `onError` came from. */
export type WatchErrorSource =
  /** `onWake` threw or rejected; the next run comes on the retry schedule. */
  | 'wake'
  /** A path is missing or the file watch failed; the watcher is on its timer until re-armed. */
  | 'watch'
  /** The `intervalMs` function threw or returned something that is not a positive finite number. */
  | 'interval';

/** The second argument of `onError`, and the message on `diagnosticsChannels.watch.error`. */
export interface WatchErrorContext {
  /**
   * Where the error came from: `'wake'` (`onWake` failed), `'watch'` (a path is missing or the
   * file watch failed) or `'interval'` (the `intervalMs` function failed); see {@link WatchErrorSource}.
   */
  readonly source: WatchErrorSource;
  /** The paths concerned (all the watched paths when it is about the watcher as a whole). */
  readonly paths: readonly string[];
}

/** Given to `onModeChange`, and published on `diagnosticsChannels.watch.mode`. */
export interface ModeChangeEvent {
  /** The mode now: `'watching'`, `'timer-only'` or `'closed'` (see {@link WatchMode}). */
  readonly mode: WatchMode;
  /** The mode it left. A watcher starts in `'timer-only'`, so the first arm reports `'timer-only'` to `'watching'`. */
  readonly previous: WatchMode;
  /** All the paths of the watcher, as given. */
  readonly paths: readonly string[];
  /** Why the watcher went to `'timer-only'`, when it did. */
  readonly error?: unknown;
}

/** Options of {@link watchWithFallback}. */
export interface WatchOptions {
  /**
   * Time between runs when nothing changes, restarted after every run whatever woke it. A function
   * is called after each run (a token refresher returns a quarter of the token's remaining
   * lifetime); if it throws or returns anything but a positive finite number, that goes to
   * `onError` (source `'interval'`) and the next run comes on the retry schedule.
   * @defaultValue 60000
   */
  intervalMs?: number | (() => number);
  /**
   * Up to this fraction of the interval is added at random to each wait (0 to 1), so that many
   * processes woken by the same update do not refresh in lockstep ever after.
   * @defaultValue 0.1
   */
  jitter?: number;
  /**
   * Change events are gathered for this long after the first one, then wake the task once (a
   * kubelet update is half a dozen events). 0 wakes on the next turn of the event loop.
   * @defaultValue 100
   */
  debounceMs?: number;
  /**
   * Run `onWake` (reason `'start'`) as soon as the watch is armed.
   * @defaultValue true
   */
  runOnStart?: boolean;
  /**
   * The schedule of runs after a failed run (until one succeeds; never later than the normal
   * interval), and of attempts to re-arm the watch while in `'timer-only'` mode (never more often
   * than every 100 ms). See {@link BackoffOptions}; `random` defaults to this watcher's `random`.
   * @defaultValue `{ initialDelayMs: 2000, multiplier: 2, maxDelayMs: 60000, jitter: 'equal' }`
   */
  retry?: BackoffOptions;
  /**
   * Told about every failed run, missing path and watcher failure. It never stops the watcher;
   * an exception it throws is ignored. The same reports go to `diagnosticsChannels.watch.error`.
   * @defaultValue none: errors are only published on the diagnostics channel
   */
  onError?: (error: unknown, context: WatchErrorContext) => void;
  /**
   * Told when {@link Watcher.mode} changes (the first arm reports `'timer-only'` to `'watching'`).
   * @defaultValue none
   */
  onModeChange?: (event: ModeChangeEvent) => void;
  /**
   * Aborting it closes the watcher, as {@link Watcher.close} does. An already aborted signal gives
   * a watcher that is closed from the start and never runs.
   * @defaultValue none
   */
  signal?: AbortSignal;
  /** Time source for every wait. @defaultValue realClock */
  clock?: Clock;
  /**
   * Random numbers in [0, 1) for the jitter, for repeatable tests. If it throws, `Math.random`
   * is used for that draw, so the timer schedule never breaks.
   * @defaultValue Math.random
   */
  random?: () => number;
}

/** A running {@link watchWithFallback}. */
export interface Watcher {
  /** What the watcher is doing now; see {@link WatchMode}. */
  readonly mode: WatchMode;
  /** The watched paths, as given (duplicates removed). */
  readonly paths: readonly string[];
  /**
   * Settles once the first attempt to arm the file watch is over: `mode` is then `'watching'` or
   * `'timer-only'` (or `'closed'`). A change made after it is seen. Never rejects.
   */
  readonly ready: Promise<void>;
  /** Asks for a run now (reason `'manual'`); during a run, it collapses into the one follow-up run. */
  wake(): void;
  /**
   * Stops the watch, the timers and future runs, aborts the signal of a run in progress and
   * resolves once nothing is left: no timer, no file watch, no run. Idempotent.
   *
   * Called from inside `onWake`, do not await it before returning: it waits for that very run,
   * so the run and every `close()` would wait for each other for ever. Call it and return
   * (`void watcher.close(); return;`): the promise resolves once the run has returned.
   */
  close(): Promise<void>;
  /** {@link Watcher.close}, for `await using watcher = watchWithFallback(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_RETRY: BackoffOptions = { initialDelayMs: 2000, multiplier: 2, maxDelayMs: 60_000, jitter: 'equal' };
/** Re-arm attempts are cheap but pointless in a tight loop. */
const MIN_REARM_DELAY_MS = 100;

const wakeChannel = diagnosticsChannel(diagnosticsChannels.watch.wake);
const errorChannel = diagnosticsChannel(diagnosticsChannels.watch.error);
const modeChannel = diagnosticsChannel(diagnosticsChannels.watch.mode);
export const configChangeChannel = diagnosticsChannel(diagnosticsChannels.watch.configChange);
export const configRejectedChannel = diagnosticsChannel(diagnosticsChannels.watch.configRejected);
export const hookErrorChannel = diagnosticsChannel(diagnosticsChannels.watch.hookError);

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
 * Invalid arguments throw a `TypeError` or `RangeError` naming the option, synchronously.
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

/** Every option name of {@link WatchOptions}. */
const WATCH_OPTIONS: ReadonlySet<string> = new Set([
  'intervalMs',
  'jitter',
  'debounceMs',
  'runOnStart',
  'retry',
  'onError',
  'onModeChange',
  'signal',
  'clock',
  'random',
]);
/** Every option name of {@link LiveConfigOptions} (`runOnStart` has a message of its own). */
export const LIVE_CONFIG_OPTIONS: ReadonlySet<string> = new Set([
  ...[...WATCH_OPTIONS].filter((name) => name !== 'runOnStart'),
  'parse',
  'onChange',
  'allowEmpty',
  'deadlineMs',
]);

/** Checks the options of the watch (shared by {@link liveConfig}), at the call. */
export function watchSettings(where: string, given: readonly string[], task: Settings['task'], o: Partial<WatchOptions>): Settings {
  const userRandom = functionOption<() => number>(where, 'random', o.random);
  // The schedule must survive a test hook that throws: the timer is the fallback of last resort.
  const random =
    userRandom === undefined
      ? Math.random
      : (): number => {
          try {
            return userRandom();
          } catch {
            return Math.random();
          }
        };
  return {
    where,
    given,
    task,
    intervalMs: validateInterval(where, o.intervalMs),
    jitter: numberOption(where, 'jitter', o.jitter, 0.1, { min: 0, max: 1 }),
    debounceMs: numberOption(where, 'debounceMs', o.debounceMs, 100, { min: 0 }),
    runOnStart: booleanOption(where, 'runOnStart', o.runOnStart, true),
    onError: functionOption<NonNullable<WatchOptions['onError']>>(where, 'onError', o.onError),
    onModeChange: functionOption<NonNullable<WatchOptions['onModeChange']>>(where, 'onModeChange', o.onModeChange),
    signal: signalOption(where, o.signal),
    clock: objectOption<Clock>(where, 'clock', o.clock, ['now', 'sleep']) ?? realClock,
    random,
    retry: validateRetry(where, o.retry, random),
  };
}

function validatePaths(where: string, paths: unknown): string[] {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (!Array.isArray(list)) {
    throw new TypeError(`${where}: "paths" must be a string or an array of strings, got ${describe(paths)}`);
  }
  if (list.length === 0) throw new RangeError(`${where}: "paths" must not be empty`);
  const byResolved = new Map<string, string>();
  for (const [i, value] of (list as unknown[]).entries()) {
    const path = pathArgument(where, `paths[${i}]`, value);
    const absolute = resolve(path);
    if (!byResolved.has(absolute)) byResolved.set(absolute, path);
  }
  return [...byResolved.values()];
}

function validateInterval(where: string, value: unknown): number | (() => number) {
  if (typeof value === 'function') return value as () => number;
  return numberOption(where, 'intervalMs', value, 60_000, { min: 0, minExclusive: true });
}

function validateRetry(where: string, value: unknown, random: () => number): BackoffOptions {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new TypeError(`${where}: option "retry" must be an object of backoff options, got ${describe(value)}`);
  }
  const merged: BackoffOptions = { ...DEFAULT_RETRY, random, ...(value as BackoffOptions | undefined) };
  // Checked now, at the call, under this function's name: `option "retry.multiplier" must be ...`.
  checkBackoffOptions(merged, where, 'retry');
  return merged;
}

interface Settings {
  /** The public function's name, for messages. */
  readonly where: string;
  readonly given: readonly string[];
  readonly task: (context: WakeContext) => unknown;
  readonly intervalMs: number | (() => number);
  readonly jitter: number;
  readonly debounceMs: number;
  readonly runOnStart: boolean;
  readonly onError: WatchOptions['onError'];
  readonly onModeChange: WatchOptions['onModeChange'];
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly retry: BackoffOptions;
}


/** One chokidar instance watching one plan's directories. Replaced whole, never patched. */
interface Generation {
  readonly plan: Plan;
  readonly fsw: FSWatcher;
  /** chokidar reported an error: the watch can no longer be trusted. */
  failed: boolean;
  /** A watched directory was removed or renamed: its inotify watch is dead even if it is back. */
  stale: boolean;
}

export class WatchLoop {
  readonly watcher: Watcher;
  readonly #s: Settings;
  readonly #lifetime = new AbortController();
  #mode: WatchMode = 'timer-only';
  #closing: Promise<void> | undefined;

  // Runs: one at a time; wakes during a run collapse into `#pending`.
  #running: Promise<void> | undefined;
  #pending: { reason: WakeReason; paths: Set<string> } | undefined;
  #lastRunFailed = false;
  #retryDelays: Generator<number, never, void> | undefined;
  #cancelNextRun: (() => void) | undefined;

  // Change events gathered during the debounce window.
  #batch = { paths: new Set<string>(), replan: false, open: false };

  // The file watch.
  #generation: Generation | undefined;
  #replanning: Promise<void> | undefined;
  #replanAgain = false;
  #armedOnce = false;
  #rearming = false;
  /** Errors already reported while in 'timer-only' mode, so a failing re-arm does not repeat them. */
  #reported = new Set<string>();

  constructor(settings: Settings) {
    this.#s = settings;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const loop = this;
    let ready: Promise<void>;
    if (settings.signal?.aborted) {
      this.#mode = 'closed';
      this.#closing = Promise.resolve();
      ready = Promise.resolve();
    } else {
      settings.signal?.addEventListener('abort', this.#onAbort, { once: true });
      ready = this.#start();
    }
    this.watcher = Object.freeze({
      get mode() {
        return loop.#mode;
      },
      paths: Object.freeze([...settings.given]),
      ready,
      wake: () => this.#request('manual', settings.given),
      close: () => this.#close(),
      [Symbol.asyncDispose]: () => this.#close(),
    });
  }

  /** A method, not a field read, so that TypeScript does not carry narrowing across awaits. */
  #isClosed(): boolean {
    return this.#mode === 'closed';
  }

  async #start(): Promise<void> {
    await this.#replan();
    this.#armedOnce = true;
    if (this.#isClosed()) return;
    if (this.#s.runOnStart) this.#request('start', this.#s.given);
    // A wake() during the arm may have run already and started the timer: keep that one.
    else if (this.#running === undefined && this.#cancelNextRun === undefined) this.#scheduleNext();
  }

  // ---- runs -------------------------------------------------------------------------------

  #request(reason: WakeReason, paths: Iterable<string>): void {
    if (this.#isClosed()) return;
    if (this.#pending === undefined) this.#pending = { reason, paths: new Set(paths) };
    else for (const path of paths) this.#pending.paths.add(path);
    this.#running ??= this.#drain();
  }

  async #drain(): Promise<void> {
    // Start on a later microtask: `#running` must be set before onWake can call wake() again.
    await undefined;
    this.#stopNextRun();
    while (this.#pending !== undefined && !this.#isClosed()) {
      const { reason, paths } = this.#pending;
      this.#pending = undefined;
      // Changes noted before this run starts are seen by it: no need for another run for them.
      this.#batch.paths.clear();
      this.#lastRunFailed = !(await this.#runOnce(reason, this.#inGivenOrder(paths)));
    }
    this.#running = undefined;
    if (!this.#isClosed()) this.#scheduleNext();
  }

  async #runOnce(reason: WakeReason, paths: readonly string[]): Promise<boolean> {
    if (wakeChannel.hasSubscribers) wakeChannel.publish(Object.freeze<WakeEvent>({ reason, paths: Object.freeze([...paths]) }));
    // A signal per run, so that listeners a task forgets to remove die with the run.
    const run = linkedController(this.#lifetime.signal);
    const signal = run.signal;
    try {
      await this.#s.task({ reason, paths, signal });
      return true;
    } catch (error) {
      // The run was cut short by close(): that is not a failure to tell anyone about.
      if (!(signal.aborted && error === signal.reason)) this.#report(error, 'wake', paths);
      return false;
    } finally {
      run.dispose();
    }
  }

  #scheduleNext(): void {
    // One timer at a time: one that was replaced but not cancelled would outlive close().
    this.#stopNextRun();
    const interval = this.#nextInterval();
    let delay: number;
    let reason: WakeReason;
    if (this.#lastRunFailed || interval === undefined) {
      this.#retryDelays ??= backoffDelays(this.#s.retry);
      // At least 1 ms: a zero retry delay would loop without ever yielding to I/O.
      const retryDelay = Math.max(1, this.#retryDelays.next().value);
      delay = interval === undefined ? retryDelay : Math.min(retryDelay, interval);
      reason = 'retry';
    } else {
      this.#retryDelays = undefined;
      delay = interval;
      reason = 'timer';
    }
    // Cancelled when a run starts or the watcher closes.
    const cancel = startTimer(this.#s.clock, delay, () => {
      if (this.#cancelNextRun === cancel) this.#cancelNextRun = undefined;
      void this.#onTimer(reason);
    });
    this.#cancelNextRun = cancel;
  }

  async #onTimer(reason: WakeReason): Promise<void> {
    // Every timer run is also a chance to re-arm the file watch (before the run, so that the
    // run also covers whatever the re-arm finds changed).
    if (this.#mode === 'timer-only') await this.#replan();
    this.#request(reason, this.#s.given);
  }

  #stopNextRun(): void {
    this.#cancelNextRun?.();
    this.#cancelNextRun = undefined;
  }

  /** The next wait after a successful run, jitter included; undefined when `intervalMs()` failed. */
  #nextInterval(): number | undefined {
    const { intervalMs, jitter, random } = this.#s;
    let base: unknown;
    try {
      base = typeof intervalMs === 'function' ? intervalMs() : intervalMs;
    } catch (error) {
      this.#report(error, 'interval', this.#s.given);
      return undefined;
    }
    if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) {
      const error = new RangeError(`${this.#s.where}: option "intervalMs" returned ${describe(base)}; expected a finite number > 0`);
      this.#report(error, 'interval', this.#s.given);
      return undefined;
    }
    return base + base * jitter * clampUnit(random());
  }

  // ---- change events ----------------------------------------------------------------------

  #onRaw(generation: Generation, eventType: string, filename: unknown, watchedPath: string): void {
    if (generation !== this.#generation || this.#isClosed()) return;
    const role = generation.plan.dirs.get(watchedPath);
    if (role === undefined) return;
    const name = typeof filename === 'string' ? filename : undefined;
    const concerned = new Set<string>();
    let replan = false;
    if (name === undefined || (eventType === 'rename' && name === basename(watchedPath))) {
      // No name, or the watched directory itself was removed or renamed (its watch is now
      // dead, even if a new directory appears under the same name): rebuild, wake everyone.
      if (name !== undefined) generation.stale = true;
      replan = true;
      for (const paths of role.names.values()) for (const path of paths) concerned.add(path);
      for (const path of role.wholeDir) concerned.add(path);
    } else {
      for (const path of role.names.get(name) ?? []) concerned.add(path);
      if (!isKubeletBookkeeping(name)) for (const path of role.wholeDir) concerned.add(path);
      if (eventType === 'rename' && role.structural.has(name)) replan = true;
    }
    if (concerned.size > 0 || replan) this.#noteChange(concerned, replan);
  }

  /** Gathers changes for `debounceMs` from the first one, then re-plans if needed and wakes once. */
  #noteChange(paths: Iterable<string>, replan: boolean): void {
    const batch = this.#batch;
    for (const path of paths) batch.paths.add(path);
    batch.replan ||= replan;
    if (batch.open) return;
    batch.open = true;
    this.#s.clock.sleep(this.#s.debounceMs, this.#lifetime.signal).then(
      () => void this.#flush(),
      () => {},
    );
  }

  async #flush(): Promise<void> {
    const batch = this.#batch;
    batch.open = false;
    if (this.#isClosed()) return;
    if (batch.replan) {
      batch.replan = false;
      await this.#replan();
    }
    if (batch.paths.size === 0) return;
    const paths = [...batch.paths];
    batch.paths.clear();
    this.#request('change', paths);
  }

  // ---- the file watch ---------------------------------------------------------------------

  /** Brings the file watch in line with what is on disk; never rejects. One at a time. */
  #replan(): Promise<void> {
    if (this.#isClosed()) return Promise.resolve();
    if (this.#replanning !== undefined) {
      this.#replanAgain = true;
      return this.#replanning;
    }
    this.#replanning = (async () => {
      do {
        this.#replanAgain = false;
        try {
          await this.#replanOnce();
        } catch (error) {
          await this.#watchFailed(error);
        }
      } while (this.#replanAgain && !this.#isClosed());
    })().finally(() => (this.#replanning = undefined));
    return this.#replanning;
  }

  async #replanOnce(): Promise<void> {
    const plan = await makePlan(this.#s.given);
    if (this.#isClosed()) return;
    const current = this.#generation;
    const rebuild = current === undefined || current.failed || current.stale || current.plan.key !== plan.key;
    if (rebuild) {
      this.#generation = undefined;
      if (current !== undefined) await closeGeneration(current);
      if (this.#isClosed() || plan.dirs.size === 0) return;
      const generation = this.#createGeneration(plan);
      this.#generation = generation;
      await this.#armed(generation);
      if (this.#isClosed() || generation.failed) return;
      // Something may have moved while the watch was being built: check, and go round again.
      if ((await makePlan(this.#s.given)).key !== plan.key) this.#replanAgain = true;
      if (this.#isClosed()) return;
    }
    if (plan.missing.length > 0) {
      this.#setMode('timer-only', plan.missing[0]!.error);
      for (const { path, error } of plan.missing) this.#reportWatchError(error, [path]);
      this.#startRearming();
    } else if (this.#generation !== undefined && !this.#generation.failed) {
      this.#reported.clear();
      this.#setMode('watching');
    }
    // Back to a complete watch after a rebuild: whatever happened while the watch was down or
    // being rebuilt is unknown, so wake once. (Moving a probe while still missing a path is not news.)
    if (rebuild && this.#armedOnce && plan.missing.length === 0) this.#noteChange(this.#s.given, false);
  }

  #createGeneration(plan: Plan): Generation {
    const fsw = new FSWatcher({
      ignoreInitial: true,
      // Our own debounce replaces chokidar's unlink/add folding, which leaves a timer behind.
      atomic: false,
      depth: 0,
      followSymlinks: true,
      // Only the directories themselves: their entries are judged from the raw events.
      ignored: (path: string) => !plan.dirs.has(path),
    });
    const generation: Generation = { plan, fsw, failed: false, stale: false };
    // Always listen: an 'error' without a listener would crash the process.
    fsw.on('error', (error: unknown) => {
      if (generation !== this.#generation || generation.failed) return;
      generation.failed = true;
      void this.#watchFailed(error);
    });
    fsw.on('raw', (eventType: string, filename: unknown, details: unknown) => {
      const watchedPath = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof watchedPath === 'string') this.#onRaw(generation, eventType, filename, watchedPath);
    });
    fsw.add([...plan.dirs.keys()]);
    return generation;
  }

  /** Resolves when chokidar is ready, has failed, or the watcher closes. */
  #armed(generation: Generation): Promise<void> {
    return new Promise<void>((resolveArmed) => {
      if (this.#lifetime.signal.aborted) return resolveArmed();
      const done = (): void => {
        generation.fsw.off('ready', done);
        generation.fsw.off('error', done);
        this.#lifetime.signal.removeEventListener('abort', done);
        resolveArmed();
      };
      generation.fsw.once('ready', done);
      generation.fsw.once('error', done);
      this.#lifetime.signal.addEventListener('abort', done, { once: true });
    });
  }

  async #watchFailed(error: unknown): Promise<void> {
    if (this.#isClosed()) return;
    this.#setMode('timer-only', error);
    this.#reportWatchError(error, this.#s.given);
    this.#startRearming();
  }

  /** While in 'timer-only' mode, tries to re-arm on the retry schedule. */
  #startRearming(): void {
    if (this.#rearming) return;
    this.#rearming = true;
    const delays = backoffDelays(this.#s.retry);
    void (async () => {
      try {
        while (this.#mode === 'timer-only') {
          await this.#s.clock.sleep(Math.max(MIN_REARM_DELAY_MS, delays.next().value), this.#lifetime.signal);
          await this.#replan();
        }
      } catch {
        // The watcher closed during the wait.
      } finally {
        this.#rearming = false;
      }
    })();
  }

  // ---- reporting --------------------------------------------------------------------------

  #setMode(mode: WatchMode, error?: unknown): void {
    const previous = this.#mode;
    if (previous === mode || previous === 'closed') return;
    this.#mode = mode;
    const event: ModeChangeEvent = Object.freeze({
      mode,
      previous,
      paths: this.#s.given,
      ...(mode === 'timer-only' && error !== undefined ? { error } : {}),
    });
    if (modeChannel.hasSubscribers) modeChannel.publish(event);
    // A hook reports: what it throws or rejects with goes to the hook-error channel, never stops the watcher.
    callHook(hookErrorChannel, 'onModeChange', this.#s.onModeChange, event);
  }

  #reportWatchError(error: unknown, paths: readonly string[]): void {
    const key = errorKey(error);
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#report(error, 'watch', paths);
  }

  #report(error: unknown, source: WatchErrorSource, paths: readonly string[]): void {
    const context: WatchErrorContext = Object.freeze({ source, paths });
    if (errorChannel.hasSubscribers) errorChannel.publish(Object.freeze<WatchErrorEvent>({ error, ...context }));
    const onError = this.#s.onError;
    callHook(hookErrorChannel, 'onError', onError && ((c: WatchErrorContext) => onError(error, c)), context);
  }

  #inGivenOrder(paths: Set<string>): string[] {
    return this.#s.given.filter((path) => paths.has(path));
  }

  // ---- closing ----------------------------------------------------------------------------

  readonly #onAbort = (): void => void this.#close();

  #close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#setMode('closed');
      this.#s.signal?.removeEventListener('abort', this.#onAbort);
      const reason = this.#s.signal?.aborted ? this.#s.signal.reason : abortError('watcher closed');
      this.#lifetime.abort(reason);
      this.#stopNextRun();
      this.#pending = undefined;
      await this.#replanning;
      const generation = this.#generation;
      this.#generation = undefined;
      if (generation !== undefined) await closeGeneration(generation);
      await this.#running;
      // libuv releases a closed inotify handle in the close phase of the next loop turn.
      await nextTurn();
      await nextTurn();
    })();
    return this.#closing;
  }
}


async function closeGeneration(generation: Generation): Promise<void> {
  const fsw = generation.fsw;
  // chokidar's close() leaves its throttle timers running (up to a second); clear them so that
  // nothing outlives close(). `_throttled` is declared in chokidar's own types.
  for (const actions of fsw._throttled?.values() ?? []) {
    for (const throttler of actions.values()) (throttler as { clear?: () => void }).clear?.();
  }
  const closed = fsw.close();
  // close() removes every listener; an operation still in flight may yet emit 'error'.
  fsw.on('error', () => {});
  await closed;
}

function nextTurn(): Promise<void> {
  return new Promise((resolveTurn) => setImmediate(resolveTurn));
}

function clampUnit(value: number): number {
  return value >= 0 && value < 1 ? value : value >= 1 ? 1 : 0;
}

function errorKey(error: unknown): string {
  if (error instanceof Error) return `${(error as NodeJS.ErrnoException).code ?? error.name}:${error.message}`;
  return String(error);
}

/** Published, frozen, on `ridethrough:watch:wake` as the task is about to run. */
export interface WakeEvent {
  /** Why the task runs. */
  readonly reason: WakeReason;
  /** The watched paths that changed since the last run, in the order given. */
  readonly paths: readonly string[];
}

/** Published, frozen, on `ridethrough:watch:error`: an error reported to `onError`, with its context. */
export interface WatchErrorEvent extends WatchErrorContext {
  /** What failed, untouched. */
  readonly error: unknown;
}
