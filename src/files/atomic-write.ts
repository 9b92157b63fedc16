/**
 * atomicWriteFile: the write itself, step by step.
 *
 * Why not write-file-atomic or atomically: both write the temporary file with one `write()` and
 * ignore the byte count it returns. On a full disk write(2) returns a short count without an
 * error, and they rename the truncated file over the good one and resolve. This writer loops
 * until every byte is written (a full disk then surfaces as `ENOSPC`) and checks the size before
 * the rename. See docs/guides/atomic-writes.md.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { mkdir, unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { realClock } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels, tracingChannels } from '../shared/diagnostics.js';
import { booleanOption, checkOptionNames, describe, optionsObject, pathArgument, signalOption } from '../shared/validate.js';
import { sha256HexOffThread } from './content-hash.js';
import { errorCode, isDirectoryError, noop, notRegularFileError } from './fs-errors.js';
import { inQueue } from './write-queue.js';
import { renameOver, syncCreatedDirectories, syncDirectory, writeAll } from './write-steps.js';
import { createTempFile, removeStaleTemps, sweepDue, tempStem, type TempFile } from './temp-files.js';
import { encodingOption, modeOption } from './options.js';
import { checkCreatableDirectory, checkReplaceable, holdsSameContent, keepOwner, resolveTarget } from './write-target.js';

/** Options of {@link atomicWriteFile}. */
export interface AtomicWriteOptions {
  /**
   * Permission bits of the written file (`0o600` for a secret). Applied exactly, umask or not,
   * from the moment the temporary file is created: it is never more open than this.
   * @defaultValue the mode of the file being replaced; for a new file `0o666` minus the umask
   * (what `fs.writeFile` gives). Only permission bits, `0` to `0o777`: the setuid, setgid and
   * sticky bits have no use on a file replaced by rename, and a decimal slip (`mode: 600`) is
   * refused with the octal literal it most likely meant (`0o600`).
   */
  mode?: number | undefined;
  /**
   * Fsync the data before the rename and the directory after it, so the new content survives a
   * power cut once the promise resolves. `false` skips both, for scratch files where speed
   * matters more: the write stays atomic for readers and for a crash of the process, but after a
   * power cut the file may hold the old content or, on some file systems, nothing.
   * @defaultValue true
   */
  durable?: boolean | undefined;
  /**
   * Compare with the bytes on disk first and write nothing when they are equal (the result has
   * `written: false`), so rewriting an unchanged config does not wake the file's watchers. A
   * `mode` that differs from the file's still causes a write.
   * @defaultValue false
   */
  skipIfUnchanged?: boolean | undefined;
  /**
   * Create the parent directory (and its parents) when missing. Without it a missing directory
   * is an `ENOENT` error that names the directory.
   * @defaultValue false
   */
  mkdir?: boolean | undefined;
  /**
   * How a string `data` is turned into bytes.
   * @defaultValue 'utf8'
   */
  encoding?: BufferEncoding | undefined;
  /**
   * Cancels the write. Already aborted: the call rejects with `signal.reason` and touches
   * nothing. Aborted while waiting behind another write to the same file, or before the rename:
   * it rejects with `signal.reason`, the temporary file is removed and the target is untouched.
   * Once the rename has happened the write completes and the call resolves.
   * @defaultValue none
   */
  signal?: AbortSignal | undefined;
}

/** What {@link atomicWriteFile} did. */
export interface AtomicWriteResult {
  /** `false` only when `skipIfUnchanged` found the same bytes on disk. */
  readonly written: boolean;
  /** SHA-256 of the bytes, 64 lowercase hex digits (the same as {@link contentHash} of the data). */
  readonly hash: string;
  /**
   * Whether the directory was fsynced after the rename, so that the rename itself survives a
   * power cut. `false` with `durable: false`, when nothing was written, and when the directory
   * cannot be opened for reading (a write-only directory) or its file system cannot fsync a
   * directory: the data were fsynced, but after a power cut the file may hold its old content.
   */
  readonly directorySynced: boolean;
}

/**
 * Published on `diagnosticsChannels.files.write` (`'ridethrough:files:write'`) once per
 * {@link atomicWriteFile} call, when it settles, if anyone subscribes.
 */
