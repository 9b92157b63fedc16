/**
 * The options of {@link retry} and of the backoff schedule, and their checking. Internal: gate and
 * watch check the retry options their users hand them through {@link checkRetryOptions} and
 * {@link checkBackoffOptions} with their own `where` (and the option's path), so an error names
 * the function the user called, once: `watchWithFallback(): option "retry.initialDelayMs" must be ...`.
 */
import type { Classifier } from '../classify/index.js';
import { classify as defaultClassify } from '../classify/index.js';
import { clockOption, MAX_TIMER_MS, TIMER_RANGE, type Clock } from '../shared/clock.js';
import {
  checkOptionNames,
  enumOption,
  functionOption,
  numberOption,
  objectOption,
  optionalNumberOption,
  signalOption,
  stringOption,
} from '../shared/validate.js';
import type { BackoffOptions, Jitter } from './backoff.js';
import type { RetryBudget } from './budget.js';
import type { RecoveredEvent, RetryEvent } from './events.js';

/** Options of {@link retry}. Every option is checked at the call; a bad one rejects the call. */
export interface RetryOptions extends BackoffOptions {
  /**
   * Calls in all, the first one included (cockatiel's `maxAttempts: 3` makes 4 calls; this makes 3).
   * `Infinity` retries until the deadline, the signal, or a permanent error.
   * @defaultValue 10
   */
  maxAttempts?: number | undefined;
  /**
   * Overall budget in milliseconds, from the call, covering attempts and waits. No wait that
   * would end past it is started and no attempt starts after it (the last error is thrown
   * instead), and the attempt in flight when it passes is aborted through its signal; `retry`
   * then rejects with a `TimeoutError` whose `cause` is the last error. At most 2147483647 (the
   * longest timer Node can set).
   * @defaultValue none
   */
  deadlineMs?: number | undefined;
  /**
   * A fresh time limit for each attempt: its signal aborts with a `TimeoutError` and the attempt
   * counts as a transient failure. At most 2147483647 (the longest timer Node can set).
   * @defaultValue none
   */
  attemptTimeoutMs?: number | undefined;
  /**
   * The longest wait a server may ask for (a verdict's `retryAfterMs`, from `Retry-After` or a
   * Kubernetes `retryAfterSeconds`). A longer one gives up at once with the last error (give-up
   * reason `'retry-after'`) instead of holding the call for hours or days. `maxDelayMs` does not
   * cap a server's wait below this. At most 2147483647.
   * @defaultValue 300000 (5 minutes)
   */
  maxRetryAfterMs?: number | undefined;
  /** Aborting it rejects with `signal.reason` within milliseconds, mid-wait or mid-attempt; `fn` is not called again. */
  signal?: AbortSignal | undefined;
  /**
   * Decides transient (retry) or permanent (fail now) for each error. See {@link classify}. A
   * classifier that throws, or returns no verdict, makes the error permanent (`'classifier threw'`).
   * @defaultValue classify
   */
  classify?: Classifier | undefined;
  /**
   * Called before each wait, for logs and metrics. What it throws or rejects with does not change
   * the outcome: it is published on `ridethrough:retry:hook-error`.
   */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /**
   * Called once after a success that followed failures: the place for a "recovered after N
   * attempts" log line. What it throws or rejects with does not change the outcome: it is
   * published on `ridethrough:retry:hook-error`.
   */
  onRecovered?: ((event: RecoveredEvent) => void) | undefined;
  /** A retry budget shared with other calls; see {@link retry!createRetryBudget}. @defaultValue none */
  budget?: RetryBudget | undefined;
  /** @defaultValue realClock */
  clock?: Clock | undefined;
  /**
   * A short label for the operation (`'fetch-pod'`), carried in every event and trace context
   * of the call.
   * @defaultValue none
   */
  name?: string | undefined;
}

/** A checked backoff schedule. */
export interface Schedule {
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
  readonly jitter: Jitter;
  readonly random: () => number;
}

/** Checked retry options, defaults filled in. */
export interface RetrySettings {
  readonly schedule: Schedule;
  readonly maxAttempts: number;
  readonly deadlineMs: number | undefined;
  readonly attemptTimeoutMs: number | undefined;
  readonly maxRetryAfterMs: number;
  readonly signal: AbortSignal | undefined;
  readonly classify: Classifier;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
  readonly onRecovered: ((event: RecoveredEvent) => void) | undefined;
  readonly budget: RetryBudget | undefined;
  readonly clock: Clock;
  readonly name: string | undefined;
}

