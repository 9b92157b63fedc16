/**
 * The public types of {@link watchWithFallback}: why a run happens, the watcher's modes, what
 * `onWake`, `onError` and `onModeChange` receive, the options, and the payloads of the channels.
 */
import type { BackoffOptions } from '../retry/index.js';
import type { Clock } from '../shared/clock.js';

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
  /** The watcher's `name` option; absent when it has none. */
  readonly name?: string | undefined;
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
  /** The watcher's `name` option; absent when it has none. */
  readonly name?: string | undefined;
}

/** Options of {@link watchWithFallback}. */
export interface WatchOptions {
  /**
   * A short label for this watcher ("ca-bundle", "token"), carried in its events, its
   * `hook-error` payloads and its `ridethrough:watch:run` trace contexts.
   * @defaultValue none
   */
  name?: string | undefined;
  /**
   * Time between runs when nothing changes, restarted after every run whatever woke it. A function
   * is called after each run (a token refresher returns a quarter of the token's remaining
   * lifetime); if it throws or returns anything but a positive finite number, that goes to
   * `onError` (source `'interval'`) and the next run comes on the retry schedule.
   * @defaultValue 60000
   */
  intervalMs?: number | (() => number) | undefined;
  /**
   * Up to this fraction of the interval is added at random to each wait (0 to 1), so that many
   * processes woken by the same update do not refresh in lockstep ever after.
   * @defaultValue 0.1
   */
  jitter?: number | undefined;
  /**
   * Change events are gathered for this long after the first one, then wake the task once (a
   * kubelet update is half a dozen events). 0 wakes on the next turn of the event loop.
   * @defaultValue 100
   */
  debounceMs?: number | undefined;
  /**
   * Run `onWake` (reason `'start'`) as soon as the watch is armed.
   * @defaultValue true
   */
  runOnStart?: boolean | undefined;
  /**
   * The schedule of runs after a failed run (until one succeeds; never later than the normal
   * interval), and of attempts to re-arm the watch while in `'timer-only'` mode (never more often
   * than every 100 ms). See {@link BackoffOptions}; `random` defaults to this watcher's `random`.
   * @defaultValue `{ initialDelayMs: 2000, multiplier: 2, maxDelayMs: 60000, jitter: 'equal' }`
   */
  retry?: BackoffOptions | undefined;
  /**
   * Told about every failed run, missing path and watcher failure. It never stops the watcher:
   * what it throws or rejects with is published on `ridethrough:watch:hook-error`. The same
   * reports go to `diagnosticsChannels.watch.error`.
   * @defaultValue none: errors are only published on the diagnostics channel
   */
  onError?: ((error: unknown, context: WatchErrorContext) => void) | undefined;
  /**
   * Told when {@link Watcher.mode} changes (the first arm reports `'timer-only'` to `'watching'`).
   * @defaultValue none
   */
  onModeChange?: ((event: ModeChangeEvent) => void) | undefined;
  /**
   * Aborting it closes the watcher, as {@link Watcher.close} does. An already aborted signal gives
   * a watcher that is closed from the start and never runs.
   * @defaultValue none
   */
  signal?: AbortSignal | undefined;
  /** Time source for every wait. @defaultValue realClock */
  clock?: Clock | undefined;
  /**
   * Random numbers in [0, 1) for the jitter, for repeatable tests. If it throws, `Math.random`
   * is used for that draw, so the timer schedule never breaks.
   * @defaultValue Math.random
   */
  random?: (() => number) | undefined;
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


/** Published, frozen, on `ridethrough:watch:wake` as the task is about to run. */
export interface WakeEvent {
  /** Why the task runs. */
  readonly reason: WakeReason;
  /** The watched paths that changed since the last run, in the order given. */
  readonly paths: readonly string[];
  /** The watcher's `name` option; absent when it has none. */
  readonly name?: string | undefined;
}

/**
 * The context of the `ridethrough:watch:run` tracing channel, around each run of the task
 * (`tracing:ridethrough:watch:run:start`, `:end`, `:asyncStart`, `:asyncEnd`, `:error`). It
 * belongs to the tracing subscriber and stays mutable: `outcome` and `durationMs` are set by
 * the time of `asyncEnd` or `error`.
 */
export interface WatchRunContext {
  /** The watcher's `name` option, when it has one. */
  readonly name: string | undefined;
  /** Why the task runs. */
  readonly trigger: WakeReason;
  /** The paths this run is about, in the order given. */
  readonly paths: readonly string[];
  /** How the run ended: `'ok'`, `'failed'` (reported to `onError`) or `'aborted'` (by close()). */
  outcome?: 'ok' | 'failed' | 'aborted';
  /** Milliseconds the run took, by the watcher's clock. */
  durationMs?: number;
  /** Set by the tracing channel when the run fails. */
  error?: unknown;
  /** Set by the tracing channel when the run resolves. */
  result?: unknown;
}

/** Published, frozen, on `ridethrough:watch:error`: an error reported to `onError`, with its context. */
export interface WatchErrorEvent extends WatchErrorContext {
  /** What failed, untouched. */
  readonly error: unknown;
}