export interface AtomicWriteEvent {
  /** The path as given, made absolute. */
  readonly path: string;
  /**
   * The file replaced (differs from `path` when `path` is a symlink); `path` when
   * `skipIfUnchanged` found nothing to do; `undefined` if the call failed before knowing.
   */
  readonly target: string | undefined;
  /** Whether the file was replaced. */
  readonly written: boolean;
  /** SHA-256 of the data; `undefined` if it failed before hashing. */
  readonly hash: string | undefined;
  /** Size of the data in bytes. */
  readonly bytes: number;
  /** Whether both fsyncs were on. */
  readonly durable: boolean;
  /** From the call to its settling, waiting behind earlier writes to the same path included. */
  readonly elapsedMs: number;
  /** Whether the directory was fsynced after the rename (see {@link AtomicWriteResult.directorySynced}). */
  readonly directorySynced: boolean;
  /** Why the directory fsync was skipped although `durable` was on: the error of opening or syncing it. */
  readonly directorySyncError?: unknown;
  /** The error the call rejected with, if it did. */
  readonly error?: unknown;
}

/**
 * The context of the tracing channel `tracingChannels.filesWrite` (`ridethrough:files:write`,
 * so `tracing:ridethrough:files:write:start` and so on) around each {@link atomicWriteFile}
 * call. It is the platform's object: it stays mutable, and `written` is set before `asyncEnd`.
 */
export interface AtomicWriteTraceContext {
  /** The path as given, made absolute. */
  path: string;
  /** Size of the data in bytes. */
  bytes: number;
  /** Whether the file was replaced; set once the write succeeded. */
  written?: boolean;
}

/**
 * Replaces a file's content atomically and durably: readers see the old content or the new,
 * never an empty, partial or mixed file, even if the process is killed or the disk fills up.
 *
 * How: the data is written to a temporary file in the same directory, created exclusively
 * (`O_CREAT|O_EXCL`, so never through a planted symlink) and with its final mode from the start;
 * every byte is written (short writes are continued, so a full disk surfaces as `ENOSPC`), its
 * size is checked, it is fsynced, renamed over the target, and the directory is fsynced. On any
 * error before the rename the temporary file is removed, the target keeps its old content and
 * the call rejects with the original error (`ENOSPC` stays `ENOSPC`).
 *
 * - Temporary files are named `.<name>.<tag>-<pid>-<start>-<random>.ridethrough-tmp`: the writer's
 *   process incarnation (host, boot and pid namespace; pid; start time). Ones left by a writer
 *   that was killed are removed by a later write to the same file: the first one in each process,
 *   then at most once a minute (listing a large directory is not free). One whose process is
 *   still alive is never touched; one from another container or host, which cannot be checked,
 *   once it has been untouched for an hour.
 * - Calls for the same path within a process run one after the other in call order; the last
 *   one wins. Writes from several processes are each atomic.
 * - The mode (and, when the process may set it, the owner) of the file being replaced is kept
 *   unless `mode` is given.
 * - A symlink is followed: writing to `link` replaces the file `link` points to, and `link`
 *   stays a link. In a sticky, world-writable directory (`/tmp`) a link is followed only when it
 *   belongs to this process's user or to the directory's owner, and a file that belongs to
 *   anyone else is not replaced (the kernel's `fs.protected_symlinks` and `fs.protected_regular`
 *   rules): such a write rejects with `EACCES`, marked `permanent()`, saying why. (Kubernetes ConfigMap volumes are made of such links; their content belongs to
 *   the kubelet, so write your own files elsewhere.) Hard links to the old file keep the old
 *   content, as with any replace-by-rename.
 * - A file bind-mounted on its own (a Kubernetes `subPath` mount) cannot be replaced by rename:
 *   the call rejects with an `EBUSY` error that says so (the original error is its `cause`), marked
 *   `permanent()` so that `retry` does not retry it.
 * - A directory as target rejects with `EISDIR`, a FIFO, socket or device with `EINVAL`; a missing
 *   parent directory with `ENOENT` naming it, unless `mkdir: true`. Nothing is touched.
 * - Do not modify a `Uint8Array` passed as `data` until the call settles.
 *
 * Guide: [Atomic writes and rotation-tolerant reads](../../docs/guides/atomic-writes.md).
 *
 * @param path - The file to replace or create (a string or a `file:` URL).
 * @param data - The content: a string (encoded with `options.encoding`) or bytes.
 * @param options - See {@link AtomicWriteOptions}.
 * @returns Whether the file was written and the SHA-256 of the data.
 * Bad arguments (a bad `path`, `data`, an unknown option, `mode` above `0o777`) reject the
 *   promise with a `TypeError` or `RangeError`; nothing throws at the call.
 *
 * @example
 * ```ts
 * import { atomicWriteFile } from 'ridethrough';
 * import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'example-'));
 * const kubeconfig = join(dir, 'kubeconfig');
 * await atomicWriteFile(kubeconfig, 'token: abc\n', { mode: 0o600 });
 * const again = await atomicWriteFile(kubeconfig, 'token: abc\n', { skipIfUnchanged: true });
 * console.log(again.written); // false: same bytes, the file was not touched
 * console.log((await stat(kubeconfig)).mode & 0o777); // 384 (0o600)
 * console.log(await readFile(kubeconfig, 'utf8'));
 * await rm(dir, { recursive: true });
 * ```
 */
