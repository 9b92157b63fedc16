/**
 * readFileWithRetry: one file read through rotation (missing, empty, half-written), retried
 * under the rotating-file classifier until a deadline.
 */
import type { Classifier, Verdict } from '../classify/index.js';
import { EmptyFileError } from './empty-file-error.js';
import { retry, type RetryOptions } from '../retry/index.js';
import { checkOptionNames, optionsObject, pathArgument, stringOption } from '../shared/validate.js';
import { classifyParseError, encodingOption, readerCallbacks, readerOptionNames, readerRetryOptions } from './options.js';
import { readRegularFile } from './read-regular.js';

/**
 * Options of {@link readFileWithRetry}: every {@link RetryOptions} option (with the defaults
 * below where they differ from `retry`'s), plus how to decode and parse the content.
 *
 * @typeParam Content - `string` (decoded with `encoding`), or `Buffer` with `encoding: null`.
 * @typeParam T - What `parse` returns.
 */
export interface ReadFileWithRetryOptions<Content extends string | Buffer = string, T = Content> extends Omit<RetryOptions, 'deadlineMs' | 'maxAttempts' | 'maxDelayMs' | 'classify'> {
  /**
   * How to decode the bytes; `null` gives the raw `Buffer`.
   * @defaultValue 'utf8'
   */
  encoding?: (Content extends string ? BufferEncoding : null) | undefined;
  /**
   * Turns the content into a value (`JSON.parse`, a PEM check). Anything it throws is taken as
   * the file being caught mid-rotation and retried within the deadline, unless it throws an
   * error marked with `permanent()` (a file that is complete but wrong), which fails at once.
   * @defaultValue none: the content itself is returned
   */
  parse?: ((content: Content) => T | PromiseLike<T>) | undefined;
  /**
   * Accept an empty file. By default an empty file is an {@link EmptyFileError} (transient): a
   * file being rewritten in place is briefly empty, and Node accepts an empty certificate
   * without complaint, so emptiness must be checked, not caught.
   * @defaultValue false
   */
  allowEmpty?: boolean | undefined;
  /**
   * Overall time budget from the call, reads and waits included.
   * @defaultValue 120000 (2 minutes, long enough for a kubelet to be issued its certificate)
   */
  deadlineMs?: number | undefined;
  /**
   * Calls in all. Unlimited by default so that the deadline is the budget.
   * @defaultValue Infinity
   */
  maxAttempts?: number | undefined;
  /**
   * Longest wait between reads. Reading a file is cheap and a rotation completes in
   * milliseconds, so the wait is kept short to pick the new file up quickly.
   * @defaultValue 5000, or `initialDelayMs` if that is longer
   */
  maxDelayMs?: number | undefined;
  /**
   * Classifies errors of the read itself (not of `parse`, see above).
   * @defaultValue `createClassifier({ rules: [rules.rotatingFile, ...defaultRules] })`: a missing or
   * empty file is transient, a directory (`EISDIR`) or a permission error (`EACCES`) fails at once
   */
  classify?: Classifier | undefined;
  /**
   * A short label for this read ("ca-bundle"), carried in its retry events, in the events its
   * hooks get, and in the `hook-error` events of its hooks.
   * @defaultValue none
   */
  name?: string | undefined;
}

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
 * Guide: [Atomic writes and rotation-tolerant reads](../../docs/guides/atomic-writes.md).
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
  try {
    return readWithRetry(path, options);
  } catch (error) {
    return Promise.reject(error); // bad arguments reject, as fs/promises does; nothing throws at the call
  }
}

const READ_OPTIONS = readerOptionNames('encoding');

function readWithRetry(path: string | URL, options: AnyReadFileOptions | undefined): Promise<unknown> {
  const where = 'readFileWithRetry()';
  const file = pathArgument(where, 'path', path, { fileUrl: true });
  const o = optionsObject(where, options);
  checkOptionNames(where, o, READ_OPTIONS);
  const { encoding: encodingValue, parse: _parse, allowEmpty: _allowEmpty, classify: _classify, name: nameValue, ...rest } = o;
  const encoding = encodingValue === null ? null : encodingOption(where, encodingValue);
  const { parse, allowEmpty, classifyRead } = readerCallbacks<(content: string | Buffer) => unknown>(where, o);
  const name = stringOption(where, 'name', nameValue);

  // Errors thrown by `parse` are told apart by identity: they are the user's own, not wrapped.
  const parseErrors = new Set<unknown>();
  const classifyAttempt: Classifier = (error) => (parseErrors.has(error) ? classifyParseError(error, PARSE_FAILED) : classifyRead(error));

  return retry(
    async ({ signal }) => {
      const { bytes } = await readRegularFile(where, file, signal);
      const content = encoding === null ? bytes : bytes.toString(encoding);
      if (content.length === 0 && !allowEmpty) throw new EmptyFileError(file);
      if (parse === undefined) return content;
      try {
        return await parse(content);
      } catch (error) {
        parseErrors.add(error);
        throw error;
      }
    },
    { ...readerRetryOptions(where, rest, name), classify: classifyAttempt },
  );
}

/** What the implementation of the overloads above accepts. */
type AnyReadFileOptions = Omit<ReadFileWithRetryOptions, 'encoding' | 'parse'> & {
  encoding?: BufferEncoding | null | undefined;
  parse?: ((content: never) => unknown) | undefined;
};

const PARSE_FAILED: Verdict = Object.freeze({ kind: 'transient', reason: 'parse failed (file mid-rotation?)' });
