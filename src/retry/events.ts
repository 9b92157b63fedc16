/** The payloads of retry's hooks, diagnostics channels and tracing channels. */
import type { Verdict } from '../classify/index.js';
import type { HookErrorEvent } from '../shared/hooks.js';

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

/** Given to `onRetry` (and published, frozen, on `ridethrough:retry:retry`) before each wait. */
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
  /** The call's `name` option, when it was given one. */
  readonly name?: string | undefined;
}

/** Given to `onRecovered` (and published, frozen, on `ridethrough:retry:recovered`) after a success that followed failures. */
export interface RecoveredEvent {
  /** Calls made in all, the successful one included (so at least 2). */
  readonly attempts: number;
  /** Milliseconds since `retry()` was called. */
  readonly elapsedMs: number;
  /** The error of the last failed attempt. */
  readonly lastError: unknown;
  /** The call's `name` option, when it was given one. */
  readonly name?: string | undefined;
}

/**
 * Why {@link retry} stopped without a result: a `'permanent'` verdict, `maxAttempts` spent
 * (`'attempts'`), the next wait would end past `deadlineMs` or the deadline passed mid-attempt
 * (`'deadline'`), the shared budget was spent (`'budget'`), the caller's signal aborted (`'aborted'`), or
 * a server asked for a wait longer than `maxRetryAfterMs` (`'retry-after'`).
 */
export type GiveUpReason = 'permanent' | 'attempts' | 'deadline' | 'budget' | 'aborted' | 'retry-after';

/** Published, frozen, on `ridethrough:retry:give-up` when {@link retry} rejects. */
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
  /** The call's `name` option, when it was given one. */
  readonly name?: string | undefined;
}

/**
 * The context of the `ridethrough:retry` tracing channel, around a whole {@link retry} call
 * (`tracing:ridethrough:retry:start`, `:end`, `:asyncStart`, `:asyncEnd`, `:error`). It is the
 * platform's object and stays mutable: `attempts` and `verdict` are filled in as the call runs,
 * and hold their final values by `asyncEnd` or `error`.
 */
export interface RetryTraceContext {
  /** The call's `name` option, when it was given one. */
  readonly name: string | undefined;
  /** Calls of `fn` made so far (1 after a first-try success). */
  attempts: number;
  /** The verdict on the last failure, when there was one. */
  verdict: Verdict | undefined;
  /** Set by the tracing channel when the call rejects. */
  error?: unknown;
  /** Set by the tracing channel when the call resolves. */
  result?: unknown;
}

/** The context of the `ridethrough:retry:attempt` tracing channel, around each attempt. */
export interface AttemptTraceContext {
  /** The call's `name` option, when it was given one. */
  readonly name: string | undefined;
  /** 1 for the first call, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** Set by the tracing channel when the attempt fails. */
  error?: unknown;
  /** Set by the tracing channel when the attempt succeeds. */
  result?: unknown;
}

/**
 * Each of retry's plain diagnostics channels, by name, and the payload published on it (every
 * payload frozen). For `diagnostics_channel.subscribe(name, listener)` with a typed listener.
 */
export interface RetryMessages {
  /** Before each wait between attempts. */
  'ridethrough:retry:retry': RetryEvent;
  /** A success that followed failures. */
  'ridethrough:retry:recovered': RecoveredEvent;
  /** `retry()` rejected: why, after how many calls. */
  'ridethrough:retry:give-up': GiveUpEvent;
  /** An `onRetry`/`onRecovered` hook threw or rejected. */
  'ridethrough:retry:hook-error': HookErrorEvent;
}
