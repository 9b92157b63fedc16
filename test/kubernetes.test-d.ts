import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import {
  makeApiClient,
  retryOnConflict,
  type ApiClientOptions,
  type ApiRequestTraceContext,
  type ApiRetryEvent,
  type ApiThrottledEvent,
  type KubernetesMessages,
  type RetryOnConflictOptions,
} from 'ridethrough/kubernetes';
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from 'ridethrough/retry';
import type { HookErrorEvent } from 'ridethrough';
import { describe, expectTypeOf, it } from 'vitest';

describe('ridethrough/kubernetes types', () => {
  it('makeApiClient returns the API class it is given, as kc.makeApiClient does', () => {
    const kc = new KubeConfig();
    expectTypeOf(makeApiClient(kc, CoreV1Api)).toEqualTypeOf<CoreV1Api>();
    expectTypeOf(makeApiClient(kc, AppsV1Api, { name: 'apps' })).toEqualTypeOf<AppsV1Api>();
    expectTypeOf(makeApiClient(kc, CustomObjectsApi)).toEqualTypeOf(kc.makeApiClient(CustomObjectsApi));
    expectTypeOf(makeApiClient(kc, CoreV1Api).readNamespacedPod).returns.resolves.toEqualTypeOf<V1Pod>();
  });

  it('takes pacing, budget and name options, each accepting undefined', () => {
    const limiter: RateLimiter = createRateLimiter({ qps: 20, burst: 40, adaptive: true });
    const options: ApiClientOptions = { rateLimiter: limiter, budget: false, name: undefined, onRetry: undefined };
    expectTypeOf(options.rateLimiter).toEqualTypeOf<RateLimiter | false | undefined>();
    expectTypeOf<ApiClientOptions['onRetry']>().toEqualTypeOf<((event: ApiRetryEvent) => void) | undefined>();
    // @ts-expect-error: an unknown option is a compile error on a literal
    makeApiClient(new KubeConfig(), CoreV1Api, { retries: 3 });
    // @ts-expect-error: not an API class
    makeApiClient(new KubeConfig(), 'CoreV1Api');
  });

  it('retryOnConflict infers the result and takes retry options without classify', () => {
    expectTypeOf(retryOnConflict(async () => 1)).toEqualTypeOf<Promise<number>>();
    const options: RetryOnConflictOptions = { maxAttempts: undefined, initialDelayMs: 5, jitter: undefined };
    void options;
    // @ts-expect-error: the classifier is retryOnConflict's own
    void retryOnConflict(async () => 1, { classify: () => ({ kind: 'transient', reason: 'x' }) });
  });

  it('the rate limiter', () => {
    const opts: RateLimiterOptions = { qps: undefined, burst: undefined, adaptive: undefined, minQps: undefined };
    const limiter = createRateLimiter(opts);
    expectTypeOf(limiter.acquire).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(limiter.acquire).parameter(0).toEqualTypeOf<AbortSignal | undefined>();
    expectTypeOf(limiter.tryAcquire()).toEqualTypeOf<boolean>();
    expectTypeOf(limiter.qps).toEqualTypeOf<number>();
  });

  it('maps each channel to its payload', () => {
    expectTypeOf<KubernetesMessages['ridethrough:kubernetes:retry']>().toEqualTypeOf<ApiRetryEvent>();
    expectTypeOf<KubernetesMessages['ridethrough:kubernetes:throttled']>().toEqualTypeOf<ApiThrottledEvent>();
    expectTypeOf<KubernetesMessages['ridethrough:kubernetes:hook-error']>().toEqualTypeOf<HookErrorEvent>();
    expectTypeOf<ApiRequestTraceContext['attempts']>().toEqualTypeOf<number>();
    // @ts-expect-error: a misspelled channel
    type _Missing = KubernetesMessages['ridethrough:kubernetes:retries'];
  });
});