export function atomicWriteFile(
  path: string | URL,
  data: string | Uint8Array,
  options?: AtomicWriteOptions,
): Promise<AtomicWriteResult> {
  let call: WriteCall;
  try {
    call = configure(path, data, options);
  } catch (error) {
    return Promise.reject(error); // as fs/promises does: bad arguments reject, never throw
  }
  const { file, bytes, config } = call;
  if (config.signal?.aborted) return Promise.reject(config.signal.reason);
  if (!writeTracing.hasSubscribers) return observedWrite(path, file, bytes, config);
  const context: AtomicWriteTraceContext = { path: file, bytes: bytes.length };
  return writeTracing.tracePromise(async () => {
    const result = await observedWrite(path, file, bytes, config);
    context.written = result.written;
    return result;
  }, context);
}

const WRITE_OPTIONS: ReadonlySet<string> = new Set(['mode', 'durable', 'skipIfUnchanged', 'mkdir', 'encoding', 'signal']);

interface WriteCall {
  file: string;
  bytes: Uint8Array;
  config: WriteConfig;
}

function configure(path: string | URL, data: unknown, options: AtomicWriteOptions | undefined): WriteCall {
  const where = 'atomicWriteFile()';
  const file = resolve(pathArgument(where, 'path', path, { fileUrl: true }));
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError(`${where}: "data" must be a string, a Buffer or a Uint8Array, got ${describe(data)}`);
  }
  const o = optionsObject(where, options);
  checkOptionNames(where, o, WRITE_OPTIONS);
  const config: WriteConfig = {
    mode: modeOption(where, o.mode),
    durable: booleanOption(where, 'durable', o.durable, true),
    skipIfUnchanged: booleanOption(where, 'skipIfUnchanged', o.skipIfUnchanged, false),
    mkdir: booleanOption(where, 'mkdir', o.mkdir, false),
    signal: signalOption(where, o.signal),
  };
  const encoding = encodingOption(where, o.encoding);
  return { file, bytes: typeof data === 'string' ? Buffer.from(data, encoding) : data, config };
}

/** The write in its queue, published on the plain channel when it settles. */
function observedWrite(path: string | URL, file: string, bytes: Uint8Array, config: WriteConfig): Promise<AtomicWriteResult> {
  const started = realClock.now();
  const report: WriteReport = {};
  const result = pathText(path).endsWith('/')
    ? Promise.reject(isDirectoryError(file))
    : inQueue(file, config.signal, () => writeAtomically(file, bytes, config, report));
  if (!writeChannel.hasSubscribers) return result;
  return result.then(
    (value) => {
      publishWrite(file, bytes, config, report, started, undefined);
      return value;
    },
    (error: unknown) => {
      publishWrite(file, bytes, config, report, started, { error });
      throw error;
    },
  );
}

interface WriteConfig {
  mode: number | undefined;
  durable: boolean;
  skipIfUnchanged: boolean;
  mkdir: boolean;
  signal: AbortSignal | undefined;
}

type WriteReport = { target?: string; hash?: string; written?: boolean; directorySynced?: boolean; directorySyncError?: unknown };

const writeChannel = diagnosticsChannel(diagnosticsChannels.files.write);
const writeTracing = tracingChannel<AtomicWriteTraceContext>(tracingChannels.filesWrite);

function publishWrite(
  file: string,
  bytes: Uint8Array,
  config: WriteConfig,
  report: WriteReport,
  started: number,
  failure: { error: unknown } | undefined,
): void {
  if (!writeChannel.hasSubscribers) return;
  const event: AtomicWriteEvent = {
    path: file,
    target: report.target,
    written: report.written ?? false,
    hash: report.hash,
    bytes: bytes.length,
    durable: config.durable,
    elapsedMs: realClock.now() - started,
    directorySynced: report.directorySynced ?? false,
    ...(report.directorySyncError === undefined ? {} : { directorySyncError: report.directorySyncError }),
    ...failure,
  };
  writeChannel.publish(Object.freeze(event));
}

