/**
 * `ridethrough/retry`: backoff retry. Call a function until it succeeds, waiting longer after
 * each transient failure, giving up at once on a permanent one, and never outliving the caller's
 * deadline or signal ({@link retry}); the schedule on its own ({@link backoffDelays}); a budget
 * that stops retry storms ({@link createRetryBudget}); a shared pace ({@link createRateLimiter}).
 *
 * ```ts
 * import { retry } from 'ridethrough/retry';
 *
 * let calls = 0;
 * const answer = await retry(async () => {
 *   if (++calls < 3) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
 *   return 'ok';
 * }, { maxAttempts: 5, initialDelayMs: 10, deadlineMs: 5_000 });
 * console.log(answer, calls); // ok 3
 * ```
 *
 * Guide: [Retry options and jitter](../../docs/guides/retry-options.md).
 *
 * @module
 */
import { classify as defaultClassify, type Classifier, type Verdict } from '../classify/index.js';
import { MAX_TIMER_MS, realClock, startTimer, type Clock } from '../shared/clock.js';
import { safeClassify } from '../classify/safe-classify.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { linkedController, timeoutError, type LinkedController } from '../shared/signals.js';
import {
  enumOption,
  functionOption,
  numberOption,
  objectOption,
  optionalNumberOption,
  optionsObject,
  requiredFunction,
  signalOption,
} from '../shared/validate.js';

/**
 * How random spread is added to each delay, so that many clients failing together do not
 * retry together. With `base` the exponential delay of this retry:
 * - `'full'`: uniform in [0, base]. The fewest total calls under contention; the default.
 * - `'equal'`: base/2 plus uniform in [0, base/2]. Never waits less than half.
 * - `'decorrelated'`: uniform in [initialDelayMs, 3 x the previous delay], capped at `maxDelayMs`
 *   (ignores `multiplier`).
 * - `'none'`: exactly base. For tests and single clients.
 */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

/** The shape of the backoff schedule, shared by {@link retry} and {@link backoffDelays}. */
export interface BackoffOptions {
  /**
   * The delay before the first retry, before jitter. 0 retries at once, without a timer.
   * @defaultValue 100
   */
  initialDelayMs?: number;
  /**
   * Each delay is the previous one times this (>= 1), until `maxDelayMs`.
   * @defaultValue 2
   */
  multiplier?: number;
  /**
   * No computed delay exceeds this (a server's Retry-After may ask for more; see {@link retry}).
   * At most 2147483647 (about 24.8 days, the longest timer Node can set).
   * @defaultValue 30000
   */
  maxDelayMs?: number;
  /**
   * How delays are randomised; see {@link Jitter}.
   * @defaultValue 'full'
   */
  jitter?: Jitter;
  /**
   * Source of random numbers in [0, 1); values outside are clamped. Inject one for repeatable tests.
   * @defaultValue Math.random
   */
  random?: () => number;
}

/** What the function under retry is called with. */
export interface AttemptContext {
  /** 1 for the first call, 2 for the first retry, and so on. */
  readonly attempt: number;
  /**
   * Aborts when the caller's `signal` aborts, when `deadlineMs` passes, or when this attempt
   * exceeds `attemptTimeoutMs`. Hand it to `fetch` and friends so in-flight work is cancelled.
   */
  readonly signal: AbortSignal;
}

/** Given to `onRetry` (and published on `ridethrough:retry:retry`) before each wait. */
export interface RetryEvent {
  /** The attempt that just failed (1 for the first call). */
  readonly attempt: number;
  /** What it threw, untouched. */
  readonly error: unknown;
  /** How the classifier judged it (always transient here). */
  readonly verdict: Verdict;
  /** How long the wait before the next attempt will be. */
  readonly delayMs: number;
  /** Milliseconds since `retry()` was called. */
  readonly elapsedMs: number;
}

/** Given to `onRecovered` (and published on `ridethrough:retry:recovered`) after a success that followed failures. */
export interface RecoveredEvent {
  /** Calls made in all, the successful one included (so at least 2). */
  readonly attempts: number;
  /** Milliseconds since `retry()` was called. */
  readonly elapsedMs: number;
  /** The error of the last failed attempt. */
  readonly lastError: unknown;
}

/**
 * Why {@link retry} stopped without a result: a `'permanent'` verdict, `maxAttempts` spent
 * (`'attempts'`), the next wait would end past `deadlineMs` or the deadline passed mid-attempt
 * (`'deadline'`), the shared budget was spent (`'budget'`), or the caller's signal aborted (`'aborted'`).
 */
