/**
 * `ridethrough/kubernetes`: Kubernetes API calls that ride through the API server's bad moments,
 * for controllers and operators built on `@kubernetes/client-node` (an optional peer dependency:
 * only this subpath needs it, and it never loads it; you pass in your own `KubeConfig` and API
 * classes).
 *
 * - {@link makeApiClient}: `kc.makeApiClient(CoreV1Api)` whose every call is classified, retried
 *   when that is safe, and paced by a rate limiter shared per API server.
 * - {@link retryOnConflict}: re-run a read-modify-write on a Conflict, as client-go does.
 * - {@link makeInformer}: client-node's informer, whose list-watch loop resumes, relists and
 *   retries instead of stopping on the first error.
 *
 * ```ts
 * import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
 * import { makeApiClient } from 'ridethrough/kubernetes';
 *
 * const kc = new KubeConfig();
 * kc.loadFromDefault();
 * const core = makeApiClient(kc, CoreV1Api, { name: 'pods' });
 * const pods = await core.listNamespacedPod({ namespace: 'default' }); // 429, 503, resets: retried
 * console.log(pods.items.length);
 * ```
 *
 * Guide: [Kubernetes API calls and watches](../../docs/guides/kubernetes.md).
 *
 * @module
 */
import type { HookErrorEvent } from '../shared/hooks.js';
import type { ApiRetryEvent, ApiThrottledEvent } from './transport.js';
import type { InformerConnectEvent, InformerErrorEvent, InformerListEvent } from './informer-types.js';

export { makeApiClient, type ApiClientOptions } from './api-client.js';
export { retryOnConflict, type RetryOnConflictOptions } from './conflict.js';
export type { ApiRequestTraceContext, ApiRetryEvent, ApiThrottledEvent } from './transport.js';
export { makeInformer } from './informer.js';
export type * from './informer-types.js';

/** Each plain diagnostics channel of `ridethrough/kubernetes`, mapped to its (frozen) payload. */
export interface KubernetesMessages {
  /** Before each wait of an API call made through {@link kubernetes!makeApiClient}. */
  'ridethrough:kubernetes:retry': ApiRetryEvent;
  /** The API server answered 429 to a call made through {@link kubernetes!makeApiClient}. */
  'ridethrough:kubernetes:throttled': ApiThrottledEvent;
  /** An informer's watch is open. */
  'ridethrough:kubernetes:informer-connect': InformerConnectEvent;
  /** An informer listed (first list or relist), with the differences it delivered. */
  'ridethrough:kubernetes:informer-list': InformerListEvent;
  /** An informer's list or watch failed; it waits `delayMs` and goes on. */
  'ridethrough:kubernetes:informer-error': InformerErrorEvent;
  /** A hook (`onRetry`, an informer's callback, ...) threw or rejected. */
  'ridethrough:kubernetes:hook-error': HookErrorEvent;
}

// Imported, this subpath's channels join the root's map, so `subscribe` types them too; the root
// itself names no client-node type, so a project without client-node typechecks.
declare module '../diagnostics.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- an augmentation merges by extends
  interface DiagnosticsMessages extends KubernetesMessages {}
}
