/**
 * What the makeInformer tests share: a fake API server with a real client-node KubeConfig and
 * CoreV1Api pointed at it, an informer whose events, errors, connects and lists are recorded,
 * and the cleanup of both after each test.
 */
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { subscribe } from 'ridethrough';
import {
  makeInformer, type InformerConnectEvent, type InformerErrorEvent, type InformerListEvent, type InformerListFn, type InformerOptions,
  type ResilientInformer,
} from 'ridethrough/kubernetes';
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from 'ridethrough/testing';

export const PATH = '/api/v1/namespaces/default/pods';

type ClientNode = typeof import('@kubernetes/client-node');
let loaded: ClientNode | undefined;
/** client-node, loaded on first use (it takes a while through vitest's transform). */
export async function clientNode(): Promise<ClientNode> {
  return (loaded ??= await import('@kubernetes/client-node'));
}

const cleanups: Array<() => Promise<void> | void> = [];
/** Runs (newest first) what the helpers below registered; call it in an afterEach. */
export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export interface Fake {
  readonly api: FakeApiServer;
  readonly kc: KubeConfig;
  /** client-node's own CoreV1Api (no retries: the informer's own loop meets every failure). */
  readonly core: CoreV1Api;
}

/** A fake API server serving pods and configmaps, with client-node pointed at it. */
export async function fake(options: FakeApiServerOptions = {}): Promise<Fake> {
  const k8s = await clientNode();
  const api = await startFakeApiServer({ resources: [{ plural: 'pods', kind: 'Pod' }, { plural: 'configmaps', kind: 'ConfigMap' }], ...options });
  cleanups.push(() => api.close());
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  return { api, kc, core: kc.makeApiClient(k8s.CoreV1Api) };
}

/** One delivered change, as the callbacks saw it. */
export interface Delivered {
  readonly verb: 'add' | 'update' | 'delete';
  readonly name: string;
  readonly rv: string;
}

export interface Recorded {
  readonly informer: ResilientInformer<V1Pod>;
  /** Every add, update and delete, in order. */
  readonly events: Delivered[];
  /** What the 'change' callback got, in order. */
  readonly changes: Delivered[];
  /** `on('error')` calls, with the time (performance.now()) of each. */
  readonly errors: Array<{ readonly error: unknown; readonly at: number }>;
  /** `on('connect')` calls' times. */
  readonly connects: number[];
  /** This informer's messages on the informer-list channel. */
  readonly lists: InformerListEvent[];
  /** This informer's messages on the informer-error channel. */
  readonly failures: InformerErrorEvent[];
  /** This informer's messages on the informer-connect channel (a watch answered 200). */
  readonly opened: InformerConnectEvent[];
}

let serial = 0;

/** An informer on the default namespace's pods, with fast backoff, everything it says recorded, closed after the test. */
export function recorded(f: Fake, options: InformerOptions = {}, listFn?: InformerListFn<V1Pod>): Recorded {
  const name = `pods-${++serial}`;
  const informer = makeInformer<V1Pod>(f.kc, PATH, listFn ?? (() => f.core.listNamespacedPod({ namespace: 'default' })), {
    name,
    initialDelayMs: 10,
    maxDelayMs: 200,
    ...options,
  });
  const r: Recorded = { informer, events: [], changes: [], errors: [], connects: [], lists: [], failures: [], opened: [] };
  const seen = (into: Delivered[], verb: Delivered['verb']) => (pod: V1Pod) =>
    into.push({ verb, name: pod.metadata?.name ?? '', rv: pod.metadata?.resourceVersion ?? '' });
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, seen(r.events, verb));
  const change = (pod: V1Pod): void => {
    const verb = r.events.at(-1)?.verb ?? 'add'; // 'change' runs after the verb's own callback
    seen(r.changes, verb)(pod);
  };
  informer.on('change', change);
  informer.on('error', (error) => r.errors.push({ error, at: performance.now() }));
  informer.on('connect', () => r.connects.push(performance.now()));
  const mine = <M extends { readonly name?: string | undefined }>(into: M[]) => (message: M) => void (message.name === name && into.push(message));
  const unsubscribe = [
    subscribe('ridethrough:kubernetes:informer-list', mine(r.lists)),
    subscribe('ridethrough:kubernetes:informer-error', mine(r.failures)),
    subscribe('ridethrough:kubernetes:informer-connect', mine(r.opened)),
  ];
  cleanups.push(async () => {
    await informer.close();
    for (const u of unsubscribe) u();
  });
  return r;
}

/** The requests the server received for the pods collection: lists (GET without watch) and watches (with their query). */
export function podRequests(api: FakeApiServer): { lists: number; watches: URLSearchParams[] } {
  let lists = 0;
  const watches: URLSearchParams[] = [];
  for (const request of api.requests) {
    const url = new URL(request.url, 'http://x');
    if (request.method !== 'GET' || url.pathname !== PATH) continue;
    if (url.searchParams.get('watch') === 'true') watches.push(url.searchParams);
    else lists++;
  }
  return { lists, watches };
}

/** The server's pods as name -> resourceVersion. */
export function serverState(api: FakeApiServer): Record<string, string> {
  return Object.fromEntries(api.list('pods', 'default').map((p) => [p.metadata!.name!, p.metadata!.resourceVersion!]));
}

/** The informer's cache as name -> resourceVersion. */
export function cacheState(informer: ResilientInformer<V1Pod>): Record<string, string> {
  return Object.fromEntries(informer.list('default').map((p) => [p.metadata!.name!, p.metadata!.resourceVersion!]));
}

/** Delivered events as "verb name@rv" lines, for readable comparisons. */
export function lines(events: readonly Delivered[]): string[] {
  return events.map((e) => `${e.verb} ${e.name}@${e.rv}`);
}
