/** {@link makeApiClient}: client-node's API classes over the resilient transport. */
import type { ApiConstructor, ApiType, Configuration, KubeConfig } from '@kubernetes/client-node';
import { classify as defaultClassify, type Classifier } from '../classify/index.js';
import { backoffDelays, createRetryBudget, type RetryBudget, type RetryOptions } from '../retry/index.js';
import { createRateLimiter, type RateLimiter } from '../retry/rate-limiter.js';
import { TIMER_RANGE, clockOption } from '../shared/clock.js';
import {
  checkOptionNames,
  describe,
  functionOption,
  numberOption,
  objectOption,
  optionalNumberOption,
  optionsObject,
  signalOption,
  stringOption,
} from '../shared/validate.js';
import { ResilientHttpLibrary, type ApiRetryEvent } from './transport.js';

/**
 * Options of {@link makeApiClient}: the {@link RetryOptions} of every call (with the same
 * defaults), plus the pacing and the name. Checked at the call; a bad one throws there.
 */
export interface ApiClientOptions extends Omit<RetryOptions, 'onRetry' | 'onRecovered' | 'budget'> {
  /** A short label for this client, carried in every event. @defaultValue none */
  name?: string | undefined;
  /**
   * Paces every request (each attempt takes a token). `false`: no pacing.
   * @defaultValue one adaptive limiter per API server (`{ qps: 5, burst: 10, adaptive: true }`),
   * shared by every client made from the same KubeConfig
   */
  rateLimiter?: RateLimiter | false | undefined;
  /**
   * Pays for retries (see {@link createRetryBudget}). `false`: retries are limited only by the
   * attempts and the deadline.
   * @defaultValue one `createRetryBudget()` per API server, shared by every client made from the
   * same KubeConfig
   */
  budget?: RetryBudget | false | undefined;
  /** Called before each wait (a reporting hook: what it throws is published on `ridethrough:kubernetes:hook-error`). */
  onRetry?: ((event: ApiRetryEvent) => void) | undefined;
}

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'name', 'rateLimiter', 'budget', 'onRetry',
  'maxAttempts', 'deadlineMs', 'attemptTimeoutMs', 'signal', 'classify', 'clock',
  'initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'random',
]);

/** What one API server's clients share. */
interface ServerShare {
  limiter: RateLimiter | undefined;
  budget: RetryBudget | undefined;
}

/** Keyed by the KubeConfig, then by server URL: a KubeConfig that is dropped takes its share along. */
const shares = new WeakMap<KubeConfig, Map<string, ServerShare>>();

function shareFor(kubeConfig: KubeConfig, server: string): ServerShare {
  let byServer = shares.get(kubeConfig);
  if (byServer === undefined) shares.set(kubeConfig, (byServer = new Map()));
  let share = byServer.get(server);
  if (share === undefined) byServer.set(server, (share = { limiter: undefined, budget: undefined }));
  return share;
}

/**
 * Makes a client-node API client, as `kubeConfig.makeApiClient(ApiClass)` does, whose every call
 * goes through a resilient transport:
 *
 * - Each answer and connection failure is classified (`classify` option, {@link classify} by
 *   default); transient ones are retried with the retry options (attempts, deadline, signal,
 *   budget; `Retry-After` and `details.retryAfterSeconds` stretch the wait).
 * - GET and HEAD (reads, lists) are retried on any transient failure. POST, PUT, PATCH and DELETE
 *   only when the request provably was not processed: the connection failed before it was sent
 *   (refused, DNS, TLS alert), or the server asked for a retry (429, or a 5xx with Retry-After).
 * - A 409 (Conflict, AlreadyExists) and a 410 (Expired) go back to the caller at once: the same
 *   request would get the same answer. Use {@link retryOnConflict} for a read-modify-write.
 * - Every attempt takes a token from the rate limiter; a 429 slows an adaptive limiter down.
 * - When the attempts run out on an answer, the caller gets client-node's own `ApiException` for
 *   it, as without ridethrough; on a connection failure, the last error.
 *
 * By default the limiter and the retry budget are per API server and shared by every client made
 * from the same KubeConfig, so that a struggling server is not hit harder by retries. Nothing here
 * imports `@kubernetes/client-node`: the KubeConfig and API class you pass in are all it uses.
 *
 * Guide: [Kubernetes API calls and watches](../../docs/guides/kubernetes.md).
 *
 * @param kubeConfig - A loaded `KubeConfig`; its current cluster is the server.
 * @param ApiClass - A generated API class: `CoreV1Api`, `AppsV1Api`, `CustomObjectsApi`, ...
 * @throws Error when the KubeConfig has no current cluster (client-node's own error);
 * TypeError / RangeError for a bad argument or option.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { once } from 'node:events';
 * import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
 * import { makeApiClient } from 'ridethrough/kubernetes';
 *
 * // A stand-in API server: one 503 with Retry-After, then the list.
 * let calls = 0;
 * const server = createServer((request, response) => {
 *   calls++;
 *   if (calls === 1) {
 *     response.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '0' });
 *     response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'ServiceUnavailable', code: 503 }));
 *     return;
 *   }
 *   response.writeHead(200, { 'Content-Type': 'application/json' });
 *   response.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] }));
 * });
 * server.listen(0, '127.0.0.1');
 * await once(server, 'listening');
 * const { port } = server.address() as { port: number };
 *
 * const kc = new KubeConfig();
 * kc.loadFromOptions({
 *   clusters: [{ name: 'local', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
 *   users: [{ name: 'me' }],
 *   contexts: [{ name: 'local', cluster: 'local', user: 'me' }],
 *   currentContext: 'local',
 * });
 * const core = makeApiClient(kc, CoreV1Api, { name: 'pods', deadlineMs: 5_000, initialDelayMs: 10 });
 * const pods = await core.listNamespacedPod({ namespace: 'default' });
 * console.log(pods.items.length, calls); // 0 2
 * server.close();
 * ```
 */
