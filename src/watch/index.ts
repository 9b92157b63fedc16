/**
 * `ridethrough/watch`: run a refresh task promptly when the files it depends on change, and on a
 * timer whatever happens to the file watch: {@link watchWithFallback}, and {@link liveConfig}, a
 * parsed configuration file that follows its updates.
 *
 * ```ts
 * import { watchWithFallback } from 'ridethrough/watch';
 *
 * const watcher = watchWithFallback('/etc/hostname', ({ reason }) => console.log('refresh:', reason), {
 *   intervalMs: 60_000, // and at least once a minute, watch or no watch
 * });
 * await watcher.ready; // logged "refresh: start"
 * await watcher.close();
 * ```
 *
 * Guide: [Watching files](../../docs/guides/watching-files.md).
 *
 * How it watches (see docs/design.md for the reasons):
 * - Only directories are watched, through chokidar (one inotify watch each, shared across
 *   watchers of the same directory). For a file it is the file's directory, where creation,
 *   deletion, rename-over, in-place writes and kubelet's `..data` swap all show up; for a symlink
 *   that leads elsewhere, also the directory of its target. A watch on the file itself would die
 *   with the inode it follows, and inode numbers are reused, so an inode is no change key.
 * - chokidar's `raw` events (the underlying `fs.watch` events) are filtered down to the names
 *   the user asked for and `..data`; kubelet's `..<timestamp>` directories and `..data_tmp` are
 *   noise. Events are debounced into one wake per burst.
 * - A missing path, a directory that was removed or a watcher error puts the watcher in
 *   `'timer-only'` mode; it keeps re-arming (on the retry schedule, on every timer run, and as soon
 *   as the nearest existing ancestor directory shows the path coming back) and returns to
 *   `'watching'`, waking the task once, because anything may have changed meanwhile.
 *
 * Where things are: watcher.ts puts a watcher together from run-loop.ts (one run at a time, the
 * timer) and directory-watch.ts (chokidar generations in generation.ts, what to watch in plan.ts,
 * the event filter, the debounce, re-arming); options.ts checks the options, report.ts publishes;
 * liveConfig is in live-config.ts. This file names the public API.
 *
 * @module
 */
import type { HookErrorEvent } from '../shared/hooks.js';
import type { ConfigChangeEvent, ConfigRejectedEvent } from './live-config.js';
import type { ModeChangeEvent, WakeEvent, WatchErrorEvent } from './types.js';

export { watchWithFallback } from './watcher.js';
export type {
  ModeChangeEvent,
  WakeContext,
  WakeEvent,
  WakeReason,
  WatchErrorContext,
  WatchErrorEvent,
  WatchErrorSource,
  Watcher,
  WatchMode,
  WatchOptions,
  WatchRunContext,
} from './types.js';
export {
  liveConfig,
  type ConfigChangeEvent,
  type ConfigChangeInfo,
  type ConfigRejectedEvent,
  type LiveConfig,
  type LiveConfigErrorContext,
  type LiveConfigErrorSource,
  type LiveConfigOptions,
  type LiveConfigParseContext,
  type LiveConfigParseFunction,
} from './live-config.js';

/** Each plain diagnostics channel of `ridethrough/watch`, mapped to its (frozen) payload. */
export interface WatchMessages {
  /** The task is about to run. */
  'ridethrough:watch:wake': WakeEvent;
  /** An error was reported to `onError`. */
  'ridethrough:watch:error': WatchErrorEvent;
  /** The watcher changed mode. */
  'ridethrough:watch:mode': ModeChangeEvent;
  /** `liveConfig` loaded a new version. */
  'ridethrough:watch:config-change': ConfigChangeEvent;
  /** `liveConfig` rejected a new version and kept the last good one. */
  'ridethrough:watch:config-rejected': ConfigRejectedEvent;
  /** An `onError`/`onModeChange`/`onChange` hook threw or rejected. */
  'ridethrough:watch:hook-error': HookErrorEvent;
}