export type GiveUpReason = 'permanent' | 'attempts' | 'deadline' | 'budget' | 'aborted';

/** Published on `ridethrough:retry:give-up` when {@link retry} rejects. */
export interface GiveUpEvent {
  /** Why it stopped. */
  readonly reason: GiveUpReason;
  /** Calls made in all. */
  readonly attempts: number;
  /** What `retry()` rejects with. */
  readonly error: unknown;
  /** The verdict on the last error, when one was classified. */
  readonly verdict: Verdict | undefined;
  /** Milliseconds since `retry()` was called. */
  readonly elapsedMs: number;
}

/**
 * A retry budget shared by many calls: when most calls in the process are failing, retries stop
 * instead of multiplying the load on a struggling server. Create one with {@link createRetryBudget}
 * and pass it as `budget` to every `retry()` that talks to the same server, or implement your own.
 */
export interface RetryBudget {
  /** Takes the tokens for one retry; `false` when the budget cannot pay for it (no retry then). */
  tryAcquire(): boolean;
  /** Called after every successful call; refills the budget. */
  onSuccess(): void;
}

/** Options of {@link createRetryBudget}. */
export interface RetryBudgetOptions {
  /**
   * Tokens the budget holds when full (and at the start).
   * @defaultValue 100
   */
  capacity?: number;
  /**
   * Tokens one retry takes.
   * @defaultValue 5
   */
  retryCost?: number;
  /**
   * Tokens one successful call gives back.
   * @defaultValue 1
   */
  successRefill?: number;
}

/** A {@link RetryBudget} with a look at its token count. */
export interface TokenBucketBudget extends RetryBudget {
  /** Tokens left now. */
  readonly available: number;
}

/**
 * Creates a token-bucket {@link RetryBudget} (the scheme of the AWS SDK's retry quota and gRPC's
 * retry throttling). A full budget allows a burst of `capacity / retryCost` retries; after that,
 * retries are paid for by successes, at most one per `retryCost / successRefill` successful calls.
 * First attempts are never limited, only retries.
 *
 * @example
 * ```ts
 * import { createRetryBudget, retry } from 'ridethrough';
 * const budget = createRetryBudget({ capacity: 10, retryCost: 5 });
 * let calls = 0;
 * const failing = async () => {
 *   calls++;
 *   throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
 * };
 * // Two retries drain the budget; later calls fail after their first attempt.
 * for (let i = 0; i < 3; i++) {
 *   await retry(failing, { budget, initialDelayMs: 0 }).catch(() => {});
 * }
 * console.log(calls, budget.available); // 5 0
 * ```
 */
export function createRetryBudget(options?: RetryBudgetOptions): TokenBucketBudget {
  const where = 'createRetryBudget()';
  const o = optionsObject(where, options);
  const capacity = numberOption(where, 'capacity', o.capacity, 100, { min: 0, minExclusive: true });
  const retryCost = numberOption(where, 'retryCost', o.retryCost, 5, { min: 0 });
  const successRefill = numberOption(where, 'successRefill', o.successRefill, 1, { min: 0 });
  let tokens = capacity;
  return {
    get available() {
      return tokens;
    },
    tryAcquire() {
      if (tokens < retryCost) return false;
      tokens -= retryCost;
      return true;
    },
    onSuccess() {
      tokens = Math.min(capacity, tokens + successRefill);
    },
  };
}

