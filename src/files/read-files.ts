/**
 * readFilesWithRetry: several files read as one generation (a certificate and its key), riding
 * through rotation as readFileWithRetry does for one file.
 */
import { type Stats } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, normalize, sep } from 'node:path';
import { transient, type Classifier, type Verdict } from '../classify/index.js';
import { EmptyFileError } from './empty-file-error.js';
import { retry } from '../retry/index.js';
import { clockOption } from '../shared/clock.js';
import { checkOptionNames, describe, optionsObject, pathArgument, stringOption } from '../shared/validate.js';
import { changeWake } from './change-wake.js';
import { classifyParseError, readerCallbacks, readerOptionNames, readerRetryOptions } from './options.js';
import type { ReadFileWithRetryOptions } from './read.js';
import { readRegularFile } from './read-regular.js';

/**
 * Options of {@link readFilesWithRetry}: those of `readFileWithRetry` (every {@link retry!RetryOptions}
 * option, with the same defaults), except `encoding`: `parse` always receives bytes.
 *
 * @typeParam K - The names of the files (`'cert' | 'key'`).
 * @typeParam T - What `parse` returns.
 */
export interface ReadFilesWithRetryOptions<K extends string = string, T = Readonly<Record<K, Buffer>>>
  extends Omit<ReadFileWithRetryOptions<Buffer, T>, 'encoding' | 'parse' | 'maxDelayMs'> {
  /**
   * Turns the files of one generation (name -> bytes) into a value: `tls.createSecureContext`,
   * a check that the key matches the certificate. What it throws counts as the files being
   * caught mid-rotation (a key that does not match its certificate, `ERR_OSSL_X509_KEY_VALUES_MISMATCH`,
   * is exactly that) and is retried within the deadline, unless it is marked `permanent()`.
   * @defaultValue none: the record of bytes itself
   */
  parse?: ((files: Readonly<Record<K, Buffer>>) => T | PromiseLike<T>) | undefined;
  /**
   * Longest wait between reads; a change to one of the files ends a wait at once anyway.
   * @defaultValue 5000, or `initialDelayMs` if that is longer
   */
  maxDelayMs?: number | undefined;
}

const KNOWN_OPTIONS = readerOptionNames();

/** kubelet's data link: `dir/..data -> ..<timestamp>`, and `dir/name -> ..data/name`. */
const DATA_LINK = '..data';
/** Immediate re-reads when a generation changed under the read, before waiting on the backoff. */
const SAME_ATTEMPT_ROUNDS = 3;

/**
 * Reads several files that are replaced together (a certificate and its key, a token and its CA)
 * and hands `parse` the contents of one generation, never a mix of two.
 *
 * - Files in one Kubernetes volume (`dir/name -> ..data/name`): `..data` is resolved once, every
 *   file is read through that generation's directory, and `..data` is checked to still point
 *   there afterwards; if it moved, everything is read again.
 * - Other files: each is read, then all are checked (size, mtime, ctime, inode) to be the files
 *   that were read; if one changed meanwhile, everything is read again.
 * - An empty file, a missing file and anything `parse` throws are transient and retried with
 *   {@link retry} until `deadlineMs` (2 minutes), with the same classifier, events and hooks as
 *   `readFileWithRetry`. A certificate paired with the wrong key therefore never comes out.
 * - While it waits between attempts, a change in the files' directories (a `..data` flip, a file
 *   written) ends the wait at once.
 *
 * Bad arguments (an empty record, a bad path, an unknown option) reject the promise with a
 * `TypeError` or `RangeError`; nothing throws at the call.
 *
 * Guide: [Atomic writes and rotation-tolerant reads](../../docs/guides/atomic-writes.md).
 *
 * @param paths - The files by name: `{ cert: '/tls/tls.crt', key: '/tls/tls.key' }`.
 * @param options - See {@link ReadFilesWithRetryOptions}.
 * @returns What `parse` returned, or the record of bytes.
 *
 * @example
 * ```ts
 * import { readFilesWithRetry } from 'ridethrough';
 * import { mkdtemp, rm, writeFile } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'example-'));
 * await writeFile(join(dir, 'user'), 'admin');
 * // The second file arrives a little later; the change ends the wait at once.
 * setTimeout(() => void writeFile(join(dir, 'password'), 's3cret'), 30);
 * const login = await readFilesWithRetry(
 *   { user: join(dir, 'user'), password: join(dir, 'password') },
 *   { parse: (files) => ({ user: files.user.toString(), password: files.password.toString() }), deadlineMs: 5000 },
 * );
 * console.log(login.user); // admin
 * await rm(dir, { recursive: true });
 * ```
 */
