/**
 * A Kubernetes projected volume on a temp directory, updated exactly the way kubelet's
 * AtomicWriter updates a ConfigMap, Secret, downward-API or service-account-token volume
 * (kubernetes/pkg/volume/util/atomic_writer.go, `Write`). The layout:
 *
 * ```text
 * dir/
 *   ..2024_05_01_12_00_00.1234567890/   the real files of the current version (mode 0755)
 *     token
 *   ..data -> ..2024_05_01_12_00_00.1234567890
 *   token  -> ..data/token                user-visible link, created once, never rewritten
 * ```
 *
 * Each step of an update is a separate `fs.promises` call, so a watcher in the same process sees
 * the steps interleaved with its own work, as it would with a real kubelet.
 */
import { chmod, lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { checkOptionNames, describe, functionOption, numberOption, optionsObject, pathArgument } from '../shared/validate.js';

const DATA_DIR = '..data';
const DATA_TMP = '..data_tmp';
/** What a timestamped data directory is called: `..2024_05_01_12_00_00.1234567890`. */
const TIMESTAMP_DIR = /^\.\.\d{4}(_\d\d){5}\.\d+$/;

/** File contents by path relative to the volume (`'token'`, `'nested/ca.crt'`). */
export type VolumePayload = Record<string, string | Uint8Array>;

/** What one update did. */
export interface SwapResult {
  /** Name of the new timestamped directory (`..2024_05_01_12_00_00.1234567890`). */
  readonly timestampDir: string;
  /** `performance.now()` taken just before the rename of `..data_tmp` over `..data`. */
  readonly renamedAt: number;
}

/**
 * The steps of one update, in kubelet's order, as {@link KubeletVolumeOptions.onStep} names them:
 * 1. `mkdir`: a new `..<UTC timestamp>.<random>` directory, chmod 0755;
 * 2. `write`: every file of the payload written into it (nested keys get subdirectories);
 * 3. `symlink-tmp`: symlink `..data_tmp -> ..<new>`;
 * 4. `rename`: `..data_tmp` renamed over `..data` (the atomic flip: readers see old or new, never a mix);
 * 5. `links`: the top-level links `name -> ..data/name` that do not exist yet are created;
 * 6. `prune`: the top-level links no longer in the payload are removed;
 * 7. `remove-old`: the previous timestamped directory is removed.
 * No fsync anywhere, as in kubelet.
 */
export type SwapStep = 'mkdir' | 'write' | 'symlink-tmp' | 'rename' | 'links' | 'prune' | 'remove-old';

/** Options of {@link projectVolume} and {@link KubeletVolume.create}. */
export interface KubeletVolumeOptions {
  /**
   * The volume directory: created if missing; {@link KubeletVolume.cleanup} removes it.
   * @defaultValue a new directory under `os.tmpdir()`, named `ridethrough-volume-*`
   */
  dir?: string | undefined;
  /**
   * Mode of the projected files (a Secret's `defaultMode`), an integer from 0 to 0o777.
   * @defaultValue `0o644`
   */
  fileMode?: number | undefined;
  /**
   * Called after each step of an update, awaited before the next one: a test acts mid-swap here.
   * What it throws or rejects with rejects that update.
   * @defaultValue none
   */
  onStep?: ((step: SwapStep) => void | Promise<void>) | undefined;
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['dir', 'fileMode', 'onStep']);

/**
 * A projected volume that updates itself the way kubelet does: every {@link KubeletVolume.update}
 * is one AtomicWriter sequence ending with the `..data` swap (see {@link SwapStep}).
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { KubeletVolume } from 'ridethrough/testing';
 *
 * await using volume = await KubeletVolume.create({ token: 'v1' });
 * await volume.set('token', 'v2'); // one kubelet update: new ..<timestamp> dir, ..data swapped
 * console.log(await readFile(volume.path('token'), 'utf8')); // v2
 * ```
 */
export class KubeletVolume {
  /** Absolute path of the volume directory (what the pod sees as the mount point). */
  readonly dir: string;
  #payload: VolumePayload = {};
  readonly #fileMode: number;
  readonly #onStep: KubeletVolumeOptions['onStep'];
  #updates = 0;
  #renamedAt = Number.NaN;

  private constructor(dir: string, fileMode: number, onStep: KubeletVolumeOptions['onStep']) {
    this.dir = dir;
    this.#fileMode = fileMode;
    this.#onStep = onStep;
  }

  /**
   * Creates the volume directory and projects the first payload into it, as kubelet does at
   * mount. Rejects with a TypeError or RangeError on bad arguments. The same as {@link projectVolume}.
   *
   * @example
   * ```ts
   * import { readlink } from 'node:fs/promises';
   * import { KubeletVolume } from 'ridethrough/testing';
   *
   * const volume = await KubeletVolume.create({ 'ca.crt': 'PEM' }, { fileMode: 0o600 });
   * console.log(await readlink(volume.path('ca.crt'))); // ..data/ca.crt
   * await volume.cleanup();
   * ```
   */
  static async create(payload: VolumePayload, options?: KubeletVolumeOptions): Promise<KubeletVolume> {
    const where = 'KubeletVolume.create()';
    const given = optionsObject(where, options);
    checkOptionNames(where, given, OPTION_NAMES);
    const fileMode = numberOption(where, 'fileMode', given.fileMode, 0o644, { integer: true, min: 0, max: 0o777 });
    const onStep = functionOption<NonNullable<KubeletVolumeOptions['onStep']>>(where, 'onStep', given.onStep);
    checkPayload(where, payload);
    let dir: string;
    if (given.dir === undefined) dir = await mkdtemp(join(tmpdir(), 'ridethrough-volume-'));
    else await mkdir((dir = pathArgument(where, 'dir', given.dir)), { recursive: true });
    const volume = new KubeletVolume(dir, fileMode, onStep);
    await volume.update(payload);
    return volume;
  }

  /** The user-visible path of a key: `volume.path('token')` is `<dir>/token`. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** The current payload (what the files say after the last update), a copy. */
  get payload(): Readonly<VolumePayload> {
    return { ...this.#payload };
  }

  /**
   * `performance.now()` taken just before the latest rename of `..data_tmp` over `..data`. Set
   * before the rename starts, so a watcher callback that the rename triggers always sees it.
   * `NaN` before the first update.
   */
  get renamedAt(): number {
    return this.#renamedAt;
  }

  /** How many updates have been projected, the first one included. */
  get updates(): number {
    return this.#updates;
  }

  /**
   * Projects a complete new payload: keys missing from it disappear from the volume. Run one
   * update at a time, as kubelet does. Rejects with a TypeError or RangeError on a bad payload.
   */
  async update(payload: VolumePayload): Promise<SwapResult> {
    checkPayload('KubeletVolume.update()', payload);
    const step = async (name: SwapStep): Promise<void> => {
      await this.#onStep?.(name);
    };
    const dataLink = join(this.dir, DATA_DIR);
    const previous = await readlink(dataLink).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    const kept = topLevelNames(payload);
    const removedNames = topLevelNames(this.#payload).filter((name) => !kept.includes(name));

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
    for (const name of kept) {
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

  /** The timestamped directories present (exactly one between updates), sorted. */
  async timestampDirs(): Promise<string[]> {
    return (await readdir(this.dir)).filter((entry) => TIMESTAMP_DIR.test(entry)).sort();
  }

  /** Removes the whole volume directory. Safe to call twice. */
  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** {@link KubeletVolume.cleanup}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
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

/**
 * Creates a projected volume with its first payload: the same as {@link KubeletVolume.create}.
 * Rejects with a TypeError or RangeError on bad arguments (a key kubelet would refuse included).
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { projectVolume } from 'ridethrough/testing';
 *
 * const volume = await projectVolume({ 'config.json': '{"level":1}' });
 * try {
 *   await volume.update({ 'config.json': '{"level":2}' });
 *   console.log(await readFile(volume.path('config.json'), 'utf8')); // {"level":2}
 *   console.log((await volume.timestampDirs()).length); // 1: the old version is gone
 * } finally {
 *   await volume.cleanup();
 * }
 * ```
 */
export function projectVolume(payload: VolumePayload, options?: KubeletVolumeOptions): Promise<KubeletVolume> {
  return KubeletVolume.create(payload, options);
}

function topLevelNames(payload: VolumePayload): string[] {
  return [...new Set(Object.keys(payload).map((name) => name.split(sep)[0]!))];
}

/** A plain object of strings or bytes, with keys kubelet accepts: relative, no `..` element, not starting with `..`. */
function checkPayload(where: string, payload: unknown): asserts payload is VolumePayload {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new TypeError(`${where}: "payload" must be an object of file contents, got ${describe(payload)}`);
  }
  for (const [name, content] of Object.entries(payload)) {
    if (typeof content !== 'string' && !(content instanceof Uint8Array)) {
      throw new TypeError(`${where}: payload key ${JSON.stringify(name)} must be a string or a Uint8Array, got ${describe(content)}`);
    }
    const parts = name.split(sep);
    if (name === '' || name.startsWith(sep) || parts.includes('..') || parts[0]!.startsWith('..') || name.includes('\0')) {
      throw new RangeError(`${where}: payload key ${JSON.stringify(name)} is not a relative path kubelet accepts`);
    }
  }
}