/** Options of {@link retry}. Every option is checked at the call; a bad one throws there. */
export interface RetryOptions extends BackoffOptions {
  /**
   * Calls in all, the first one included (cockatiel's `maxAttempts: 3` makes 4 calls; this makes 3).
   * `Infinity` retries until the deadline, the signal, or a permanent error.
   * @defaultValue 10
   */
  maxAttempts?: number;
  /**
   * Overall budget in milliseconds, from the call, covering attempts and waits. No wait that
   * would end past it is started (the last error is thrown instead, as it is when the deadline
   * cuts a wait short), and the attempt in flight
   * when it passes is aborted through its signal; `retry` then rejects with a `TimeoutError`
   * whose `cause` is the last error. At most 2147483647 (the longest timer Node can set).
   * @defaultValue none
   */
  deadlineMs?: number;
  /**
   * A fresh time limit for each attempt: its signal aborts with a `TimeoutError` and the attempt
   * counts as a transient failure. At most 2147483647 (the longest timer Node can set).
   * @defaultValue none
   */
  attemptTimeoutMs?: number;
  /** Aborting it rejects with `signal.reason` within milliseconds, mid-wait or mid-attempt; `fn` is not called again. */
  signal?: AbortSignal;
  /**
   * Decides transient (retry) or permanent (fail now) for each error. See {@link classify}.
   * @defaultValue classify
   */
  classify?: Classifier;
  /** Called before each wait. An exception thrown here ends the retry with that exception. */
  onRetry?: (event: RetryEvent) => void;
  /**
   * Called once after a success that followed failures: the place for a "recovered after N attempts"
   * log line. An exception thrown here rejects the call with that exception (the value is dropped).
   */
  onRecovered?: (event: RecoveredEvent) => void;
  /** A retry budget shared with other calls; see {@link createRetryBudget}. @defaultValue none */
  budget?: RetryBudget;
  /** @defaultValue realClock */
  clock?: Clock;
}

interface Schedule {
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  jitter: Jitter;
  random: () => number;
}

interface Config {
  schedule: Schedule;
  maxAttempts: number;
  deadlineMs: number | undefined;
  attemptTimeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  classify: Classifier;
  onRetry: ((event: RetryEvent) => void) | undefined;
  onRecovered: ((event: RecoveredEvent) => void) | undefined;
  budget: RetryBudget | undefined;
  clock: Clock;
}

const JITTERS: readonly Jitter[] = ['full', 'equal', 'decorrelated', 'none'];

function resolveSchedule(where: string, o: BackoffOptions): Schedule {
  const initialDelayMs = numberOption(where, 'initialDelayMs', o.initialDelayMs, 100, { min: 0 });
  const maxDelayMs = numberOption(where, 'maxDelayMs', o.maxDelayMs, 30_000, { min: 0, max: MAX_TIMER_MS });
  if (initialDelayMs > maxDelayMs) {
    throw new RangeError(
      `${where}: option "initialDelayMs" (${initialDelayMs}) must not exceed "maxDelayMs" (${maxDelayMs})`,
    );
  }
  return {
    initialDelayMs,
    maxDelayMs,
    multiplier: numberOption(where, 'multiplier', o.multiplier, 2, { min: 1 }),
    jitter: enumOption(where, 'jitter', o.jitter, JITTERS, 'full'),
    random: functionOption<() => number>(where, 'random', o.random) ?? Math.random,
  };
}

let defaultConfig: Config | undefined;

function resolveConfig(options: RetryOptions | undefined): Config {
  // The common `retry(fn)` skips validation of an empty options object.
  if (options === undefined && defaultConfig !== undefined) return defaultConfig;
  const where = 'retry()';
  const o = optionsObject(where, options);
  // No object spread here: in Node 20's V8, spreading this object costs ~9 us per call.
  const config: Config = {
    schedule: resolveSchedule(where, o),
    maxAttempts: numberOption(where, 'maxAttempts', o.maxAttempts, 10, { min: 1, integer: true, infinite: true }),
    deadlineMs: optionalNumberOption(where, 'deadlineMs', o.deadlineMs, { min: 0, minExclusive: true, max: MAX_TIMER_MS }),
    attemptTimeoutMs: optionalNumberOption(where, 'attemptTimeoutMs', o.attemptTimeoutMs, {
      min: 0,
      minExclusive: true,
      max: MAX_TIMER_MS,
    }),
    signal: signalOption(where, o.signal),
    classify: functionOption<Classifier>(where, 'classify', o.classify) ?? defaultClassify,
    onRetry: functionOption(where, 'onRetry', o.onRetry),
    onRecovered: functionOption(where, 'onRecovered', o.onRecovered),
    budget: objectOption<RetryBudget>(where, 'budget', o.budget, ['tryAcquire', 'onSuccess']),
    clock: objectOption<Clock>(where, 'clock', o.clock, ['now', 'sleep']) ?? realClock,
  };
  if (options === undefined) defaultConfig = config;
  return config;
}

