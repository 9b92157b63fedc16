/**
 * A Kubernetes-style projected volume on a temp directory, updated exactly the way kubelet's
 * AtomicWriter updates a ConfigMap, Secret, downward-API or service-account-token volume
 * (kubernetes/pkg/volume/util/atomic_writer.go, `Write`):
 *
 * ```text
 * dir/
 *   ..2024_05_01_12_00_00.1234567890/   the real files of the current version (mode 0755)
 *     token
 *   ..data -> ..2024_05_01_12_00_00.1234567890
 *   token  -> ..data/token                user-visible link, created once, never rewritten
 * ```
 *
 * One update, in kubelet's order:
 * 1. mkdir a new `..<UTC timestamp>.<random>` directory, chmod 0755;
 * 2. write every file of the payload into it (nested keys get subdirectories);
 * 3. symlink `..data_tmp -> ..<new>`;
 * 4. rename `..data_tmp` over `..data` (the atomic flip: readers see old or new, never a mix);
 * 5. create the top-level links `name -> ..data/name` that do not exist yet;
 * 6. remove the top-level links that are no longer in the payload;
 * 7. remove the previous timestamped directory.
 * No fsync anywhere, as in kubelet. Each step is a separate `fs.promises` call, so a watcher in
 * the same process sees the steps interleaved with its own work, as it would with a real kubelet.
 *
 * Shared by the watch tests, the watch benchmark and the examples (token refresher, offline
 * startup).
 *
 * Usage:
 * ```ts
 * const volume = await KubeletVolume.create({ token: 'v1' });
 * await volume.set('token', 'v2');        // one kubelet update
 * console.log(await readFile(volume.path('token'), 'utf8')); // 'v2'
 * await volume.cleanup();
 * ```
 */
import { lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';

/** Names kubelet reserves in a volume directory. */
export const DATA_DIR = '..data';
export const DATA_TMP = '..data_tmp';
/** What a timestamped data directory is called: `..2024_05_01_12_00_00.1234567890`. */
export const TIMESTAMP_DIR = /^\.\.\d{4}(_\d\d){5}\.\d+$/;

/** File contents by path relative to the volume (`'token'`, `'nested/ca.crt'`). */
export type Payload = Record<string, string | Uint8Array>;

/** What one update did, for tests and the benchmark. */
export interface SwapResult {
  /** Name of the new timestamped directory. */
  readonly timestampDir: string;
  /** `performance.now()` taken just before the rename of `..data_tmp` over `..data`. */
  readonly renamedAt: number;
}

/** Options of {@link KubeletVolume.create}. */
export interface KubeletVolumeOptions {
  /**
   * The volume directory. It is created if missing, and {@link KubeletVolume.cleanup} removes it.
   * Default: a new directory under the OS temp dir.
   */
  dir?: string;
  /** Mode of the projected files (a Secret's `defaultMode`). Default 0o644. */
  fileMode?: number;
  /** Called between the steps of an update (after `step` is done); tests use it to act mid-swap. */
  onStep?: (step: SwapStep) => void | Promise<void>;
}

/** The steps of one update, named for {@link KubeletVolumeOptions.onStep}. */
export type SwapStep = 'mkdir' | 'write' | 'symlink-tmp' | 'rename' | 'links' | 'prune' | 'remove-old';

/** A projected volume that updates itself the way kubelet does. */
export class KubeletVolume {
  /** Absolute path of the volume directory (what the pod sees as the mount point). */
  readonly dir: string;
  #payload: Payload = {};
  #fileMode: number;
  #onStep: KubeletVolumeOptions['onStep'];
  #updates = 0;
  #renamedAt = Number.NaN;

  private constructor(dir: string, options: KubeletVolumeOptions) {
    this.dir = dir;
    this.#fileMode = options.fileMode ?? 0o644;
    this.#onStep = options.onStep;
  }

  /** Creates the volume directory and projects the first payload into it, as kubelet does at mount. */
  static async create(payload: Payload, options: KubeletVolumeOptions = {}): Promise<KubeletVolume> {
    let dir = options.dir;
    if (dir === undefined) dir = await mkdtemp(join(tmpdir(), 'ridethrough-volume-'));
    else await mkdir(dir, { recursive: true });
    const volume = new KubeletVolume(dir, options);
    await volume.update(payload);
    return volume;
  }

  /** The user-visible path of a key: `volume.path('token')` is `<dir>/token`. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** The current payload (what the files say after the last update). */
  get payload(): Readonly<Payload> {
    return { ...this.#payload };
  }

  /**
   * `performance.now()` taken just before the latest rename of `..data_tmp` over `..data`. Set
   * before the rename starts, so a watcher callback that the rename triggers always sees it.
   */
  get renamedAt(): number {
    return this.#renamedAt;
  }

  /** How many updates have been projected, the first one included. */
  get updates(): number {
    return this.#updates;
  }

  /** Projects a complete new payload: keys missing from it disappear from the volume. */
  async update(payload: Payload): Promise<SwapResult> {
    for (const name of Object.keys(payload)) validateKey(name);
    const step = async (name: SwapStep): Promise<void> => {
      await this.#onStep?.(name);
    };
    const dataLink = join(this.dir, DATA_DIR);
    const previous = await readlink(dataLink).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    const removedNames = topLevelNames(this.#payload).filter((name) => !topLevelNames(payload).includes(name));

    const timestampDir = await this.#makeTimestampDir();
    await step('mkdir');
    for (const [name, content] of Object.entries(payload)) {
      const file = join(this.dir, timestampDir, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content, { mode: this.#fileMode });
      await chmod(file, this.#fileMode);
    }
    await step('write');
    const tmpLink = join(this.dir, DATA_TMP);
    await symlink(timestampDir, tmpLink);
    await step('symlink-tmp');
    const renamedAt = performance.now();
    this.#renamedAt = renamedAt;
    await rename(tmpLink, dataLink);
    await step('rename');
    for (const name of topLevelNames(payload)) {
      const link = join(this.dir, name);
      const exists = await lstat(link).then(
        () => true,
        () => false,
      );
      if (!exists) await symlink(join(DATA_DIR, name), link);
    }
    await step('links');
    for (const name of removedNames) await rm(join(this.dir, name), { force: true });
    await step('prune');
    if (previous !== undefined) await rm(join(this.dir, previous), { recursive: true, force: true });
    await step('remove-old');

    this.#payload = { ...payload };
    this.#updates++;
    return { timestampDir, renamedAt };
  }

  /** One update that changes (or adds) a single key and keeps the others. */
  set(name: string, content: string | Uint8Array): Promise<SwapResult> {
    return this.update({ ...this.#payload, [name]: content });
  }

  /** One update whose payload no longer has `name`: its user-visible link is removed. */
  remove(name: string): Promise<SwapResult> {
    const { [name]: _removed, ...rest } = this.#payload;
    return this.update(rest);
  }

  /** The timestamped directories present (normally exactly one between updates). */
  async timestampDirs(): Promise<string[]> {
    return (await readdir(this.dir)).filter((entry) => TIMESTAMP_DIR.test(entry)).sort();
  }

  /** Removes the whole volume directory. Safe to call twice. */
  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** `..<UTC date as 2006_01_02_15_04_05>.<random digits>`, created like Go's os.MkdirTemp. */
  async #makeTimestampDir(): Promise<string> {
    const d = new Date();
    const two = (n: number): string => String(n).padStart(2, '0');
    const stamp = `${d.getUTCFullYear()}_${two(d.getUTCMonth() + 1)}_${two(d.getUTCDate())}_${two(d.getUTCHours())}_${two(d.getUTCMinutes())}_${two(d.getUTCSeconds())}`;
    for (;;) {
      const name = `..${stamp}.${Math.floor(Math.random() * 2 ** 32)}`;
      try {
        await mkdir(join(this.dir, name), { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      await chmod(join(this.dir, name), 0o755);
      return name;
    }
  }
}

function topLevelNames(payload: Payload): string[] {
  return [...new Set(Object.keys(payload).map((name) => name.split(sep)[0]!))];
}

/** kubelet's own payload validation: relative, no `..` element, not starting with `..`. */
function validateKey(name: string): void {
  const parts = name.split(sep);
  if (name === '' || name.startsWith(sep) || parts.includes('..') || parts[0]!.startsWith('..')) {
    throw new RangeError(`KubeletVolume: invalid key ${JSON.stringify(name)}`);
  }
}
