/** {@link makeInformer}: checks its arguments and options, then builds the informer. */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { classify as defaultClassify, type Classifier } from '../classify/index.js';
import type { Jitter } from '../retry/index.js';
import { MAX_TIMER_MS, TIMER_RANGE } from '../shared/clock.js';
import {
  checkOptionNames, describe, enumOption, functionOption, numberOption, optionsObject, requiredFunction, signalOption,
  stringOption,
} from '../shared/validate.js';
import { Informer, type InformerSettings } from './informer-loop.js';
import type { InformerListFn, InformerOptions, ResilientInformer } from './informer-types.js';

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'name', 'signal', 'labelSelector', 'fieldSelector', 'classify', 'initialDelayMs', 'maxDelayMs', 'multiplier', 'jitter',
  'random', 'backoffResetMs', 'watchTimeoutSeconds', 'inactivityTimeoutMs',
]);
const JITTERS: readonly Jitter[] = ['full', 'equal', 'decorrelated', 'none'];

/**
 * Makes an informer, as client-node's `makeInformer(kc, path, listFn)` does (the same `on`, `off`,
 * `start`, `stop`, `list` and `get`, so swapping the import is enough), whose list-watch loop
 * never stops on its own:
 *
 * - It lists, then watches from the list's resourceVersion, with bookmarks requested, so that it
 *   stays current on a quiet resource. A watch that ends or drops resumes from the last
 *   resourceVersion seen (an event or a bookmark); a 410 Expired/Gone relists, and a relist
 *   delivers only the real differences: `add` and `delete` for objects that came and went,
 *   `update` only for a changed resourceVersion.
 * - Every failure is classified and retried with jittered backoff, client-go's reflector figures
 *   by default (800 ms doubling to 30 s, back to the start after 2 min without a failure),
 *   stretched to the server's Retry-After. A permanent one (403 Forbidden: RBAC) is retried every
 *   `maxDelayMs` and shows in {@link ResilientInformer.check}. `error` callbacks are reports.
 * - A watch that brings no event and no bookmark for `inactivityTimeoutMs` is cut and resumed; the
 *   server-side watch timeout is randomised between `watchTimeoutSeconds` and twice that.
 *
 * `listFn` is yours (through {@link makeApiClient}, its calls are retried too); the watch is a
 * plain HTTP stream opened with the KubeConfig's TLS agent, headers and credentials. Nothing
 * here loads client-node. Callbacks run through a hook guard: what they throw is published on
 * `ridethrough:kubernetes:hook-error` and changes nothing. Cached objects are the server's, not
 * copies: do not change them.
 *
 * Guide: [Kubernetes API calls and watches](../../docs/guides/kubernetes.md).
 *
 * @param kubeConfig - A loaded `KubeConfig`; its current cluster is the server.
 * @param path - The collection's path: `/api/v1/namespaces/default/pods`, `/apis/apps/v1/deployments`.
 * @param listFn - Lists the same collection: `() => core.listNamespacedPod({ namespace: 'default' })`.
 * @throws TypeError / RangeError for a bad argument or option; Error when the KubeConfig has no current cluster.
 *
 * @example
 * ```ts
 * import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
 * import { makeApiClient, makeInformer } from 'ridethrough/kubernetes';
 * import { startFakeApiServer } from 'ridethrough/testing';
 *
 * await using api = await startFakeApiServer({ resources: [{ plural: 'pods', kind: 'Pod' }] });
 * api.create('pods', { metadata: { name: 'web-1' } });
 * const kc = new KubeConfig();
 * kc.loadFromOptions(api.kubeConfigOptions());
 * const core = makeApiClient(kc, CoreV1Api);
 *
 * await using informer = makeInformer<V1Pod>(kc, '/api/v1/namespaces/default/pods', () =>
 *   core.listNamespacedPod({ namespace: 'default' }), { name: 'pods', initialDelayMs: 10 });
 * const added = new Promise<string>((resolve) => informer.on('add', (pod) => pod.metadata?.name === 'web-2' && resolve('web-2')));
 * await informer.start();
 * api.dropWatches(); // client-node's own informer stops for good here
 * api.create('pods', { metadata: { name: 'web-2' } });
 * console.log(await added, informer.list().length, informer.check()); // web-2 2 true
 * ```
 */
export function makeInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  listFn: InformerListFn<T>,
  options?: InformerOptions,
): ResilientInformer<T> {
  const where = 'makeInformer()';
  if (
    kubeConfig === null ||
    typeof kubeConfig !== 'object' ||
    typeof kubeConfig.applyToHTTPSOptions !== 'function' ||
    typeof kubeConfig.getCurrentCluster !== 'function'
  ) {
    throw new TypeError(`${where}: "kubeConfig" must be a KubeConfig from @kubernetes/client-node, got ${describe(kubeConfig)}`);
  }
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`${where}: "path" must be an API path starting with "/" (such as "/api/v1/namespaces/default/pods"), got ${describe(path)}`);
  }
  requiredFunction(where, 'listFn', listFn);
  const o = optionsObject(where, options);
  checkOptionNames(where, o, OPTION_NAMES);
  for (const key of ['name', 'labelSelector', 'fieldSelector'] as const) {
    stringOption(where, key, o[key]);
  }
  const signal = signalOption(where, o.signal);
  const classify = functionOption<Classifier>(where, 'classify', o.classify) ?? defaultClassify;
  const random = functionOption<() => number>(where, 'random', o.random) ?? Math.random;
  const initialDelayMs = numberOption(where, 'initialDelayMs', o.initialDelayMs, 800, { min: 0, max: MAX_TIMER_MS });
  const maxDelayMs = numberOption(where, 'maxDelayMs', o.maxDelayMs, Math.max(30_000, initialDelayMs), TIMER_RANGE);
  if (maxDelayMs < initialDelayMs) {
    throw new RangeError(`${where}: option "maxDelayMs" (${maxDelayMs}) must be >= "initialDelayMs" (${initialDelayMs})`);
  }
  const multiplier = numberOption(where, 'multiplier', o.multiplier, 2, { min: 1 });
  const jitter = enumOption(where, 'jitter', o.jitter, JITTERS, 'equal');
  const backoffResetMs = numberOption(where, 'backoffResetMs', o.backoffResetMs, 120_000, TIMER_RANGE);
  const watchTimeoutSeconds = numberOption(where, 'watchTimeoutSeconds', o.watchTimeoutSeconds, 300, { min: 1, max: 86_400 });
  const inactivityTimeoutMs = numberOption(where, 'inactivityTimeoutMs', o.inactivityTimeoutMs, 180_000, TIMER_RANGE);

  const server = kubeConfig.getCurrentCluster()?.server;
  if (server === undefined) throw new Error(`${where}: the KubeConfig has no current cluster`);
  const url = new URL(server.replace(/\/+$/, '') + path);
  if (o.labelSelector !== undefined) url.searchParams.set('labelSelector', o.labelSelector);
  if (o.fieldSelector !== undefined) url.searchParams.set('fieldSelector', o.fieldSelector);
  const settings: InformerSettings = {
    name: o.name,
    path,
    url,
    kubeConfig,
    listFn: listFn as unknown as InformerListFn<KubernetesObject>,
    classify,
    schedule: { initialDelayMs, maxDelayMs, multiplier, jitter, random },
    maxDelayMs,
    random,
    backoffResetMs,
    watchTimeoutSeconds,
    inactivityTimeoutMs,
  };
  return new Informer<T>(settings, signal);
}