export function readFilesWithRetry<K extends string>(
  paths: Readonly<Record<K, string | URL>>,
  options?: ReadFilesWithRetryOptions<K> & { parse?: undefined },
): Promise<Readonly<Record<K, Buffer>>>;
export function readFilesWithRetry<K extends string, T>(
  paths: Readonly<Record<K, string | URL>>,
  options: ReadFilesWithRetryOptions<K, T> & { parse: (files: Readonly<Record<K, Buffer>>) => T | PromiseLike<T> },
): Promise<T>;
export function readFilesWithRetry(
  paths: Readonly<Record<string, string | URL>>,
  options?: ReadFilesWithRetryOptions<string, unknown>,
): Promise<unknown> {
  let setup: ReturnType<typeof configure>;
  try {
    setup = configure(paths, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const { entries, parse, allowEmpty, classifyRead, retryOptions, clock } = setup;
  const wake = changeWake(entries.map((entry) => entry.path), clock);
  const parseErrors = new WeakSet<object>();
  const classifyAttempt: Classifier = (error) =>
    typeof error === 'object' && error !== null && parseErrors.has(error) ? classifyParseError(error, PARSE_FAILED) : classifyRead(error);

  return retry(
    async ({ signal }) => {
      wake.attemptStarted();
      try {
        const files = await readOneGeneration(entries, signal);
        for (const entry of entries) {
          if (files[entry.name]!.length === 0 && !allowEmpty) throw new EmptyFileError(entry.path);
        }
        if (parse === undefined) return Object.freeze(files);
        try {
          return await parse(Object.freeze(files));
        } catch (error) {
          if (typeof error === 'object' && error !== null) parseErrors.add(error);
          throw error;
        }
      } catch (error) {
        wake.attemptFailed();
        throw error;
      }
    },
    { ...retryOptions, clock: wake.clock, classify: classifyAttempt },
  ).finally(() => wake.close());
}

interface Entry {
  readonly name: string;
  readonly path: string;
}

const WHERE = 'readFilesWithRetry()';

function configure(paths: unknown, options: ReadFilesWithRetryOptions<string, unknown> | undefined) {
  const where = WHERE;
  if (paths === null || typeof paths !== 'object' || Array.isArray(paths)) {
    throw new TypeError(`${where}: "paths" must be an object of name -> path, got ${describe(paths)}`);
  }
  const entries: Entry[] = Object.entries(paths).map(([name, path]) => ({
    name,
    path: pathArgument(where, `paths.${name}`, path, { fileUrl: true }),
  }));
  if (entries.length === 0) throw new RangeError(`${where}: "paths" must name at least one file`);
  const o = optionsObject(where, options);
  checkOptionNames(where, o, KNOWN_OPTIONS);
  const { parse: _parse, allowEmpty: _allowEmpty, classify: _classify, name, ...rest } = o;
  const retryOptions = readerRetryOptions(where, rest, stringOption(where, 'name', name));
  return {
    entries,
    ...readerCallbacks<(files: Readonly<Record<string, Buffer>>) => unknown>(where, o),
    clock: clockOption(where, rest.clock),
    retryOptions,
  };
}

// ---------------------------------------------------------------------------------------------
// One generation

/** How one file is reached this round. */
type Located =
  | { readonly kind: 'volume'; readonly dir: string; readonly inner: string }
  | { readonly kind: 'plain' };

/** Reads every file from one generation, re-reading at once (a few times) when one moved under the read. */
async function readOneGeneration(entries: readonly Entry[], signal: AbortSignal): Promise<Record<string, Buffer>> {
  let lastMove: Error | undefined;
  for (let round = 0; round < SAME_ATTEMPT_ROUNDS; round++) {
    signal.throwIfAborted();
    const located = await Promise.all(entries.map((entry) => locate(entry.path)));
    const generations = new Map<string, string>(); // volume dir -> its ..data target, resolved once
    for (const where of located) {
      if (where.kind === 'volume' && !generations.has(where.dir)) generations.set(where.dir, await readlink(join(where.dir, DATA_LINK)));
    }
    const files: Record<string, Buffer> = {};
    const seen = new Map<string, Stats>();
    let readError: unknown;
    try {
      for (const [i, entry] of entries.entries()) {
        const where = located[i]!;
        if (where.kind === 'volume') {
          files[entry.name] = (await readRegularFile(WHERE, join(where.dir, generations.get(where.dir)!, where.inner), signal)).bytes;
        } else {
          const read = await readRegularFile(WHERE, entry.path, signal);
          files[entry.name] = read.bytes;
          seen.set(entry.path, read.stats);
        }
      }
    } catch (error) {
      readError = error;
    }
    const moved = await movedSince(generations, seen);
    if (moved === undefined) {
      if (readError !== undefined) throw readError;
      return files;
    }
    lastMove = moved; // the read error, if any, was the rotation itself: read again
  }
  throw lastMove!;
}

/** A file in a kubelet volume is a link `name -> ..data/<inner>`; anything else is read as it is. */
async function locate(path: string): Promise<Located> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch {
    return { kind: 'plain' }; // the read reports the error
  }
  if (!stats.isSymbolicLink()) return { kind: 'plain' };
  const target = normalize(await readlink(path).catch(() => ''));
  const prefix = DATA_LINK + sep;
  if (!target.startsWith(prefix)) return { kind: 'plain' };
  return { kind: 'volume', dir: dirname(path), inner: target.slice(prefix.length) };
}

/** Why the files read are not one generation any more, or `undefined` when they are. */
async function movedSince(generations: ReadonlyMap<string, string>, seen: ReadonlyMap<string, Stats>): Promise<Error | undefined> {
  for (const [dir, generation] of generations) {
    const now = await readlink(join(dir, DATA_LINK)).catch(() => undefined);
    if (now !== generation) return generationChanged(`${join(dir, DATA_LINK)} moved from ${generation} to ${now ?? 'nothing'} during the read`);
  }
  for (const [path, before] of seen) {
    const after = await stat(path).catch(() => undefined);
    if (after === undefined || !sameFile(before, after)) return generationChanged(`${basename(path)} changed while the other files were read`);
  }
  return undefined;
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

function generationChanged(message: string): Error {
  return transient(Object.assign(new Error(`readFilesWithRetry(): ${message}`), { code: 'ERR_FILES_GENERATION_CHANGED' }));
}

const PARSE_FAILED: Verdict = Object.freeze({ kind: 'transient', reason: 'parse failed (files mid-rotation?)' });
