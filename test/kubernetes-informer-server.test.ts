/**
 * startFakeApiServer (ridethrough/testing) with the real @kubernetes/client-node 1.x: its CoreV1Api
 * and its Watch talk to it as to a real API server, and each fault does what it says.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from 'ridethrough/testing';
import { pollUntil } from './support/poll.js';

type ClientNode = typeof import('@kubernetes/client-node');
let k8s: ClientNode;
beforeAll(async () => {
  k8s = await import('@kubernetes/client-node');
});

const servers: FakeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FakeApiServerOptions = {}) {
  const api = await startFakeApiServer({ resources: [{ plural: 'pods', kind: 'Pod' }, { plural: 'nodes', kind: 'Node', namespaced: false }], ...options });
  servers.push(api);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  return { api, kc, core: kc.makeApiClient(k8s.CoreV1Api) };
}

interface Seen {
  type: string;
  name: string | undefined;
  rv: string | undefined;
}

/** Opens a watch with client-node's own Watch; resolves with what it saw when it ends. */
async function watch(kc: InstanceType<ClientNode['KubeConfig']>, query: Record<string, string | number | boolean>) {
  const seen: Seen[] = [];
  let end!: (error: unknown) => void;
  const ended = new Promise<unknown>((resolve) => (end = resolve));
  const controller = await new k8s.Watch(kc).watch(
    '/api/v1/namespaces/default/pods',
    query,
    (type: string, object: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) =>
      seen.push({ type, name: object.metadata?.name, rv: object.metadata?.resourceVersion ?? String(object.code) }),
    (error: unknown) => end(error),
  );
  return { seen, ended, abort: () => controller.abort() };
}

describe('startFakeApiServer', () => {
  it('lists, gets, creates, replaces (409 on a stale resourceVersion) and deletes through CoreV1Api', async () => {
    const { api, core } = await fake();
    const created = await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'a' } } });
    expect(created.kind).toBe('Pod');
    expect(created.metadata?.resourceVersion).toBe('2');
    const list = await core.listNamespacedPod({ namespace: 'default' });
    expect(list.metadata?.resourceVersion).toBe(api.resourceVersion);
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a']);
    const replaced = await core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: { ...created, spec: { containers: [] } } });
    expect(replaced.metadata?.resourceVersion).toBe('3');
    const stale = await core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: created }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(k8s.ApiException);
    expect((stale as { code: number }).code).toBe(409);
    await core.deleteNamespacedPod({ name: 'a', namespace: 'default' });
    const missing = await core.readNamespacedPod({ name: 'a', namespace: 'default' }).catch((e: { code?: number }) => e.code);
    expect(missing).toBe(404);
    api.create('nodes', { metadata: { name: 'n1' } });
    expect((await core.listNode()).items.map((n) => n.metadata?.name)).toEqual(['n1']);
  });

  it('watches from a resourceVersion: the changes after it, then live ones; from none, an ADDED per object', async () => {
    const { api, kc } = await fake();
    api.create('pods', { metadata: { name: 'a' } }); // rv 2
    api.create('pods', { metadata: { name: 'b' } }); // rv 3
    const resumed = await watch(kc, { resourceVersion: '2' });
    const fresh = await watch(kc, {});
    await pollUntil(() => api.watchCount === 2, 'two watches');
    api.remove('pods', 'a'); // rv 4
    await pollUntil(() => resumed.seen.length === 2 && fresh.seen.length === 3, 'the events');
    expect(resumed.seen).toEqual([{ type: 'ADDED', name: 'b', rv: '3' }, { type: 'DELETED', name: 'a', rv: '4' }]);
    expect(fresh.seen.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED a', 'ADDED b', 'DELETED a']);
    resumed.abort();
    fresh.abort();
  });

  it('sends bookmarks when asked, ends a watch after timeoutSeconds (capped by maxWatchMs)', async () => {
    const { kc } = await fake({ bookmarkIntervalMs: 20, maxWatchMs: 400 });
    const w = await watch(kc, { allowWatchBookmarks: true, timeoutSeconds: 60 });
    expect(await w.ended).toBeNull(); // a clean end
    expect(w.seen.filter((e) => e.type === 'BOOKMARK').length).toBeGreaterThan(2);
    const quiet = await watch(kc, { timeoutSeconds: 60 });
    await quiet.ended;
    expect(quiet.seen).toEqual([]);
  });

  it('after compact(), a resume from an older resourceVersion gets an ERROR event with 410 Expired, then the end', async () => {
    const { api, kc } = await fake();
    api.create('pods', { metadata: { name: 'a' } }); // rv 2
    api.create('pods', { metadata: { name: 'b' } }); // rv 3
    api.compact();
    const old = await watch(kc, { resourceVersion: '2' });
    expect(await old.ended).toBeNull();
    expect(old.seen).toEqual([{ type: 'ERROR', name: undefined, rv: '410' }]);
    const current = await watch(kc, { resourceVersion: api.resourceVersion });
    await pollUntil(() => api.watchCount === 1, 'the watch');
    current.abort();
  });

  it('throttles with Retry-After, answers 503, resets connections, only for the requests targeted', async () => {
    const { api, core } = await fake();
    api.throttle(1, 2, 'read');
    api.unavailable(1, 'read');
    api.resetConnections(1, 'read');
    api.throttle(1, 1, 'watch'); // not a read: left for a watch
    const throttled = (await core.listNamespacedPod({ namespace: 'default' }).catch((e: unknown) => e)) as { code: number; headers: Record<string, string> };
    expect(throttled.code).toBe(429);
    expect(throttled.headers['retry-after']).toBe('2');
    expect(await core.listNamespacedPod({ namespace: 'default' }).catch((e: { code?: number }) => e.code)).toBe(503);
    const reset = await core.listNamespacedPod({ namespace: 'default' }).catch(connectionCode);
    // client-node 1.x (node-fetch) says ECONNRESET; 2.x (undici's fetch) says UND_ERR_SOCKET.
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(reset);
    expect((await core.listNamespacedPod({ namespace: 'default' })).items).toEqual([]);
  });

  it('drops every watch, delays responses, and restarts on the same port with its objects', async () => {
    const { api, kc, core } = await fake();
    api.create('pods', { metadata: { name: 'a' } });
    const w = await watch(kc, { resourceVersion: api.resourceVersion });
    await pollUntil(() => api.watchCount === 1, 'the watch');
    expect(api.dropWatches()).toBe(1);
    expect(await w.ended).toBeInstanceOf(Error);
    api.delayResponses(150);
    const started = performance.now();
    await core.listNamespacedPod({ namespace: 'default' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    api.delayResponses(0);
    const restarting = api.restart({ downMs: 500 }); // stops listening at the call
    const refused = await core.listNamespacedPod({ namespace: 'default' }).catch(connectionCode);
    await restarting;
    expect(refused).toBe('ECONNREFUSED');
    expect((await core.listNamespacedPod({ namespace: 'default' })).items.map((p) => p.metadata?.name)).toEqual(['a']);
  });

  it('close() and await using leave nothing listening', async () => {
    let url: string;
    {
      await using api = await startFakeApiServer();
      url = api.url;
      expect((await fetch(`${url}/api/v1/namespaces/default/pods`)).status).toBe(200); // nothing routed: the empty list
    }
    await expect(fetch(`${url}/api/v1/namespaces/default/pods`)).rejects.toThrow();
  });
});

/** A connection failure's code: on the error with client-node 1.x (node-fetch), on its cause with 2.x (undici's fetch). */
function connectionCode(error: { code?: unknown; cause?: { code?: unknown } }): unknown {
  return error.code ?? error.cause?.code;
}
