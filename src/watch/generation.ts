/**
 * One generation of the directory watch: one chokidar instance watching one plan's directories,
 * replaced whole, never patched. Here: making it, waiting until it is armed, checking that every
 * planned directory really holds a watch, and closing it without leaving a timer behind.
 */
import { FSWatcher } from 'chokidar';
import { stat } from 'node:fs/promises';
import type { Plan } from './plan.js';

export interface Generation {
  readonly plan: Plan;
  readonly fsw: FSWatcher;
  /** Each watched directory's identity once armed: a recreated directory gets a new one. */
  readonly identities: Map<string, string>;
  /** chokidar reported an error: the watch can no longer be trusted. */
  failed: boolean;
  /** A watched directory was removed or renamed: its inotify watch is dead even if it is back. */
  stale: boolean;
}

/** What a generation tells the directory watch. */
export interface GenerationListener {
  readonly onError: (generation: Generation, error: unknown) => void;
  readonly onRaw: (generation: Generation, eventType: string, filename: unknown, watchedPath: string) => void;
}

export function createGeneration(plan: Plan, listener: GenerationListener): Generation {
  const fsw = new FSWatcher({
    ignoreInitial: true,
    // Our own debounce replaces chokidar's unlink/add folding, which leaves a timer behind.
    atomic: false,
    depth: 0,
    followSymlinks: true,
    // Only the directories themselves: their entries are judged from the raw events.
    ignored: (path: string) => !plan.dirs.has(path),
  });
  const generation: Generation = { plan, fsw, identities: new Map(), failed: false, stale: false };
  // Always listen: an 'error' without a listener would crash the process.
  fsw.on('error', (error: unknown) => listener.onError(generation, error));
  fsw.on('raw', (eventType: string, filename: unknown, details: unknown) => {
    const watchedPath = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    if (typeof watchedPath === 'string') listener.onRaw(generation, eventType, filename, watchedPath);
  });
  fsw.add([...plan.dirs.keys()]);
  return generation;
}

/** Resolves when chokidar is ready, has failed, or `signal` aborts. */
export function armed(generation: Generation, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolveArmed) => {
    if (signal.aborted) return resolveArmed();
    const done = (): void => {
      generation.fsw.off('ready', done);
      generation.fsw.off('error', done);
      signal.removeEventListener('abort', done);
      resolveArmed();
    };
    generation.fsw.once('ready', done);
    generation.fsw.once('error', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * After `ready`: the planned directories that hold no watch. chokidar swallows the ENOENT of a
 * directory that vanishes while it arms and still says `ready`; the directory may even be back,
 * with the same inode number, and unwatched. What tells is whether chokidar kept a closer for
 * it, which it does only once the underlying `fs.watch` exists (`_closers` is in its types).
 * Records the identity of the ones that are watched, when it can be had.
 */
export async function unwatchedDirs(generation: Generation): Promise<string[]> {
  const unwatched: string[] = [];
  for (const dir of generation.plan.dirs.keys()) {
    if (!generation.fsw._closers.get(dir)?.length) {
      unwatched.push(dir);
      continue;
    }
    const identity = await directoryIdentity(dir);
    if (identity !== undefined) generation.identities.set(dir, identity);
  }
  return unwatched;
}

/**
 * Device, inode and birth time: a directory removed and recreated under the same name gets the
 * same inode number on ext4 (every time, here), but a new birth time. Undefined when it is gone,
 * or when the file system keeps no birth time (then nothing can tell it is the same directory).
 */
export async function directoryIdentity(dir: string): Promise<string | undefined> {
  try {
    const s = await stat(dir, { bigint: true });
    if (!s.isDirectory() || s.birthtimeNs === 0n) return undefined;
    return `${s.dev}:${s.ino}:${s.birthtimeNs}`;
  } catch {
    return undefined;
  }
}

export async function closeGeneration(generation: Generation): Promise<void> {
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