/** Returns the next delay of a schedule each time it is called. */
function delayStream(s: Schedule): () => number {
  let base = s.initialDelayMs;
  let previous = s.initialDelayMs;
  return () => {
    const r = s.random();
    const u = r >= 0 && r < 1 ? r : r >= 1 ? 1 : 0; // NaN and negatives clamp to 0
    let delay: number;
    switch (s.jitter) {
      case 'none':
        delay = base;
        break;
      case 'full':
        delay = u * base;
        break;
      case 'equal':
        delay = base / 2 + (u * base) / 2;
        break;
      case 'decorrelated':
        delay = Math.min(s.maxDelayMs, s.initialDelayMs + u * (previous * 3 - s.initialDelayMs));
        previous = delay;
        break;
    }
    // Grows by multiplication and is capped at once, so it never overflows to Infinity or NaN.
    base = Math.min(s.maxDelayMs, base * s.multiplier);
    return Math.round(delay);
  };
}

/**
 * The delays, in milliseconds, that the schedule waits before each retry, in order and without
 * end: for loops of your own (a refresh timer, a watch loop) that want the same schedule as
 * {@link retry}. Options are checked at the call.
 *
 * @example
 * ```ts
 * import { backoffDelays } from 'ridethrough';
 * const delays = backoffDelays({ initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitter: 'none' });
 * const first = Array.from({ length: 6 }, () => delays.next().value);
 * console.log(first); // [ 100, 200, 400, 800, 1000, 1000 ]
 * ```
 */
export function backoffDelays(options?: BackoffOptions): Generator<number, never, void> {
  const next = delayStream(resolveSchedule('backoffDelays()', optionsObject('backoffDelays()', options)));
  return (function* () {
    for (;;) yield next();
  })();
}

const retryChannel = diagnosticsChannel(diagnosticsChannels.retry.retry);
const recoveredChannel = diagnosticsChannel(diagnosticsChannels.retry.recovered);
const giveUpChannel = diagnosticsChannel(diagnosticsChannels.retry.giveUp);

const ATTEMPT_TIMED_OUT: Verdict = Object.freeze({ kind: 'transient', reason: 'attempt timed out' });

/**
 * Calls `fn` until it succeeds, retrying transient failures with exponential backoff and jitter.
 *
 * - Each error is classified (`classify` option): a permanent one rejects at once; a transient one
 *   is retried after a wait from the schedule, stretched to the server's `retryAfterMs` when the
 *   verdict carries one (up to 2147483647 ms, the longest timer Node can set).
 * - It rejects with the last error itself (same identity, nothing added) when the attempts run
 *   out, the budget is spent or the next wait would end past `deadlineMs`; with `signal.reason`
 *   when the signal aborts; with a `TimeoutError` (cause: the last error) when the deadline passes
 *   during an attempt.
 * - Without a `signal`, `deadlineMs` or `attemptTimeoutMs`, the first attempt runs without timers or
 *   allocations beyond its context; a 0 ms wait never costs a timer.
 * - Nothing is left behind: every timer and listener is removed when the promise settles.
 *
 * Invalid options throw a `TypeError` or `RangeError` naming the option, synchronously.
 *
 * @param fn - The operation. It receives `{ attempt, signal }`; pass the signal on to I/O.
 * @returns What `fn` returned, once it succeeds.
 *
 * @example
 * ```ts
 * import { retry } from 'ridethrough';
 * let calls = 0;
 * const value = await retry(
 *   async ({ attempt }) => {
 *     calls = attempt;
 *     if (attempt < 3) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
 *     return 'ok';
 *   },
 *   {
 *     initialDelayMs: 10,
 *     deadlineMs: 5_000,
 *     onRecovered: ({ attempts }) => console.log(`recovered after ${attempts} attempts`),
 *   },
 * );
 * console.log(value, calls); // ok 3
 * ```
 */
export function retry<T>(fn: (context: AttemptContext) => Promise<T> | T, options?: RetryOptions): Promise<T> {
  requiredFunction('retry()', 'fn', fn);
  const config = resolveConfig(options);
  if (config.signal?.aborted) return Promise.reject(config.signal.reason);
  if (config.deadlineMs === undefined && config.attemptTimeoutMs === undefined && config.signal === undefined) {
    return firstAttemptThenRetry(fn, config);
  }
  return new Run(fn, config).start();
}

/**
 * The success path: one plain call and one `then`, no timer, no controller, no clock read unless
 * a hook or a subscriber will want the elapsed time. Only a failure builds the full Run.
 */
