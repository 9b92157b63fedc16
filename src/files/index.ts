/**
 * Files that survive crashes, full disks and rotation: an atomic, durable writer, a reader that
 * rides through a file being replaced, and a content hash for change detection.
 *
 * Why not write-file-atomic or atomically: both write the temporary file with one `write()` and
 * ignore the byte count it returns. On a full disk write(2) returns a short count without an
 * error, and they rename the truncated file over the good one and resolve. This writer loops
 * until every byte is written (a full disk then surfaces as `ENOSPC`) and checks the size before
 * the rename. See docs/guides/atomic-writes.md.
 */
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { constants as fsConstants, readlinkSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createClassifier, defaultRules, EmptyFileError, permanent, rules, type Classifier, type Verdict } from '../classify/index.js';
import { retry, type RetryOptions } from '../retry/index.js';
import { realClock } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { booleanOption, describe, functionOption, optionsObject, pathArgument, signalOption } from '../shared/validate.js';

// ---------------------------------------------------------------------------------------------
// contentHash

/**
 * The SHA-256 of some content, as 64 lowercase hex digits.
 *
 * - A `Uint8Array` (a `Buffer`) is hashed as its bytes.
 * - A string is hashed as its UTF-8 bytes, so the hash of a file's text equals the hash of its
 *   bytes and the `hash` that {@link atomicWriteFile} returns for it.
 * - Any other value is hashed as the UTF-8 bytes of its canonical JSON text: object keys sorted
 *   (by UTF-16 code units, recursively), no whitespace, strings and numbers written exactly as
 *   `JSON.stringify` writes them. For the values it accepts this is the JSON Canonicalization
 *   Scheme (RFC 8785), so equal content gives equal hashes whatever the key order, and other
 *   languages can reproduce the hash.
 *
 * Values JSON cannot represent faithfully are refused with a `TypeError` naming where they are
 * (`value.spec.replicas`) instead of being hashed as something surprising: `undefined` (except
 * as an object property, which JSON omits), functions, symbols, bigints, `NaN` and `Infinity`,
 * cycles, and objects whose JSON form loses their content (`Map`, `Set`, `RegExp`, `Error`,
 * `Promise`, typed arrays nested inside a value). An object with a `toJSON()` method (a `Date`)
 * is hashed as what that method returns, as `JSON.stringify` does.
 *
 * A typical use: stamp a pod template with the hash of the configuration it mounts, so the
 * pods roll when the configuration changes and only then.
 *
 * @param value - Bytes, a string, or a JSON value.
 * @returns 64 lowercase hex digits.
 * @throws TypeError for a value JSON cannot represent faithfully.
 *
 * @example
 * ```ts
 * import { contentHash } from 'ridethrough';
 *
 * const a = contentHash({ image: 'app:1.2', env: { LOG: 'debug', PORT: 8080 } });
 * const b = contentHash({ env: { PORT: 8080, LOG: 'debug' }, image: 'app:1.2' });
 * console.log(a === b); // true: key order does not matter
 * console.log(contentHash('hello') === contentHash(Buffer.from('hello'))); // true
 * const annotations = { 'example.com/config-hash': a.slice(0, 16) };
 * console.log(annotations);
 * ```
 */
export function contentHash(value: unknown): string {
  if (typeof value === 'string' || value instanceof Uint8Array) return sha256Hex(value);
  return sha256Hex(canonicalJson(value, 'value', new Set()));
}

function sha256Hex(content: string | Uint8Array): string {
  // A string is hashed as its UTF-8 bytes (Hash#update's default encoding).
  return createHash('sha256').update(content).digest('hex');
}

/** From this size on, a write hashes its data on the thread pool: ~1.3 ms of main thread per MiB saved. */
const HASH_OFF_THREAD_BYTES = 64 * 1024;

