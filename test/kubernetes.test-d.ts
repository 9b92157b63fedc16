import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type Informer,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Node,
  type V1Pod,
  type V1PodList,
} from '@kubernetes/client-node';
import {
  makeApiClient,
  makeInformer,
  retryOnConflict,
  type ApiClientOptions,
  type InformerConnectEvent,
  type InformerErrorEvent,
  type InformerListContext,
  type InformerListEvent,
  type InformerListFn,
  type InformerOptions,
  type ResilientInformer,
  type ApiRequestTraceContext,
  type ApiRetryEvent,
  type ApiThrottledEvent,
  type KubernetesMessages,
  type RetryOnConflictOptions,
} from 'ridethrough/kubernetes';
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from 'ridethrough/retry';
import { readinessGate, type HookErrorEvent, type Jitter, type Classifier } from 'ridethrough';
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

  it('makeInformer: the object type flows from listFn to list(), get() and the object callbacks', () => {
    const kc = new KubeConfig();
    const core = makeApiClient(kc, CoreV1Api);
    const pods = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default' }));
    expectTypeOf(pods).toEqualTypeOf<ResilientInformer<V1Pod>>();
    expectTypeOf(pods.list()).toEqualTypeOf<ReadonlyArray<V1Pod>>();
    expectTypeOf(pods.list).parameter(0).toEqualTypeOf<string | undefined>();
    expectTypeOf(pods.get('web-1', 'default')).toEqualTypeOf<V1Pod | undefined>();
    expectTypeOf(pods.latestResourceVersion()).toEqualTypeOf<string>();
    for (const verb of ['add', 'update', 'delete', 'change'] as const) {
      pods.on(verb, (pod) => expectTypeOf(pod).toEqualTypeOf<V1Pod>());
      pods.off(verb, (pod) => expectTypeOf(pod).toEqualTypeOf<V1Pod>());
    }
    pods.on('error', (error) => expectTypeOf(error).toEqualTypeOf<unknown>());
    pods.on('connect', () => {});
    // Nodes from a node list: the type follows listFn.
    const nodes = makeInformer(kc, '/api/v1/nodes', () => core.listNode());
    expectTypeOf(nodes.list()).toEqualTypeOf<ReadonlyArray<V1Node>>();
    nodes.on('update', (node) => expectTypeOf(node).toEqualTypeOf<V1Node>());
    // listFn is handed the informer's signal; one that ignores it is fine too.
    makeInformer(kc, '/api/v1/namespaces/default/pods', (context) => {
      expectTypeOf(context).toEqualTypeOf<InformerListContext>();
      expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
      return core.listNamespacedPod({ namespace: 'default' });
    });
    expectTypeOf<InformerListFn<V1Pod>>().returns.toEqualTypeOf<Promise<KubernetesListObject<V1Pod>>>();
    const typed: InformerListFn<V1Pod> = () => core.listNamespacedPod({ namespace: 'default' });
    expectTypeOf(makeInformer(kc, '/api/v1/namespaces/default/pods', typed)).toEqualTypeOf<ResilientInformer<V1Pod>>();

    // @ts-expect-error: a pod callback is handed a V1Pod, not a string
    pods.on('add', (name: string) => void name);
    // @ts-expect-error: an error callback is not an object callback's verb
    pods.on('error', (pod: V1Pod) => void pod);
    // @ts-expect-error: an unknown event
    pods.on('modified', () => {});
    // @ts-expect-error: an informer of pods cannot list nodes
    makeInformer<V1Pod>(kc, '/api/v1/nodes', () => core.listNode());
    // @ts-expect-error: listFn returns a promise of a list, not a list
    makeInformer(kc, '/api/v1/namespaces/default/pods', () => ({ items: [] as V1Pod[] }));
    // @ts-expect-error: the path is a string
    makeInformer(kc, ['api', 'v1', 'pods'], () => core.listNamespacedPod({ namespace: 'default' }));
    // @ts-expect-error: the cache is read-only
    pods.list().push({});
  });

  it("makeInformer: is a drop-in for client-node's Informer & ObjectCache", () => {
    const kc = new KubeConfig();
    const core = makeApiClient(kc, CoreV1Api);
    const pods = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default' }));
    expectTypeOf(pods).toExtend<Informer<V1Pod> & ObjectCache<V1Pod>>();
    expectTypeOf(pods.start).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(pods.stop).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<ResilientInformer<KubernetesObject>>().toExtend<Informer<KubernetesObject> & ObjectCache<KubernetesObject>>();
  });

  it('makeInformer options: each accepts undefined, a misspelled one fails to compile', () => {
    const kc = new KubeConfig();
    const listFn = (): Promise<V1PodList> => makeApiClient(kc, CoreV1Api).listNamespacedPod({ namespace: 'default' });
    const every: Required<{ [K in keyof InformerOptions]: undefined }> = {
      name: undefined,
      signal: undefined,
      labelSelector: undefined,
      fieldSelector: undefined,
      classify: undefined,
      initialDelayMs: undefined,
      maxDelayMs: undefined,
      multiplier: undefined,
      jitter: undefined,
      random: undefined,
      backoffResetMs: undefined,
      watchTimeoutSeconds: undefined,
      inactivityTimeoutMs: undefined,
    };
    const options: InformerOptions = every;
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, options);
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, undefined);
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, {
      name: 'pods',
      signal: new AbortController().signal,
      labelSelector: 'app=web',
      fieldSelector: 'status.phase=Running',
      classify: (() => ({ kind: 'transient', reason: 'x' })) satisfies Classifier,
      initialDelayMs: 800,
      maxDelayMs: 30_000,
      multiplier: 2,
      jitter: 'equal',
      random: Math.random,
      backoffResetMs: 120_000,
      watchTimeoutSeconds: 300,
      inactivityTimeoutMs: 180_000,
    });
    expectTypeOf<InformerOptions['jitter']>().toEqualTypeOf<Jitter | undefined>();
    expectTypeOf<InformerOptions['signal']>().toEqualTypeOf<AbortSignal | undefined>();
    expectTypeOf<InformerOptions['classify']>().toEqualTypeOf<Classifier | undefined>();
    expectTypeOf<InformerOptions['random']>().toEqualTypeOf<(() => number) | undefined>();
    expectTypeOf<keyof InformerOptions>().toEqualTypeOf<keyof typeof every>();

    // @ts-expect-error: misspelled (inactivityTimeoutMs)
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, { inactivityTimeout: 60_000 });
    // @ts-expect-error: misspelled (initialDelayMs)
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, { initialDelay: 100 });
    // @ts-expect-error: client-node's fourth argument, a label selector string, is the labelSelector option here
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, 'app=web');
    // @ts-expect-error: not a jitter
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, { jitter: 'random' });
    // @ts-expect-error: milliseconds are numbers
    makeInformer(kc, '/api/v1/namespaces/default/pods', listFn, { maxDelayMs: '30s' });
  });

  it('makeInformer: synced, check, close and asyncDispose', async () => {
    const kc = new KubeConfig();
    const pods = makeInformer(kc, '/api/v1/namespaces/default/pods', () => makeApiClient(kc, CoreV1Api).listNamespacedPod({ namespace: 'default' }));
    expectTypeOf(pods.synced).toEqualTypeOf<Promise<void>>();
    expectTypeOf(pods.check).toEqualTypeOf<() => true | string>();
    expectTypeOf(pods.close).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(pods[Symbol.asyncDispose]).returns.toEqualTypeOf<PromiseLike<void>>();
    expectTypeOf(pods).toExtend<AsyncDisposable>();
    // A readiness check as readinessGate takes it.
    readinessGate({ checks: { pods: pods.check } });
    {
      await using scoped = makeInformer(kc, '/api/v1/nodes', () => makeApiClient(kc, CoreV1Api).listNode());
      expectTypeOf(scoped.list()).toEqualTypeOf<ReadonlyArray<V1Node>>();
    }
    // @ts-expect-error: synced is read-only
    pods.synced = Promise.resolve();
    // @ts-expect-error: check is read-only
    pods.check = () => true;
    // check answers true or a reason, never false.
    expectTypeOf<false>().not.toExtend<ReturnType<typeof pods.check>>();
  });

  it('maps the informer channels to their payloads', () => {
    expectTypeOf<KubernetesMessages['ridethrough:kubernetes:informer-connect']>().toEqualTypeOf<InformerConnectEvent>();
    expectTypeOf<KubernetesMessages['ridethrough:kubernetes:informer-list']>().toEqualTypeOf<InformerListEvent>();
    expectTypeOf<KubernetesMessages['ridethrough:kubernetes:informer-error']>().toEqualTypeOf<InformerErrorEvent>();
    expectTypeOf<InformerListEvent['reason']>().toEqualTypeOf<'initial' | 'expired'>();
    expectTypeOf<InformerErrorEvent['phase']>().toEqualTypeOf<'list' | 'watch'>();
    expectTypeOf<InformerErrorEvent['error']>().toEqualTypeOf<unknown>();
    expectTypeOf<InformerConnectEvent['name']>().toEqualTypeOf<string | undefined>();
  });
});