function firstAttemptThenRetry<T>(fn: (context: AttemptContext) => Promise<T> | T, config: Config): Promise<T> {
  const startedAt = needsElapsed(config) ? config.clock.now() : undefined;
  const onFailure = (error: unknown): Promise<T> => new Run(fn, config, startedAt).afterFailure(error);
  let result: Promise<T> | T;
  try {
    result = fn(new Context(1, undefined));
  } catch (error) {
    return onFailure(error);
  }
  const { budget } = config;
  const onSuccess =
    budget === undefined
      ? undefined
      : (value: T): T => {
          budget.onSuccess();
          return value;
        };
  // A plain value never rejects, so one `then` serves a promise and a value alike.
  return Promise.resolve(result).then(onSuccess, onFailure);
}

function needsElapsed(config: Config): boolean {
  return (
    config.onRetry !== undefined ||
    config.onRecovered !== undefined ||
    retryChannel.hasSubscribers ||
    recoveredChannel.hasSubscribers ||
    giveUpChannel.hasSubscribers
  );
}

/**
 * The attempt context. With no signal to pass on, one is made on first read only: an
 * AbortController costs microseconds, and most functions under retry never look at it.
 */
class Context implements AttemptContext {
  #signal: AbortSignal | undefined;
  constructor(
    readonly attempt: number,
    signal: AbortSignal | undefined,
  ) {
    this.#signal = signal;
  }
  get signal(): AbortSignal {
    return (this.#signal ??= new AbortController().signal);
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

class Run<T> {
  readonly #fn: (context: AttemptContext) => Promise<T> | T;
  readonly #config: Config;
  readonly #nextDelay: () => number;
  #startedAt: number | undefined;
  /**
   * What aborts the whole call: the caller's signal, or a controller linked to it that the
   * deadline also aborts. Undefined when nothing can abort the call.
   */
  #callSignal: AbortSignal | undefined;
  #attempt = 1;
  #lastError: unknown = undefined;
  #lastVerdict: Verdict | undefined;

  constructor(fn: (context: AttemptContext) => Promise<T> | T, config: Config, startedAt?: number) {
    this.#fn = fn;
    this.#config = config;
    this.#nextDelay = delayStream(config.schedule);
    this.#startedAt = startedAt;
  }

  /** Runs from the first attempt (the path with a signal or time limits). */
  start(): Promise<T> {
    this.#startedAt = this.#config.clock.now();
    return this.#run(undefined);
  }

  /** Continues after a first attempt that failed on the fast path. */
  afterFailure(error: unknown): Promise<T> {
    this.#startedAt ??= this.#config.clock.now();
    return this.#run({ ok: false, error });
  }

  #elapsed(): number {
    return this.#config.clock.now() - (this.#startedAt ?? 0);
  }

  /**
   * The loop. One async frame for the whole call keeps a pending retry small: during a wait it
   * holds this Run, its config, one timer and one abort listener.
   */
  async #run(first: Outcome<T> | undefined): Promise<T> {
    const config = this.#config;
    const { deadlineMs } = config;
    let callSignal = config.signal;
    let link: LinkedController | undefined;
    let cancelDeadline: (() => void) | undefined;
    if (deadlineMs !== undefined) {
      link = linkedController(callSignal);
      const controller = link.controller;
      cancelDeadline = startTimer(config.clock, Math.max(0, deadlineMs - this.#elapsed()), () =>
        controller.abort(deadlineError(deadlineMs, this.#lastError)),
      );
      callSignal = link.signal;
    }
    this.#callSignal = callSignal;
    try {
      let outcome = first;
      for (;;) {
        outcome ??= await this.#runAttempt();
        if (outcome.ok) {
          config.budget?.onSuccess();
          if (this.#attempt > 1) this.#recovered();
          return outcome.value;
        }
        const error = outcome.error;
        outcome = undefined;
        if (callSignal?.aborted) return this.#giveUp(this.#abortReason(), callSignal.reason);

        const verdict = this.#lastVerdict ?? safeClassify(config.classify, error);
        this.#lastError = error;
        this.#lastVerdict = undefined;
        if (verdict.kind !== 'transient') return this.#giveUp('permanent', error, verdict);
        if (this.#attempt >= config.maxAttempts) return this.#giveUp('attempts', error, verdict);

        let delayMs = this.#nextDelay();
        if (verdict.retryAfterMs !== undefined && verdict.retryAfterMs > delayMs) {
          // A Retry-After of weeks would otherwise become a 1 ms timer and a storm of calls.
          delayMs = Math.min(verdict.retryAfterMs, MAX_TIMER_MS);
        }
        if (deadlineMs !== undefined && this.#elapsed() + delayMs >= deadlineMs) {
          return this.#giveUp('deadline', error, verdict);
        }
        if (config.budget !== undefined && !config.budget.tryAcquire()) return this.#giveUp('budget', error, verdict);
        if (config.onRetry !== undefined || retryChannel.hasSubscribers) this.#announce(error, verdict, delayMs);
        try {
          await config.clock.sleep(delayMs, callSignal);
        } catch (sleepError) {
          if (config.signal?.aborted) return this.#giveUp('aborted', config.signal.reason);
          // A clock whose sleep rejects with nothing aborted broke its contract: say so as it did.
          if (!callSignal?.aborted) throw sleepError;
          // The deadline cut a wait that was planned to end before it (timers are coarser than
          // the clock). No attempt was running: give up with the last error itself, as when a
          // wait does not fit.
          return this.#giveUp('deadline', error, verdict);
        }
        this.#attempt++;
      }
    } finally {
      cancelDeadline?.();
      link?.dispose();
    }
  }

  #announce(error: unknown, verdict: Verdict, delayMs: number): void {
    const event: RetryEvent = { attempt: this.#attempt, error, verdict, delayMs, elapsedMs: this.#elapsed() };
    this.#config.onRetry?.(event);
    if (retryChannel.hasSubscribers) retryChannel.publish(event);
  }

  /** One call of fn; raced against whatever can abort it, so an fn that ignores its signal cannot hang us. */
  async #runAttempt(): Promise<Outcome<T>> {
    const { attemptTimeoutMs } = this.#config;
    const callSignal = this.#callSignal;
    if (callSignal?.aborted) return { ok: false, error: callSignal.reason };
    if (attemptTimeoutMs === undefined && callSignal === undefined) {
      try {
        return { ok: true, value: await this.#fn(new Context(this.#attempt, undefined)) };
      } catch (error) {
        return { ok: false, error };
      }
    }
    // The attempt gets its own controller only when it has its own time limit.
    const link = attemptTimeoutMs === undefined ? undefined : linkedController(callSignal);
    const signal = link?.signal ?? callSignal!;
    let cancelTimeout: (() => void) | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      if (link !== undefined && attemptTimeoutMs !== undefined) {
        const attempt = this.#attempt;
        cancelTimeout = startTimer(this.#config.clock, attemptTimeoutMs, () => {
          this.#lastVerdict = ATTEMPT_TIMED_OUT;
          link.controller.abort(timeoutError(`attempt ${attempt} timed out after ${attemptTimeoutMs} ms`));
        });
      }
      const result = callSafely(this.#fn, new Context(this.#attempt, signal));
      // A late rejection from an attempt we stopped waiting for must not become unhandled.
      result.catch(noop);
      return { ok: true, value: await Promise.race([result, aborted]) };
    } catch (error) {
      return { ok: false, error };
    } finally {
      cancelTimeout?.();
      signal.removeEventListener('abort', onAbort!);
      link?.dispose();
    }
  }

  #abortReason(): GiveUpReason {
    return this.#config.signal?.aborted ? 'aborted' : 'deadline';
  }

  #recovered(): void {
    const { onRecovered } = this.#config;
    if (onRecovered === undefined && !recoveredChannel.hasSubscribers) return;
    const event: RecoveredEvent = { attempts: this.#attempt, elapsedMs: this.#elapsed(), lastError: this.#lastError };
    onRecovered?.(event);
    if (recoveredChannel.hasSubscribers) recoveredChannel.publish(event);
  }

  #giveUp(reason: GiveUpReason, error: unknown, verdict?: Verdict): never {
    if (giveUpChannel.hasSubscribers) {
      const event: GiveUpEvent = { reason, attempts: this.#attempt, error, verdict, elapsedMs: this.#elapsed() };
      giveUpChannel.publish(event);
    }
    throw error;
  }
}

/** Calls fn and always returns a promise, turning a synchronous throw into a rejection. */
function callSafely<T>(fn: (context: AttemptContext) => Promise<T> | T, context: AttemptContext): Promise<T> {
  try {
    return Promise.resolve(fn(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

function deadlineError(deadlineMs: number, lastError: unknown): DOMException {
  return timeoutError(`retry deadline of ${deadlineMs} ms exceeded`, lastError);
}

function noop(): void {}
export { createRateLimiter, type RateLimiter, type RateLimiterOptions } from './rate-limiter.js';