/** sha256Hex of bytes; large ones on the thread pool (WebCrypto copies them first), so the event loop keeps running. */
async function sha256HexOffThread(bytes: Uint8Array): Promise<string> {
  if (bytes.length < HASH_OFF_THREAD_BYTES) return sha256Hex(bytes);
  try {
    return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
  } catch {
    return sha256Hex(bytes); // so that it never rejects
  }
}

function canonicalJson(value: unknown, where: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw notJson(where, `${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'object':
      break;
    case 'undefined':
      throw notJson(where, 'undefined is not a JSON value');
    default:
      throw notJson(where, `${describe(value)} (${typeof value}) is not a JSON value`);
  }
  if (value === null) return 'null';
  if (ancestors.has(value)) throw notJson(where, 'the value contains a cycle');
  const lossy = lossyKind(value);
  if (lossy !== undefined) throw notJson(where, `a ${lossy} has no faithful JSON form`);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // As JSON.stringify does: a Date becomes its ISO string.
    ancestors.add(value);
    try {
      return canonicalJson(toJSON.call(value, ''), where, ancestors);
    } finally {
      ancestors.delete(value);
    }
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    return canonicalJson(value.valueOf(), where, ancestors);
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items: string[] = [];
      for (let i = 0; i < value.length; i++) items.push(canonicalJson(value[i], `${where}[${i}]`, ancestors));
      return `[${items.join(',')}]`;
    }
    const record = value as Record<string, unknown>;
    const members: string[] = [];
    // Default sort compares UTF-16 code units, the order RFC 8785 prescribes.
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member === undefined) continue; // JSON omits it; so do we
      members.push(`${JSON.stringify(key)}:${canonicalJson(member, propertyPath(where, key), ancestors)}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}

function lossyKind(value: object): string | undefined {
  if (value instanceof Map) return 'Map';
  if (value instanceof Set) return 'Set';
  if (value instanceof WeakMap) return 'WeakMap';
  if (value instanceof WeakSet) return 'WeakSet';
  if (value instanceof RegExp) return 'RegExp';
  if (value instanceof Error) return 'Error';
  if (value instanceof Promise) return 'Promise';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 'binary buffer (hash it on its own)';
  return undefined;
}

function propertyPath(where: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;
}

function notJson(where: string, why: string): TypeError {
  return new TypeError(`contentHash(): ${where}: ${why}; pass bytes, a string, or a JSON value`);
}

// ---------------------------------------------------------------------------------------------
// atomicWriteFile

/** Options of {@link atomicWriteFile}. */
export interface AtomicWriteOptions {
  /**
   * Permission bits of the written file (`0o600` for a secret). Applied exactly, umask or not,
   * from the moment the temporary file is created: it is never more open than this.
   * @defaultValue the mode of the file being replaced; for a new file `0o666` minus the umask
   * (what `fs.writeFile` gives)
   */
  mode?: number;
  /**
   * Fsync the data before the rename and the directory after it, so the new content survives a
   * power cut once the promise resolves. `false` skips both, for scratch files where speed
   * matters more: the write stays atomic for readers and for a crash of the process, but after a
   * power cut the file may hold the old content or, on some file systems, nothing.
   * @defaultValue true
   */
  durable?: boolean;
  /**
   * Compare with the bytes on disk first and write nothing when they are equal (the result has
   * `written: false`), so rewriting an unchanged config does not wake the file's watchers. A
   * `mode` that differs from the file's still causes a write.
   * @defaultValue false
   */
  skipIfUnchanged?: boolean;
  /**
   * Create the parent directory (and its parents) when missing. Without it a missing directory
   * is an `ENOENT` error that names the directory.
   * @defaultValue false
   */
  mkdir?: boolean;
  /**
   * How a string `data` is turned into bytes.
   * @defaultValue 'utf8'
   */
  encoding?: BufferEncoding;
  /**
   * Cancels the write. Already aborted: the call rejects with `signal.reason` and touches
   * nothing. Aborted while waiting behind another write to the same file, or before the rename:
   * it rejects with `signal.reason`, the temporary file is removed and the target is untouched.
   * Once the rename has happened the write completes and the call resolves.
   * @defaultValue none
   */
  signal?: AbortSignal;
}

/** What {@link atomicWriteFile} did. */
export interface AtomicWriteResult {
  /** `false` only when `skipIfUnchanged` found the same bytes on disk. */
  readonly written: boolean;
  /** SHA-256 of the bytes, 64 lowercase hex digits (the same as {@link contentHash} of the data). */
  readonly hash: string;
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
  /** The error the call rejected with, if it did. */
  readonly error?: unknown;
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
 * - Temporary files are named `.<name>.<host tag>-<pid>-<random>.ridethrough-tmp`. Ones left by
 *   a writer that was killed are removed by a later write to the same file: the first one in
 *   each process, then at most once a minute (listing a large directory is not free). One whose
 *   process is still alive is never touched.
 * - Calls for the same path within a process run one after the other in call order; the last
 *   one wins. Writes from several processes are each atomic.
 * - The mode (and, when the process may set it, the owner) of the file being replaced is kept
 *   unless `mode` is given.
 * - A symlink is followed: writing to `link` replaces the file `link` points to, and `link`
 *   stays a link. (Kubernetes ConfigMap volumes are made of such links; their content belongs to
 *   the kubelet, so write your own files elsewhere.) Hard links to the old file keep the old
 *   content, as with any replace-by-rename.
 * - A file bind-mounted on its own (a Kubernetes `subPath` mount) cannot be replaced by rename:
 *   the call rejects with an `EBUSY` error that says so (the original error is its `cause`), marked
 *   `permanent()` so that `retry` does not retry it.
 * - A directory as target rejects with `EISDIR`, a FIFO, socket or device with `EINVAL`; a missing
 *   parent directory with `ENOENT` naming it, unless `mkdir: true`. Nothing is touched.
 * - Do not modify a `Uint8Array` passed as `data` until the call settles.
 *
 * @param path - The file to replace or create (a string or a `file:` URL).
 * @param data - The content: a string (encoded with `options.encoding`) or bytes.
 * @param options - See {@link AtomicWriteOptions}.
 * @returns Whether the file was written and the SHA-256 of the data.
 * @throws TypeError or RangeError, synchronously, for a bad `path`, `data` or option.
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
  const where = 'atomicWriteFile()';
  const file = resolve(pathArgument(where, 'path', path, { fileUrl: true }));
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError(`${where}: "data" must be a string, a Buffer or a Uint8Array, got ${describe(data)}`);
  }
  const o = optionsObject(where, options);
  const config: WriteConfig = {
    mode: modeOption(where, o.mode),
    durable: booleanOption(where, 'durable', o.durable, true),
    skipIfUnchanged: booleanOption(where, 'skipIfUnchanged', o.skipIfUnchanged, false),
    mkdir: booleanOption(where, 'mkdir', o.mkdir, false),
    signal: signalOption(where, o.signal),
  };
  const encoding = encodingOption(where, o.encoding);
  if (config.signal?.aborted) return Promise.reject(config.signal.reason);

  const started = realClock.now();
  const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data;
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

type WriteReport = { target?: string; hash?: string; written?: boolean };

const writeChannel = diagnosticsChannel(diagnosticsChannels.files.write);

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
    ...failure,
  };
  writeChannel.publish(event);
}

