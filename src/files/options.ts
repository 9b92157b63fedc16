/**
 * Options of this folder's functions: the checks the writer and the readers share, and the
 * readers' handling of their options, once for both (`readFileWithRetry` in read.ts,
 * `readFilesWithRetry` in read-files.ts): their option names (every option of `retry`, from
 * retry/options.ts, so that a new retry option reaches the readers), `parse`, `allowEmpty`,
 * `classify` and `name`, the retry options with the readers' defaults and hooks, and how their
 * errors are classified.
 */
import { createClassifier, defaultRules, rules, type Classifier, type Verdict } from '../classify/index.js';
import type { RecoveredEvent, RetryEvent, RetryOptions } from '../retry/index.js';
import { RETRY_OPTIONS } from '../retry/options.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { booleanOption, describe, functionOption } from '../shared/validate.js';

export function encodingOption(where: string, value: unknown): BufferEncoding {
  if (value === undefined) return 'utf8';
  if (typeof value !== 'string') throw new TypeError(`${where}: option "encoding" must be a Buffer encoding such as 'utf8', got ${describe(value)}`);
  if (!Buffer.isEncoding(value)) throw new RangeError(`${where}: option "encoding" must be a Buffer encoding such as 'utf8', got ${describe(value)}`);
  return value;
}

export function modeOption(where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new TypeError(`${where}: option "mode" must be an integer from 0 to 0o777, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 0o777) {
    throw new RangeError(`${where}: option "mode" must be an integer from 0 to 0o777, got ${describe(value)}${octalHint(value)}`);
  }
  return value;
}

/** `mode: 600` (decimal) is the usual slip for `0o600`. */
function octalHint(value: number): string {
  if (!Number.isInteger(value) || value < 0) return '';
  const digits = String(value);
  if (/^[0-7]{3,4}$/.test(digits) && Number.parseInt(digits, 8) <= 0o777) return ` (0o${value.toString(8)}); did you mean 0o${digits.replace(/^0/, '')}?`;
  return ` (0o${value.toString(8)}); write permission bits as an octal literal such as 0o600`;
}

// ---------------------------------------------------------------------------------------------
// The readers

/** A reader's option names: every option of `retry` (`name` last), with `own` before the readers' common ones. */
export function readerOptionNames(...own: string[]): ReadonlySet<string> {
  const retryNames = [...RETRY_OPTIONS].filter((name) => name !== 'name');
  return new Set([...retryNames, ...own, 'parse', 'allowEmpty', 'name']);
}

/** A reader's `parse`, `allowEmpty` and `classify`, checked in this order; the rotating-file classifier by default. */
export function readerCallbacks<P extends (...args: never[]) => unknown>(
  where: string,
  o: { parse?: unknown; allowEmpty?: unknown; classify?: unknown },
): { parse: P | undefined; allowEmpty: boolean; classifyRead: Classifier } {
  return {
    parse: functionOption<P>(where, 'parse', o.parse),
    allowEmpty: booleanOption(where, 'allowEmpty', o.allowEmpty, false),
    classifyRead: functionOption<Classifier>(where, 'classify', o.classify) ?? defaultReadClassifier(),
  };
}


/** The retry options a reader takes, each of them `undefined` allowed. */
export type ReaderRetryOptions = {
  [K in keyof Omit<RetryOptions, 'classify'>]?: RetryOptions[K] | undefined;
};

/**
 * `retry`'s options for a reader (but `classify`, which each reader sets): the readers' defaults
 * (a 2-minute deadline, no attempt limit, short waits), `name` passed on, and the hooks called
 * through callHook, so that what they throw or reject lands on `ridethrough:files:hook-error`
 * and never changes the read.
 */
export function readerRetryOptions(where: string, rest: ReaderRetryOptions, name: string | undefined): RetryOptions {
  const onRetry = functionOption<(event: RetryEvent) => unknown>(where, 'onRetry', rest.onRetry);
  const onRecovered = functionOption<(event: RecoveredEvent) => unknown>(where, 'onRecovered', rest.onRecovered);
  return {
    ...rest,
    ...(name === undefined ? {} : ({ name } as object)),
    deadlineMs: rest.deadlineMs ?? 120_000,
    maxAttempts: rest.maxAttempts ?? Infinity,
    // Never below a longer initialDelayMs the caller chose (retry would reject the pair).
    maxDelayMs: rest.maxDelayMs ?? Math.max(5_000, positive(rest.initialDelayMs)),
    ...(onRetry && { onRetry: (event: RetryEvent) => callHook(hookErrors, 'onRetry', onRetry, hookEvent(event, name), name) }),
    ...(onRecovered && { onRecovered: (event: RecoveredEvent) => callHook(hookErrors, 'onRecovered', onRecovered, hookEvent(event, name), name) }),
  } as RetryOptions;
}

const hookErrors = diagnosticsChannel(diagnosticsChannels.files.hookError);

/** The event a hook gets: frozen, and carrying the read's `name`. */
function hookEvent<E extends object>(event: E, name: string | undefined): E {
  if (name === undefined || (event as { name?: unknown }).name === name) return Object.isFrozen(event) ? event : Object.freeze({ ...event });
  return Object.freeze({ ...event, name });
}

function positive(value: unknown): number {
  return typeof value === 'number' && value > 0 ? value : 0;
}

let rotatingFileClassifier: Classifier | undefined;

/** The readers' classifier of read errors: `rules.rotatingFile`, then the default rules. */
export function defaultReadClassifier(): Classifier {
  rotatingFileClassifier ??= createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });
  return rotatingFileClassifier;
}

/**
 * How a reader classifies what its `parse` threw: the user's own marks and aborts first; then the
 * rotating-file reasons ('truncated JSON'); anything else is `failed`, a transient verdict.
 */
export function classifyParseError(error: unknown, failed: Verdict): Verdict {
  const marked = rules.markers(error) ?? rules.abort(error);
  if (marked) return marked;
  const rotating = rules.rotatingFile(error);
  return rotating?.kind === 'transient' ? rotating : failed;
}