const BACKOFF_OPTION_NAMES = ['initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'random'] as const;
/** Every option name of {@link BackoffOptions}. */
export const BACKOFF_OPTIONS: ReadonlySet<string> = new Set(BACKOFF_OPTION_NAMES);
/** Every option name of {@link RetryOptions}. */
export const RETRY_OPTIONS: ReadonlySet<string> = new Set([
  ...BACKOFF_OPTION_NAMES,
  'maxAttempts',
  'deadlineMs',
  'attemptTimeoutMs',
  'maxRetryAfterMs',
  'signal',
  'classify',
  'onRetry',
  'onRecovered',
  'budget',
  'clock',
  'name',
]);

const JITTERS: readonly Jitter[] = ['full', 'equal', 'decorrelated', 'none'];
const DEFAULT_MAX_DELAY_MS = 30_000;
const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;

/**
 * Checks backoff options as `where` (`'backoffDelays()'`, `'watchWithFallback()'`) received them,
 * under `optionPath` when they are one option of a bigger object (`'retry'` gives
 * `option "retry.multiplier"`). Throws a TypeError or RangeError naming `where` and the option.
 */
export function checkBackoffOptions(o: BackoffOptions, where: string, optionPath?: string): Schedule {
  checkNames(where, o, BACKOFF_OPTIONS, optionPath);
  return schedule(o, where, optionPath);
}

/**
 * Checks retry options as `where` (`'retry()'`, `'waitFor()'`) received them; throws a TypeError
 * or RangeError naming `where` and the option. `o` must already be an object.
 */
export function checkRetryOptions(o: RetryOptions, where: string, optionPath?: string): RetrySettings {
  checkNames(where, o, RETRY_OPTIONS, optionPath);
  const key = (name: string): string => optionName(optionPath, name);
  // This runs on every call: no object spread (in Node 20's V8, spreading this object cost ~9 us)
  // and no constraint objects built per call.
  return {
    schedule: schedule(o, where, optionPath),
    maxAttempts: numberOption(where, key('maxAttempts'), o.maxAttempts, 10, ATTEMPTS_RANGE),
    deadlineMs: optionalNumberOption(where, key('deadlineMs'), o.deadlineMs, TIMER_RANGE),
    attemptTimeoutMs: optionalNumberOption(where, key('attemptTimeoutMs'), o.attemptTimeoutMs, TIMER_RANGE),
    maxRetryAfterMs: numberOption(where, key('maxRetryAfterMs'), o.maxRetryAfterMs, DEFAULT_MAX_RETRY_AFTER_MS, DELAY_RANGE),
    signal: signalOption(where, o.signal, key('signal')),
    classify: functionOption<Classifier>(where, key('classify'), o.classify) ?? defaultClassify,
    onRetry: functionOption(where, key('onRetry'), o.onRetry),
    onRecovered: functionOption(where, key('onRecovered'), o.onRecovered),
    budget: objectOption<RetryBudget>(where, key('budget'), o.budget, BUDGET_METHODS),
    clock: clockOption(where, o.clock, key('clock')),
    name: stringOption(where, key('name'), o.name),
  };
}

const ATTEMPTS_RANGE = Object.freeze({ min: 1, integer: true, infinite: true });
const DELAY_RANGE = Object.freeze({ min: 0, max: MAX_TIMER_MS });
const NON_NEGATIVE = Object.freeze({ min: 0 });
const MULTIPLIER_RANGE = Object.freeze({ min: 1 });
const BUDGET_METHODS = Object.freeze(['tryAcquire', 'onSuccess']);

/** An option's name as the user wrote it: `multiplier`, or `retry.multiplier` under a path. */
function optionName(optionPath: string | undefined, name: string): string {
  return optionPath === undefined ? name : `${optionPath}.${name}`;
}

function schedule(o: BackoffOptions, where: string, optionPath: string | undefined): Schedule {
  const key = (name: string): string => optionName(optionPath, name);
  const initialDelayMs = numberOption(where, key('initialDelayMs'), o.initialDelayMs, 100, NON_NEGATIVE);
  // Not given, maxDelayMs is never below a longer initialDelayMs: only two given values can contradict.
  const maxDelayMs = numberOption(where, key('maxDelayMs'), o.maxDelayMs, Math.max(DEFAULT_MAX_DELAY_MS, initialDelayMs), DELAY_RANGE);
  if (initialDelayMs > maxDelayMs) {
    throw new RangeError(
      `${where}: option "${key('initialDelayMs')}" (${initialDelayMs}) must not exceed "${key('maxDelayMs')}" (${maxDelayMs})`,
    );
  }
  return {
    initialDelayMs,
    maxDelayMs,
    multiplier: numberOption(where, key('multiplier'), o.multiplier, 2, MULTIPLIER_RANGE),
    jitter: enumOption(where, key('jitter'), o.jitter, JITTERS, 'full'),
    random: functionOption<() => number>(where, key('random'), o.random) ?? Math.random,
  };
}

function checkNames(where: string, o: object, known: ReadonlySet<string>, optionPath: string | undefined): void {
  if (optionPath === undefined) return checkOptionNames(where, o, known);
  // Nested options are named by their path ("retry.minTimeout"), so the message reads as one option.
  for (const name of Object.keys(o)) {
    if (known.has(name)) continue;
    checkOptionNames(where, { [`${optionPath}.${name}`]: true }, new Set([...known].map((k) => `${optionPath}.${k}`)));
  }
}