async function writeAtomically(file: string, bytes: Uint8Array, config: WriteConfig, report: WriteReport): Promise<AtomicWriteResult> {
  const { signal } = config;
  // Hashed while the file system works; it never rejects, so it may wait unawaited.
  const hashing = sha256HexOffThread(bytes).then((hash) => (report.hash = hash));
  if (config.skipIfUnchanged && (await holdsSameContent(file, bytes, config.mode))) {
    report.target = file;
    return { written: false, hash: await hashing };
  }
  signal?.throwIfAborted();
  const { target, existing } = await resolveTarget(file);
  report.target = target;
  if (existing?.isDirectory()) throw isDirectoryError(target);
  // A device, FIFO or socket would be replaced by a regular file: never what was meant.
  if (existing && !existing.isFile()) throw notRegularFileError(target, existing);
  const mode = config.mode ?? (existing ? existing.mode & 0o7777 : undefined);

  const directory = dirname(target);
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
    created = await mkdir(directory, { recursive: true });
    temp = await createTempFile(directory, stem, mode);
  }
  // Sweep temp files of dead writers while this one is being written; never rejects.
  const sweep = sweepDue(target) ? removeStaleTemps(directory, stem) : undefined;
  let renamed = false;
  try {
    await keepOwner(temp.handle, existing);
    if (mode !== undefined && mode !== (mode & 0o777 & ~process.umask())) {
      // open() applied the umask (or cannot set special bits): fix it before any byte is written.
      await temp.handle.chmod(mode);
    }
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
  if (config.durable) {
    await syncDirectory(directory);
    // Directories made here need their own entries made durable in their parents.
    if (created !== undefined) await syncCreatedDirectories(created, directory);
  }
  return { written: true, hash: await hashing };
}