export function makeApiClient<T extends ApiType>(
  kubeConfig: KubeConfig,
  ApiClass: ApiConstructor<T>,
  options?: ApiClientOptions,
): T {
  const where = 'makeApiClient()';
  if (
    kubeConfig === null ||
    typeof kubeConfig !== 'object' ||
    typeof kubeConfig.makeApiClient !== 'function' ||
    typeof kubeConfig.getCurrentCluster !== 'function'
  ) {
    throw new TypeError(`${where}: "kubeConfig" must be a KubeConfig from @kubernetes/client-node, got ${describe(kubeConfig)}`);
  }
  if (typeof ApiClass !== 'function') {
    throw new TypeError(`${where}: "ApiClass" must be an API class such as CoreV1Api, got ${describe(ApiClass)}`);
  }
  const o = optionsObject(where, options);
  checkOptionNames(where, o, OPTION_NAMES);
  stringOption(where, 'name', o.name);
  const rateLimiter =
    o.rateLimiter === false ? false : objectOption<RateLimiter>(where, 'rateLimiter', o.rateLimiter, ['acquire', 'onThrottle', 'onSuccess']);
  const budget = o.budget === false ? false : objectOption<RetryBudget>(where, 'budget', o.budget, ['tryAcquire', 'onSuccess']);
  const onRetry = functionOption<(event: ApiRetryEvent) => void>(where, 'onRetry', o.onRetry);
  const classify = functionOption<Classifier>(where, 'classify', o.classify) ?? defaultClassify;
  const clock = clockOption(where, o.clock);
  const signal = signalOption(where, o.signal);
  const deadlineMs = optionalNumberOption(where, 'deadlineMs', o.deadlineMs, TIMER_RANGE);
  const attemptTimeoutMs = optionalNumberOption(where, 'attemptTimeoutMs', o.attemptTimeoutMs, TIMER_RANGE);
  numberOption(where, 'maxAttempts', o.maxAttempts, 10, { min: 1, integer: true, infinite: true });
  // The schedule options, checked as retry() checks them (a factory throws at the call).
  backoffDelays(pickSchedule(o));

  // client-node builds its own Configuration (server, TLS and auth from the KubeConfig): catch it
  // on its way to a stand-in class, then hand it to the real class with our transport in it.
  let base: Configuration | undefined;
  kubeConfig.makeApiClient(
    class {
      constructor(configuration: Configuration) {
        base = configuration;
      }
    },
  );
  if (base === undefined) throw new Error(`${where}: the KubeConfig did not build a client configuration`);

  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  const share = rateLimiter === undefined || budget === undefined ? shareFor(kubeConfig, server) : undefined;
  const limiter =
    rateLimiter === false ? undefined : (rateLimiter ?? (share!.limiter ??= createRateLimiter({ qps: 5, burst: 10, adaptive: true })));
  const retryBudget = budget === false ? undefined : (budget ?? (share!.budget ??= createRetryBudget()));

  const retryOptions: RetryOptions = { ...pickSchedule(o) };
  if (o.maxAttempts !== undefined) retryOptions.maxAttempts = o.maxAttempts;
  if (deadlineMs !== undefined) retryOptions.deadlineMs = deadlineMs;
  if (retryBudget !== undefined) retryOptions.budget = retryBudget;
  if (o.clock !== undefined) retryOptions.clock = clock;

  const httpApi = new ResilientHttpLibrary(base.httpApi, {
    name: o.name,
    limiter,
    classify,
    onRetry,
    signal,
    attemptTimeoutMs,
    deadlineMs,
    clock,
    retry: retryOptions,
  });
  return new ApiClass({
    baseServer: base.baseServer,
    httpApi,
    middleware: base.middleware,
    authMethods: base.authMethods,
  });
}

function pickSchedule(o: Partial<ApiClientOptions>): RetryOptions {
  const schedule: RetryOptions = {};
  if (o.initialDelayMs !== undefined) schedule.initialDelayMs = o.initialDelayMs;
  if (o.multiplier !== undefined) schedule.multiplier = o.multiplier;
  if (o.maxDelayMs !== undefined) schedule.maxDelayMs = o.maxDelayMs;
  if (o.jitter !== undefined) schedule.jitter = o.jitter;
  if (o.random !== undefined) schedule.random = o.random;
  return schedule;
}
