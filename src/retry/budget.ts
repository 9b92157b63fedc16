/**
 * The retry budget: a token bucket shared by many calls, so that retries stop multiplying the
 * load when most calls to a server fail.
 */
import { checkOptionNames, numberOption, optionsObject } from '../shared/validate.js';

const BUDGET_OPTION_NAMES: ReadonlySet<string> = new Set(['capacity', 'retryCost', 'successRefill']);

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
  capacity?: number | undefined;
  /**
   * Tokens one retry takes.
   * @defaultValue 5
   */
  retryCost?: number | undefined;
  /**
   * Tokens one successful call gives back.
   * @defaultValue 1
   */
  successRefill?: number | undefined;
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
 * Guide: [Retry options and jitter](../../docs/guides/retry-options.md).
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
  checkOptionNames(where, o, BUDGET_OPTION_NAMES);
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
