/**
 * readFileWithRetry: one file read through rotation (missing, empty, half-written), retried
 * under the rotating-file classifier until a deadline.
 */
import { readFile } from 'node:fs/promises';
import { createClassifier, defaultRules, EmptyFileError, rules, type Classifier, type Verdict } from '../classify/index.js';
import { retry, type RetryOptions } from '../retry/index.js';
import { booleanOption, functionOption, optionsObject, pathArgument } from '../shared/validate.js';
import { encodingOption } from './options.js';


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

export function defaultReadClassifier(): Classifier {
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

function positive(value: unknown): number {
  return typeof value === 'number' && value > 0 ? value : 0;
}

