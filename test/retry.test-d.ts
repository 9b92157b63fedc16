import {
  backoffDelays,
  createRetryBudget,
  retry,
  type AttemptContext,
  type Clock,
  type Jitter,
  type RecoveredEvent,
  type RetryBudget,
  type RetryEvent,
  type RetryOptions,
  type Verdict,
} from 'ridethrough';
import { retry as retryFromSubpath } from 'ridethrough/retry';
import { describe, expectTypeOf, it } from 'vitest';

describe('retry types', () => {
  it('infers the result from fn, async or not', () => {
    expectTypeOf(retry(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(retry(() => 'sync')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(retry(async () => ({ ok: true as const }))).toEqualTypeOf<Promise<{ ok: true }>>();
  });

  it('hands fn an attempt number and a signal', () => {
    void retry(async (ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<AttemptContext>();
      expectTypeOf(ctx.attempt).toEqualTypeOf<number>();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      return null;
    });
  });

  it('types the options and events', () => {
    expectTypeOf<RetryOptions['jitter']>().toEqualTypeOf<Jitter | undefined>();
    expectTypeOf<Jitter>().toEqualTypeOf<'full' | 'equal' | 'decorrelated' | 'none'>();
    expectTypeOf<RetryOptions['onRetry']>().toEqualTypeOf<((event: RetryEvent) => void) | undefined>();
    expectTypeOf<RetryEvent['verdict']>().toEqualTypeOf<Verdict>();
    expectTypeOf<RecoveredEvent['attempts']>().toEqualTypeOf<number>();
    expectTypeOf<RetryOptions['clock']>().toEqualTypeOf<Clock | undefined>();
    expectTypeOf<RetryOptions['budget']>().toEqualTypeOf<RetryBudget | undefined>();
  });

  it('rejects misspelt or mistyped options in the editor', () => {
    // @ts-expect-error: the jitter modes are a closed set
    void retry(async () => 1, { jitter: 'random' });
    // @ts-expect-error: maxAttempts is a number
    void retry(async () => 1, { maxAttempts: '3' });
    // @ts-expect-error: no such option (p-retry calls it retries)
    void retry(async () => 1, { retries: 3 });
  });

  it('exposes the schedule and the budget', () => {
    expectTypeOf(backoffDelays()).toEqualTypeOf<Generator<number, never, void>>();
    expectTypeOf(createRetryBudget()).toMatchTypeOf<RetryBudget>();
    expectTypeOf(createRetryBudget().available).toEqualTypeOf<number>();
  });

  it('accepts undefined for every optional option (exactOptionalPropertyTypes is on in tsconfig.json)', () => {
    const forward = (signal?: AbortSignal, name?: string, deadlineMs?: number) => retry(async () => 1, { signal, name, deadlineMs });
    expectTypeOf(forward).returns.toEqualTypeOf<Promise<number>>();
    const all: Required<RetryOptions> = {} as Required<RetryOptions>;
    expectTypeOf(all.maxRetryAfterMs).toEqualTypeOf<number | undefined>();
    expectTypeOf(all.signal).toEqualTypeOf<AbortSignal | undefined>();
  });

  it('is the same function from the subpath', () => {
    expectTypeOf(retryFromSubpath).toEqualTypeOf(retry);
  });
});
