/**
 * Backoff retry. SKELETON: the types are the public API; the implementation is being written.
 */
import type { Classifier, Verdict } from './classify.js';
import type { Clock } from './shared/clock.js';

/** How random spread is added to each delay. */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

/** The shape of the backoff schedule (shared by {@link retry} and {@link backoffDelays}). */
export interface BackoffOptions {
  /** @defaultValue 100 */
  initialDelayMs?: number;
  /** @defaultValue 2 */
  multiplier?: number;
  /** @defaultValue 30000 */
  maxDelayMs?: number;
  /** @defaultValue 'full' */
  jitter?: Jitter;
  /** Random numbers in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

/** Passed to the function under retry. */
export interface AttemptContext {
  /** 1 for the first call. */
  readonly attempt: number;
  /** Aborts when the caller aborts, the deadline passes or the attempt times out. */
  readonly signal: AbortSignal;
}

/** Given to `onRetry` before each wait. */
export interface RetryEvent {
  readonly attempt: number;
  readonly error: unknown;
  readonly verdict: Verdict;
  readonly delayMs: number;
  readonly elapsedMs: number;
}

/** Given to `onRecovered` after a success that followed failures. */
export interface RecoveredEvent {
  /** Calls made in all, the successful one included. */
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly lastError: unknown;
}

/** A shared token bucket that stops retries when most calls are failing. */
export interface RetryBudget {
  /** Takes one retry token; false when the budget is spent. */
  tryAcquire(): boolean;
  /** Called on every success; refills the bucket. */
  onSuccess(): void;
}

/** Options of {@link retry}. */
export interface RetryOptions extends BackoffOptions {
  /** @defaultValue 10 */
  maxAttempts?: number;
  deadlineMs?: number;
  attemptTimeoutMs?: number;
  signal?: AbortSignal;
  classify?: Classifier;
  onRetry?: (event: RetryEvent) => void;
  onRecovered?: (event: RecoveredEvent) => void;
  budget?: RetryBudget;
  clock?: Clock;
}

/** Calls `fn` until it succeeds, retrying transient failures with exponential backoff. */
export declare function retry<T>(fn: (context: AttemptContext) => Promise<T> | T, options?: RetryOptions): Promise<T>;

/** The delays (ms) the schedule would wait, one per retry, endlessly. */
export declare function backoffDelays(options?: BackoffOptions): Generator<number, never, void>;
