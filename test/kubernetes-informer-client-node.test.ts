/**
 * What @kubernetes/client-node's own makeInformer (1.x) does on the fake API server's faults, as
 * the kubernetes guide and docs/benchmarks.md describe it: it survives a watch the server ends
 * cleanly and a 410 (it relists), and stops for good on anything else: a dropped watch, a failed
 * reconnect. ridethrough's makeInformer runs beside it as the positive signal: once it has seen an
 * object created after the fault, client-node's would have too, had it carried on.
 * If one of these starts failing after a client-node upgrade, the guide is out of date.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeInformer, type ResilientInformer } from 'ridethrough/kubernetes';
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from 'ridethrough/testing';
import { pollUntil } from './support/poll.js';

type ClientNode = typeof import('@kubernetes/client-node');
type Pod = import('@kubernetes/client-node').V1Pod;
let k8s: ClientNode;
beforeAll(async () => {
  k8s = await import('@kubernetes/client-node');
});

const PATH = '/api/v1/namespaces/default/pods';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fake(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const api = await startFakeApiServer({ resources: [{ plural: 'pods', kind: 'Pod' }], ...options });
  cleanups.push(() => api.close());
  return api;
}

function kubeConfigFor(api: FakeApiServer) {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  return kc;
}

/** client-node's makeInformer on `api`, recording what it reports. */
async function clientNodeInformer(api: FakeApiServer) {
  const kc = kubeConfigFor(api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer<Pod>(kc, PATH, () => core.listNamespacedPod({ namespace: 'default' }));
  const errors: unknown[] = [];
  const added: string[] = [];
  let stopped = false;
  informer.on('error', (error: unknown) => void (stopped || errors.push(error))); // stop() aborts the watch: reported as an error too
  informer.on('add', (pod: Pod) => void added.push(pod.metadata?.name ?? ''));
  cleanups.push(() => ((stopped = true), informer.stop()));
  await informer.start();
  return { informer, errors, added };
}

/** ridethrough's makeInformer on `api` (the positive signal), with a short backoff. */
async function ridethroughInformer(api: FakeApiServer, initialDelayMs = 10): Promise<ResilientInformer<Pod>> {
  const kc = kubeConfigFor(api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = makeInformer<Pod>(kc, PATH, () => core.listNamespacedPod({ namespace: 'default' }), { initialDelayMs });
  cleanups.push(() => informer.close());
  await informer.start();
  return informer;
}

const names = (informer: { list(): ReadonlyArray<Pod> }): string[] => informer.list().map((p) => p.metadata?.name ?? '').sort();
/** client-node's watches ask for no bookmarks, ridethrough's always do: tells their requests apart on a shared server. */
const fromClientNode = (api: FakeApiServer, since: number) => api.requests.slice(since).filter((r) => !r.url.includes('allowWatchBookmarks'));

describe("client-node's own makeInformer (1.x) on the fake API server", () => {
  it('stops for good after one dropped watch: one error, Premature close, then no request and no event', async () => {
    const api = await fake();
    api.create('pods', { metadata: { name: 'before' } });
    const theirs = await clientNodeInformer(api);
    const ours = await ridethroughInformer(api);
    await pollUntil(() => api.watchCount === 2, 'both watches');
    // It does deliver while its watch is up.
    api.create('pods', { metadata: { name: 'live' } });
    await pollUntil(() => theirs.added.includes('live') && ours.get('live', 'default') !== undefined, 'both to see "live"');

    const since = api.requests.length;
    expect(api.dropWatches()).toBe(2);
    await pollUntil(() => theirs.errors.length > 0, "client-node's error");
    await pollUntil(() => api.watchCount === 1, 'ridethrough to watch again');
    api.create('pods', { metadata: { name: 'after' } });
    await pollUntil(() => ours.get('after', 'default') !== undefined, 'ridethrough to see "after"');

    expect(theirs.errors).toHaveLength(1);
    expect(theirs.errors[0]).toBeInstanceOf(Error);
    expect(theirs.errors[0]).toMatchObject({ message: 'Premature close', code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(theirs.added).toEqual(['before', 'live']);
    expect(names(theirs.informer)).toEqual(['before', 'live']);
    expect(fromClientNode(api, since)).toEqual([]); // no list, no watch: it never tried again
    expect(names(ours)).toEqual(['after', 'before', 'live']);
  });

  it('stops for good when the reconnect after a clean end fails (503), where ridethrough backs off and carries on', async () => {
    // Each on its own server: a fault answers one request, and both reconnect.
    const [theirApi, ourApi] = await Promise.all([fake({ maxWatchMs: 300 }), fake({ maxWatchMs: 300 })]);
    const theirs = await clientNodeInformer(theirApi);
    const ours = await ridethroughInformer(ourApi, 200);
    await pollUntil(() => theirApi.watchCount === 1 && ourApi.watchCount === 1, 'both watches');
    theirApi.unavailable(1, 'watch');
    ourApi.unavailable(1, 'watch');
    await pollUntil(() => theirs.errors.length > 0, "client-node's error");
    const since = theirApi.requests.length;
    await pollUntil(() => ours.check() === true && ourApi.requests.filter((r) => r.url.includes('watch=true')).length >= 3, 'ridethrough to watch again after its backoff');
    theirApi.create('pods', { metadata: { name: 'after' } });
    ourApi.create('pods', { metadata: { name: 'after' } });
    await pollUntil(() => ours.get('after', 'default') !== undefined, 'ridethrough to see "after"');

    expect(theirs.errors).toHaveLength(1);
    expect(theirs.errors[0]).toMatchObject({ message: 'Service Unavailable', statusCode: 503 });
    expect(theirApi.requests.slice(since)).toEqual([]);
    expect(theirApi.watchCount).toBe(0);
    expect(theirs.added).toEqual([]);
  });

  it('survives a watch the server ends cleanly, and relists on 410 Expired', async () => {
    const api = await fake({ maxWatchMs: 300 });
    const theirs = await clientNodeInformer(api);
    const watchesOf = (): number => api.requests.filter((r) => r.url.includes('watch=true')).length;
    await pollUntil(() => watchesOf() >= 3, 'two clean ends, two reconnects');
    api.create('pods', { metadata: { name: 'a' } });
    await pollUntil(() => theirs.added.includes('a'), 'client-node to see "a"');

    // A change and a compaction while its reconnect is held: the resume gets 410, and it relists.
    api.delayResponses(400);
    await pollUntil(() => api.watchCount === 0, 'the watch to end');
    api.create('pods', { metadata: { name: 'during-gap' } });
    api.compact();
    const since = api.requests.length;
    api.delayResponses(0);
    await pollUntil(() => theirs.added.includes('during-gap'), 'client-node to relist');
    expect(api.requests.slice(since).some((r) => !r.url.includes('watch=true'))).toBe(true); // a list
    expect(theirs.errors).toEqual([]);
    expect(names(theirs.informer)).toEqual(['a', 'during-gap']);
  });
});