/**
 * Whether `file` (through any symlink) is a regular file holding exactly `bytes`, with permission
 * bits `mode` if given. Three round trips: open, then read and stat together, then close. Any
 * failure (no file, no read permission) just means "write it".
 */
async function holdsSameContent(file: string, bytes: Uint8Array, mode: number | undefined): Promise<boolean> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (for a regular file it changes nothing).
    handle = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch {
    return false;
  }
  try {
    const buffer = Buffer.allocUnsafe(bytes.length + 1);
    // A regular file reads short only at its end, so one read of a byte more than expected sees
    // all of it, or that it is longer. (Past 2 GiB, Linux caps a read: such a file is rewritten.)
    const [stats, { bytesRead }] = await Promise.all([handle.stat(), handle.read(buffer, 0, buffer.length, 0)]);
    return (
      stats.isFile() &&
      (mode === undefined || (stats.mode & 0o7777) === mode) &&
      bytesRead === bytes.length &&
      buffer.subarray(0, bytesRead).equals(bytes)
    );
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/**
 * The file that will be replaced, and its stats if it exists. A symlink is followed to the file
 * it points to; for a dangling one that is the missing file at the end of the chain, which the
 * write then creates (as fs.writeFile does) instead of replacing the link. Symlinked parent
 * directories need no resolving: the temp file goes beside the target either way.
 */
async function resolveTarget(file: string): Promise<{ target: string; existing: Stats | undefined }> {
  let entry: Stats;
  try {
    entry = await lstat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { target: file, existing: undefined };
    throw error;
  }
  if (!entry.isSymbolicLink()) return { target: file, existing: entry };
  try {
    const target = await realpath(file);
    return { target, existing: await stat(target) };
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  let candidate = file;
  for (let hops = 0; ; hops++) {
    let link: string;
    try {
      link = await readlink(candidate);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EINVAL' || code === 'ENOENT') return { target: candidate, existing: undefined }; // the end of the chain
      throw error;
    }
    if (hops === 40) {
      throw Object.assign(new Error(`atomicWriteFile(): too many symbolic links resolving "${file}"`), { code: 'ELOOP', path: file });
    }
    candidate = resolve(dirname(candidate), link);
  }
}

// Temporary files: `.<stem>.<tag>-<pid>-<12 hex>.ridethrough-tmp`. The tag identifies the host and
// pid namespace, so a pid is only ever checked in the namespace where it means something.
const TEMP_SUFFIX = '.ridethrough-tmp';
const TEMP_TAIL = /^([0-9a-f]{8})-([1-9][0-9]{0,9})-[0-9a-f]{12}\.ridethrough-tmp$/;
/** A temp file from another host or pid namespace counts as abandoned once untouched this long. */
const FOREIGN_TEMP_STALE_MS = 60 * 60 * 1000;

let cachedOwnerTag: string | undefined;
function ownerTag(): string {
  if (cachedOwnerTag === undefined) {
    let pidNamespace = '';
    try {
      pidNamespace = readlinkSync('/proc/self/ns/pid'); // 'pid:[4026531836]' on Linux; once per process
    } catch {
      // not Linux: hostname alone
    }
    cachedOwnerTag = sha256Hex(`${hostname()}\0${pidNamespace}`).slice(0, 8);
  }
  return cachedOwnerTag;
}

/** The target's name as it appears in temp names: itself, or a hash when too long for NAME_MAX. */
function tempStem(name: string): string {
  return Buffer.byteLength(name) <= 200 ? name : `#${sha256Hex(name).slice(0, 16)}`;
}

interface TempFile {
  readonly path: string;
  readonly handle: FileHandle;
}

async function createTempFile(directory: string, stem: string, mode: number | undefined): Promise<TempFile> {
  const createMode = mode === undefined ? 0o666 : mode & 0o777;
  for (let tries = 1; ; tries++) {
    const path = join(directory, `.${stem}.${ownerTag()}-${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
    try {
      // 'wx' = O_CREAT|O_EXCL: fails on anything already there, a planted symlink included.
      return { path, handle: await open(path, 'wx', createMode) };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST' || tries === 3) throw error;
    }
  }
}

/**
 * Listing a directory costs about a millisecond per thousand entries, so a target is swept on its
 * first write in this process (which finds what crashed writers, a previous run of this process
 * included, left behind) and then at most once a minute, not on every write.
 */
const SWEEP_INTERVAL_MS = 60_000;
const lastSweeps = new Map<string, number>();

function sweepDue(target: string): boolean {
  const now = realClock.now();
  const last = lastSweeps.get(target);
  if (last !== undefined && now - last < SWEEP_INTERVAL_MS) return false;
  if (lastSweeps.size >= 10_000) lastSweeps.clear(); // forgetting only costs an early sweep
  lastSweeps.set(target, now);
  return true;
}

async function removeStaleTemps(directory: string, stem: string): Promise<void> {
  try {
    const prefix = `.${stem}.`;
    const tag = ownerTag();
    for (const name of await readdir(directory)) {
      if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
      const match = TEMP_TAIL.exec(name.slice(prefix.length));
      if (!match) continue;
      const path = join(directory, name);
      const abandoned =
        match[1] === tag ? !processIsAlive(Number(match[2])) : await untouchedFor(path, directory, FOREIGN_TEMP_STALE_MS);
      if (abandoned) await unlink(path).catch(noop);
    }
  } catch {
    // Best effort: an unreadable directory must not fail the write.
  }
}

function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

async function untouchedFor(path: string, directory: string, ms: number): Promise<boolean> {
  // "Now" is the directory's mtime, just set by the creation of our own temp file: the file
  // system's clock (the server's, on a network file system), not this machine's.
  const [theirs, now] = await Promise.all([lstat(path), lstat(directory)]);
  return now.mtimeMs - theirs.mtimeMs > ms;
}

async function keepOwner(handle: FileHandle, existing: { uid: number; gid: number } | undefined): Promise<void> {
  if (!existing || !process.geteuid || !process.getegid) return;
  if (existing.uid === process.geteuid() && existing.gid === process.getegid()) return;
  try {
    await handle.chown(existing.uid, existing.gid);
  } catch (error) {
    // Only root may give a file away; others get the file as their own, as with any rewrite.
    if (errorCode(error) !== 'EPERM') throw error;
  }
}

/** Larger writes go in pieces so an abort is seen between them. */
const WRITE_CHUNK = 4 * 1024 * 1024;

async function writeAll(handle: FileHandle, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    signal?.throwIfAborted();
    const length = Math.min(bytes.length - offset, WRITE_CHUNK);
    // write(2) may write fewer bytes than asked without an error (a disk filling up): continue
    // from where it stopped; the next call then reports the real error (ENOSPC).
    const { bytesWritten } = await handle.write(bytes, offset, length, offset);
    if (bytesWritten === 0) {
      throw Object.assign(new Error(`atomicWriteFile(): write made no progress at byte ${offset} of ${bytes.length}`), { code: 'EIO' });
    }
    offset += bytesWritten;
  }
}

async function renameOver(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    if (errorCode(error) !== 'EBUSY') throw error;
    const { errno } = error as NodeJS.ErrnoException;
    // Marked permanent: EBUSY is usually worth a retry, but a mount point stays a mount point.
    throw permanent(Object.assign(
      new Error(
        `atomicWriteFile(): "${target}" cannot be replaced by rename (EBUSY): it is most likely a bind mount of a single file ` +
          '(a Kubernetes subPath or a file mounted into a container); mount its directory instead',
        { cause: error },
      ),
      { code: 'EBUSY', errno, syscall: 'rename', path: target },
    ));
  }
}

async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(directory, 'r');
  } catch (error) {
    if (cannotSyncDirectory(error)) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!cannotSyncDirectory(error)) throw error;
  } finally {
    await handle.close();
  }
}

/** Errors that mean "this platform or file system cannot fsync a directory", not "I/O failed". */
function cannotSyncDirectory(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'EINVAL' || code === 'ENOTSUP' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM';
}

async function syncCreatedDirectories(first: string, last: string): Promise<void> {
  // mkdir -p created `first` .. `last`; each one's entry lives in its parent (`last`'s own
  // content was synced already).
  for (let directory = last; ; directory = dirname(directory)) {
    await syncDirectory(dirname(directory));
    if (directory === first || dirname(directory) === directory) return;
  }
}

// Per-path queue: calls for one path run in call order, so the last call's content wins.
const queues = new Map<string, Promise<void>>();

function inQueue<T>(key: string, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> {
  let started = false;
  const previous = queues.get(key);
  const run = (): Promise<T> => {
    started = true;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return task();
  };
  const result = previous ? previous.then(run) : run();
  const tail = result.then(noop, noop);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  if (!previous || !signal) return result;
  // Waiting behind another write: an abort rejects now; the task will see the signal and skip.
  return new Promise<T>((resolvePromise, rejectPromise) => {
    const onAbort = (): void => {
      if (!started) rejectPromise(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    result.then(resolvePromise, rejectPromise).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

// ---------------------------------------------------------------------------------------------
// readFileWithRetry

/**
 * Options of {@link readFileWithRetry}: every {@link RetryOptions} option (with the defaults
 * below where they differ from `retry`'s), plus how to decode and parse the content.
 *
 * @typeParam Content - `string` (decoded with `encoding`), or `Buffer` with `encoding: null`.
 * @typeParam T - What `parse` returns.
 */
export interface ReadFileWithRetryOptions<Content extends string | Buffer = string, T = Content> extends RetryOptions {
  /**
   * How to decode the bytes; `null` gives the raw `Buffer`.
   * @defaultValue 'utf8'
   */
  encoding?: Content extends string ? BufferEncoding : null;
  /**
   * Turns the content into a value (`JSON.parse`, a PEM check). Anything it throws is taken as
   * the file being caught mid-rotation and retried within the deadline, unless it throws an
   * error marked with `permanent()` (a file that is complete but wrong), which fails at once.
   * @defaultValue none: the content itself is returned
   */
  parse?: (content: Content) => T | PromiseLike<T>;
  /**
   * Accept an empty file. By default an empty file is an {@link EmptyFileError} (transient): a
   * file being rewritten in place is briefly empty, and Node accepts an empty certificate
   * without complaint, so emptiness must be checked, not caught.
   * @defaultValue false
   */
  allowEmpty?: boolean;
  /**
   * Overall time budget from the call, reads and waits included.
   * @defaultValue 120000 (2 minutes, long enough for a kubelet to be issued its certificate)
   */
  deadlineMs?: number;
  /**
   * Calls in all. Unlimited by default so that the deadline is the budget.
   * @defaultValue Infinity
   */
  maxAttempts?: number;
  /**
   * Longest wait between reads. Reading a file is cheap and a rotation completes in
   * milliseconds, so the wait is kept short to pick the new file up quickly.
   * @defaultValue 5000, or `initialDelayMs` if that is longer
   */
  maxDelayMs?: number;
  /**
   * Classifies errors of the read itself (not of `parse`, see above).
   * @defaultValue `createClassifier({ rules: [rules.rotatingFile, ...defaultRules] })`: a missing or
   * empty file is transient, a directory (`EISDIR`) or a permission error (`EACCES`) fails at once
   */
  classify?: Classifier;
}

let rotatingFileClassifier: Classifier | undefined;

/**
 * Reads a file that another party replaces from time to time (a certificate the kubelet
 * re-projects, a mounted ConfigMap, a key a sidecar rotates), riding through the moments when it
 * is missing, empty or half-written.
 *
 * Each attempt reads the file, refuses empty content, and runs `parse`; failures are retried with
 * {@link retry} under the `rules.rotatingFile` classifier until the `deadlineMs` budget (2
 * minutes by default) is spent. A missing file, an empty file, a truncated JSON document or PEM
 * block, and anything `parse` throws are transient; a directory, a permission error and an error
 * marked `permanent()` fail at once. The final error is the last one itself. After a success
 * that followed failures `onRecovered` is called (and `ridethrough:retry:recovered` published)
 * with the number of attempts.
 *
 * @param path - The file to read (a string or a `file:` URL).
 * @param options - See {@link ReadFileWithRetryOptions}.
 * @returns The content (a string, or a `Buffer` with `encoding: null`), or what `parse` returned.
 * @throws TypeError or RangeError, synchronously, for a bad `path` or option.
 *
 * @example
 * ```ts
 * import { readFileWithRetry } from 'ridethrough';
 * import { mkdtemp, rm, writeFile } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'example-'));
 * const file = join(dir, 'settings.json');
 * // The file shows up a little later, as a rotated file would.
 * setTimeout(() => void writeFile(file, '{"replicas": 3}'), 50);
 * const settings = await readFileWithRetry(file, {
 *   parse: (text) => JSON.parse(text) as { replicas: number },
 *   initialDelayMs: 20,
 *   deadlineMs: 5000,
 *   onRecovered: ({ attempts }) => console.log(`read after ${attempts} attempts`),
 * });
 * console.log(settings.replicas); // 3
 * await rm(dir, { recursive: true });
 * ```
 */
export function readFileWithRetry(
  path: string | URL,
  options?: ReadFileWithRetryOptions<string, string> & { parse?: undefined },
): Promise<string>;
export function readFileWithRetry<T>(
  path: string | URL,
  options: ReadFileWithRetryOptions<string, T> & { parse: (content: string) => T | PromiseLike<T> },
): Promise<T>;
export function readFileWithRetry(
  path: string | URL,
  options: ReadFileWithRetryOptions<Buffer, Buffer> & { encoding: null; parse?: undefined },
): Promise<Buffer>;
export function readFileWithRetry<T>(
  path: string | URL,
  options: ReadFileWithRetryOptions<Buffer, T> & { encoding: null; parse: (content: Buffer) => T | PromiseLike<T> },
): Promise<T>;
export function readFileWithRetry(path: string | URL, options?: AnyReadFileOptions): Promise<unknown> {
  const where = 'readFileWithRetry()';
  const file = pathArgument(where, 'path', path, { fileUrl: true });
  const o = optionsObject(where, options);
  const { encoding: encodingValue, parse: parseValue, allowEmpty: allowEmptyValue, classify: classifyValue, ...retryOptions } = o;
  const encoding = encodingValue === null ? null : encodingOption(where, encodingValue);
  const parse = functionOption<(content: string | Buffer) => unknown>(where, 'parse', parseValue);
  const allowEmpty = booleanOption(where, 'allowEmpty', allowEmptyValue, false);
  const classifyRead = functionOption<Classifier>(where, 'classify', classifyValue) ?? defaultReadClassifier();

  // Errors thrown by `parse` are told apart by identity: they are the user's own, not wrapped.
  const parseErrors = new Set<unknown>();
  const classifyAttempt: Classifier = (error) => (parseErrors.has(error) ? classifyParseError(error) : classifyRead(error));

  return retry(
    async ({ signal }) => {
      const content = encoding === null ? await readFile(file, { signal }) : await readFile(file, { encoding, signal });
      if (content.length === 0 && !allowEmpty) throw new EmptyFileError(file);
      if (parse === undefined) return content;
      try {
        return await parse(content);
      } catch (error) {
        parseErrors.add(error);
        throw error;
      }
    },
    {
      ...retryOptions,
      deadlineMs: retryOptions.deadlineMs ?? 120_000,
      maxAttempts: retryOptions.maxAttempts ?? Infinity,
      // Never below a longer initialDelayMs the caller chose (retry would reject the pair).
      maxDelayMs: retryOptions.maxDelayMs ?? Math.max(5_000, positive(retryOptions.initialDelayMs)),
      classify: classifyAttempt,
    },
  );
}

/** What the implementation of the overloads above accepts. */
type AnyReadFileOptions = Omit<ReadFileWithRetryOptions, 'encoding' | 'parse'> & {
  encoding?: BufferEncoding | null;
  parse?: (content: never) => unknown;
};

function defaultReadClassifier(): Classifier {
  rotatingFileClassifier ??= createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });
  return rotatingFileClassifier;
}

const PARSE_FAILED: Verdict = Object.freeze({ kind: 'transient', reason: 'parse failed (file mid-rotation?)' });

function classifyParseError(error: unknown): Verdict {
  // The user's own marks and aborts first; then the rotating-file reasons ('truncated JSON').
  const marked = rules.markers(error) ?? rules.abort(error);
  if (marked) return marked;
  const rotating = rules.rotatingFile(error);
  return rotating?.kind === 'transient' ? rotating : PARSE_FAILED;
}

// ---------------------------------------------------------------------------------------------
// shared helpers

function pathText(path: string | URL): string {
  return typeof path === 'string' ? path : path.pathname;
}

function isDirectoryError(path: string): Error {
  return Object.assign(new Error(`atomicWriteFile(): "${path}" is a directory; the target must be a file`), {
    code: 'EISDIR',
    path,
  });
}

function notRegularFileError(path: string, stats: Stats): Error {
  const kind = stats.isFIFO()
    ? 'a FIFO'
    : stats.isSocket()
      ? 'a socket'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : 'not a regular file';
  return Object.assign(new Error(`atomicWriteFile(): "${path}" is ${kind}; only regular files are replaced`), {
    code: 'EINVAL',
    path,
  });
}

function modeOption(where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new TypeError(`${where}: option "mode" must be an integer from 0 to 0o7777, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 0o7777) {
    throw new RangeError(`${where}: option "mode" must be an integer from 0 to 0o7777, got ${describe(value)}`);
  }
  return value;
}

function encodingOption(where: string, value: unknown): BufferEncoding {
  if (value === undefined) return 'utf8';
  if (typeof value !== 'string') throw new TypeError(`${where}: option "encoding" must be a Buffer encoding such as 'utf8', got ${describe(value)}`);
  if (!Buffer.isEncoding(value)) throw new RangeError(`${where}: option "encoding" must be a Buffer encoding such as 'utf8', got ${describe(value)}`);
  return value;
}

function positive(value: unknown): number {
  return typeof value === 'number' && value > 0 ? value : 0;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

function noop(): void {}

export { readFilesWithRetry, type ReadFilesWithRetryOptions } from './read-files.js';
