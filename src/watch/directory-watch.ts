/**
 * The directory watch of a watcher: keeps a generation of chokidar watches in line with what is
 * on disk (rebuilt whole when the plan changes, a directory is replaced or chokidar fails),
 * filters its raw events down to the watched paths, debounces them, and hands the paths that
 * changed to the run loop. While it cannot watch, the watcher is in `'timer-only'` mode and this
 * re-arms on the retry schedule.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { backoffDelays } from '../retry/index.js';
import { armed, closeGeneration, createGeneration, directoryIdentity, unwatchedDirs, type Generation } from './generation.js';
import type { Settings } from './options.js';
import { isKubeletBookkeeping, makePlan } from './plan.js';
import type { Reporter } from './report.js';

/** Re-arm attempts are cheap but pointless in a tight loop. */
const MIN_REARM_DELAY_MS = 100;

export class DirectoryWatch {
  readonly #s: Settings;
  readonly #report: Reporter;
  readonly #lifetime: AbortSignal;
  readonly #onChange: (paths: readonly string[]) => void;
  #generation: Generation | undefined;
  #replanning: Promise<void> | undefined;
  #replanAgain = false;
  #armedOnce = false;
  #rearming = false;
  /**
   * What each watched path looked like when last examined. A change event whose path still looks
   * the same was a chmod or chown; after a rebuild, a path that looks different changed while
   * nothing watched it.
   */
  readonly #fingerprints = new Map<string, string>();
  /** Changes gathered during the debounce window. */
  readonly #noted = {
    /** Paths that changed. */
    paths: new Set<string>(),
    /** Watched files with an in-place event: changed only if they no longer look the same. */
    touched: new Set<string>(),
    /** Watched directories that reported an event on themselves: removed, or only chmod'ed? */
    selves: new Map<string, Generation>(),
    replan: false,
    open: false,
  };

  constructor(settings: Settings, report: Reporter, lifetime: AbortSignal, onChange: (paths: readonly string[]) => void) {
    this.#s = settings;
    this.#report = report;
    this.#lifetime = lifetime;
    this.#onChange = onChange;
  }

  /** The first arm; settles once it is over, whatever its outcome. */
  async start(): Promise<void> {
    await this.#replan();
    this.#armedOnce = true;
  }

  /** Re-arms now if the watch is down (before a timer run, so the run covers what it finds). */
  async rearmIfDown(): Promise<void> {
    if (this.#report.mode === 'timer-only') await this.#replan();
  }

  /**
   * A run starts: the paths noted as changed so far are seen by it, so they join its `paths`
   * instead of waking another run. (Paths with only an in-place event stay: their flush decides.)
   */
  takeNoted(): string[] {
    const paths = [...this.#noted.paths];
    this.#noted.paths.clear();
    return paths;
  }

  async close(): Promise<void> {
    await this.#replanning;
    const generation = this.#generation;
    this.#generation = undefined;
    if (generation !== undefined) await closeGeneration(generation);
  }

  // ---- events ----------------------------------------------------------------------------

  #onRaw(generation: Generation, eventType: string, filename: unknown, watchedPath: string): void {
    // Events of a generation being replaced still count: they are real changes, and dropping
    // them would lose what happens while the next generation is armed.
    if (this.#report.isClosed()) return;
    const role = generation.plan.dirs.get(watchedPath);
    if (role === undefined) return;
    const name = typeof filename === 'string' ? filename : undefined;
    if (name === undefined) {
      // No name: anything may have happened. Rebuild, wake everyone.
      return this.#note(allOf(role), { replan: true });
    }
    if (eventType === 'rename' && name === basename(watchedPath)) {
      // The directory itself: removed or renamed (its watch is dead, even if a new directory
      // appears under the name), or only chmod'ed or touched. Told apart at the flush.
      return this.#note([], { self: [watchedPath, generation] });
    }
    const named = role.names.get(name) ?? [];
    const inDir = isKubeletBookkeeping(name) ? [] : role.wholeDir;
    if (eventType === 'change') {
      // In place: a write, or only a chmod/chown of a watched file (told apart at the flush).
      // An entry of a watched directory is not examined: any event on it is news.
      return this.#note(inDir, { touched: named });
    }
    const structural = role.structural.has(name);
    this.#note([...named, ...inDir], { replan: structural });
  }

  /** Gathers changes for `debounceMs` from the first one, then re-plans if needed and wakes once. */
  #note(
    paths: Iterable<string>,
    { replan = false, touched = [], self }: { replan?: boolean; touched?: Iterable<string>; self?: [string, Generation] },
  ): void {
    const noted = this.#noted;
    for (const path of paths) noted.paths.add(path);
    for (const path of touched) noted.touched.add(path);
    if (self) noted.selves.set(self[0], self[1]);
    noted.replan ||= replan;
    if (noted.open || (noted.paths.size === 0 && noted.touched.size === 0 && noted.selves.size === 0 && !noted.replan)) return;
    noted.open = true;
    this.#s.clock.sleep(this.#s.debounceMs, this.#lifetime).then(
      () => void this.#flush(),
      () => {},
    );
  }

  async #flush(): Promise<void> {
    const noted = this.#noted;
    noted.open = false;
    if (this.#report.isClosed()) return;
    for (const [dir, generation] of noted.selves) {
      noted.selves.delete(dir);
      const known = generation.identities.get(dir);
      if (known !== undefined && known === (await directoryIdentity(dir))) continue; // chmod, utimes
      generation.stale = true;
      noted.replan = true;
      const role = generation.plan.dirs.get(dir);
      if (role !== undefined) for (const path of allOf(role)) noted.paths.add(path);
    }
    for (const path of noted.touched) {
      noted.touched.delete(path);
      if (!noted.paths.has(path) && (await this.#looksChanged(path))) noted.paths.add(path);
    }
    if (noted.replan) {
      noted.replan = false;
      await this.#replan();
    }
    if (noted.paths.size === 0 || this.#report.isClosed()) return;
    const paths = [...noted.paths];
    noted.paths.clear();
    for (const path of paths) this.#fingerprints.set(path, await fingerprint(path));
    this.#onChange(paths);
  }

  /** Whether `path` no longer looks as it did when last examined (and remembers how it looks). */
  async #looksChanged(path: string): Promise<boolean> {
    const now = await fingerprint(path);
    const before = this.#fingerprints.get(path);
    this.#fingerprints.set(path, now);
    return before !== now;
  }

  // ---- keeping the watch in line with the disk ----------------------------------------------

  /** Brings the watch in line with what is on disk; never rejects. One at a time. */
  #replan(): Promise<void> {
    if (this.#report.isClosed()) return Promise.resolve();
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
          this.#watchFailed(error);
        }
      } while (this.#replanAgain && !this.#report.isClosed());
    })().finally(() => (this.#replanning = undefined));
    return this.#replanning;
  }

  async #replanOnce(): Promise<void> {
    const plan = await makePlan(this.#s.given);
    if (this.#report.isClosed()) return;
    const current = this.#generation;
    const rebuild = current === undefined || current.failed || current.stale || current.plan.key !== plan.key;
    if (rebuild) {
      this.#generation = undefined;
      if (current !== undefined) await closeGeneration(current);
      if (this.#report.isClosed() || plan.dirs.size === 0) return;
      const generation = createGeneration(plan, {
        onError: (g, error) => {
          if (g !== this.#generation || g.failed) return;
          g.failed = true;
          this.#watchFailed(error);
        },
        onRaw: (g, eventType, filename, watchedPath) => this.#onRaw(g, eventType, filename, watchedPath),
      });
      this.#generation = generation;
      await armed(generation, this.#lifetime);
      if (this.#report.isClosed() || generation.failed) return;
      const unwatched = await unwatchedDirs(generation);
      if (unwatched.length > 0) {
        generation.failed = true;
        return this.#watchFailed(new Error(`${this.#s.where}: no watch could be placed on ${unwatched.join(', ')} (it changed while being watched); re-arming`));
      }
      // Something may have moved while the watch was being built: check, and go round again.
      if ((await makePlan(this.#s.given)).key !== plan.key) this.#replanAgain = true;
      if (this.#report.isClosed()) return;
      await this.#noteUnseenChanges();
    }
    if (plan.missing.length > 0) {
      this.#report.setMode('timer-only', plan.missing[0]!.error);
      for (const { path, error } of plan.missing) this.#report.watchError(error, [path]);
      this.#startRearming();
    } else if (this.#generation !== undefined && !this.#generation.failed) {
      this.#report.setMode('watching');
    }
    // Back to a complete watch after a rebuild: whatever happened while the watch was down or
    // being rebuilt is unknown, so wake once. (Moving a probe while still missing a path is not news.)
    if (rebuild && this.#armedOnce && plan.missing.length === 0) this.#note(this.#s.given, {});
  }

  /** After a rebuild: the paths that changed while no generation watched them count as changed. */
  async #noteUnseenChanges(): Promise<void> {
    const changed: string[] = [];
    for (const path of this.#s.given) {
      const known = this.#fingerprints.has(path);
      if ((await this.#looksChanged(path)) && known && this.#armedOnce) changed.push(path);
    }
    if (changed.length > 0) this.#note(changed, {});
  }

  #watchFailed(error: unknown): void {
    if (this.#report.isClosed()) return;
    this.#report.setMode('timer-only', error);
    this.#report.watchError(error, this.#s.given);
    this.#startRearming();
  }

  /** While in 'timer-only' mode, tries to re-arm on the retry schedule. */
  #startRearming(): void {
    if (this.#rearming) return;
    this.#rearming = true;
    const delays = backoffDelays(this.#s.retry);
    void (async () => {
      try {
        while (this.#report.mode === 'timer-only') {
          await this.#s.clock.sleep(Math.max(MIN_REARM_DELAY_MS, delays.next().value), this.#lifetime);
          await this.#replan();
        }
      } catch {
        // The watcher closed during the wait.
      } finally {
        this.#rearming = false;
      }
    })();
  }
}

/** Every watched path an event on this directory concerns. */
function allOf(role: { names: Map<string, Set<string>>; wholeDir: Set<string> }): string[] {
  const paths = new Set(role.wholeDir);
  for (const names of role.names.values()) for (const path of names) paths.add(path);
  return [...paths];
}

/**
 * How a path looks now, through symlinks: a file by device, inode, size and modification time (a
 * chmod or chown changes none of them; kubelet's `..data` swap changes the inode), a directory by
 * its identity, a missing path by its error code.
 */
async function fingerprint(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    if (s.isDirectory()) return `dir:${s.dev}:${s.ino}:${s.birthtimeNs}`;
    return `file:${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}