/**
 * The write, in the steps of kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go) where
 * they match: a single file needs no timestamped directory and no `..data` link, so its steps
 * 4-7 become "temp file beside the target, then rename".
 */
async function writeAtomically(file: string, bytes: Uint8Array, config: WriteConfig, report: WriteReport): Promise<AtomicWriteResult> {
  const { signal } = config;
  // Step 1, the payload is validated: done by configure() before the call was queued.
  // Hashed while the file system works; it never rejects, so it may wait unawaited.
  const hashing = sha256HexOffThread(bytes).then((hash) => (report.hash = hash));
  // Step 2, the current version is found: the file a symlink points to, refused when the link
  // was planted by someone else in a shared (sticky, world-writable) directory.
  const { target, existing } = await resolveTarget(file);
  // Step 3, no change means no write.
  if (config.skipIfUnchanged && (await holdsSameContent(target, bytes, config.mode))) {
    report.target = file;
    return { written: false, hash: await hashing, directorySynced: false };
  }
  signal?.throwIfAborted();
  report.target = target;
  if (existing?.isDirectory()) throw isDirectoryError(target);
  // A device, FIFO or socket would be replaced by a regular file: never what was meant.
  if (existing && !existing.isFile()) throw notRegularFileError(target, existing);
  const directory = dirname(target);
  if (existing) await checkReplaceable(target, existing, directory);
  const mode = config.mode ?? (existing ? existing.mode & 0o7777 : undefined);

  // Step 4, a new place for the payload: a temp file beside the target, created exclusively.
  const stem = tempStem(basename(target));
  let created: string | undefined;
  let temp: TempFile;
  try {
    temp = await createTempFile(directory, stem, mode);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    if (!config.mkdir) {
      throw Object.assign(
        new Error(`atomicWriteFile(): the directory "${directory}" does not exist (pass mkdir: true to create it)`, { cause: error }),
        { code: 'ENOENT', path: directory },
      );
    }
    await checkCreatableDirectory(directory);
    created = await mkdir(directory, { recursive: true });
    temp = await createTempFile(directory, stem, mode);
  }
  // Steps 9-10 of kubelet remove what the previous version left; here: temp files of dead
  // writers, swept while this one is being written (never rejects).
  const sweep = sweepDue(target) ? removeStaleTemps(directory, stem) : undefined;
  let renamed = false;
  try {
    // Step 5, the payload is written: owner and mode first (fchmod, because open() applied the
    // umask; reading the umask with process.umask() would briefly set it to 0 for every thread
    // of the process), then every byte, then the size check and the fsync.
    await keepOwner(temp.handle, existing);
    if (mode !== undefined) await temp.handle.chmod(mode);
    await writeAll(temp.handle, bytes, signal);
    const [{ size }] = await Promise.all([temp.handle.stat(), config.durable ? temp.handle.sync() : undefined]);
    if (size !== bytes.length) {
      throw Object.assign(
        new Error(`atomicWriteFile(): the temporary file for "${target}" holds ${size} bytes after writing ${bytes.length}; the target was left untouched`),
        { code: 'EIO', path: target },
      );
    }
    await temp.handle.close();
    signal?.throwIfAborted();
    // Steps 6-7, the new version takes the old one's name in one rename.
    await renameOver(temp.path, target);
    renamed = true;
  } catch (error) {
    await temp.handle.close().catch(noop);
    if (!renamed) await unlink(temp.path).catch(noop);
    throw error;
  } finally {
    await sweep;
  }
  report.written = true;
  // Step 8 (kubelet does not fsync): the rename is made durable by an fsync of the directory,
  // and directories made here by fsyncs of their parents.
  let directorySynced = false;
  if (config.durable) {
    const skipped = await syncDirectory(directory);
    if (created !== undefined) await syncCreatedDirectories(created, directory);
    directorySynced = skipped === undefined;
    if (skipped !== undefined) report.directorySyncError = skipped;
  }
  report.directorySynced = directorySynced;
  return { written: true, hash: await hashing, directorySynced };
}

function pathText(path: string | URL): string {
  return typeof path === 'string' ? path : path.pathname;
}

