/**
 * makeInformer (ridethrough/kubernetes) with the real @kubernetes/client-node 1.x (its KubeConfig
 * and CoreV1Api for the list) against startFakeApiServer (ridethrough/testing): list then watch,
 * resume, bookmarks, relist on 410 with only the real differences, and the informer's `check`.
 * Failures, the inactivity timeout and closing: kubernetes-informer-faults.test.ts; the soak:
 * kubernetes-informer-soak.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kubeStatus } from 'ridethrough/testing';
import { cacheState, cleanUp, fake, lines, podRequests, recorded, serverState } from './support/informer-harness.js';
import { pollUntil } from './support/poll.js';
import { failOnLeftoverTimers } from './support/resources.js';

failOnLeftoverTimers();
afterEach(cleanUp);

describe('makeInformer: list, then watch', () => {
  it('lists, watches from the list resourceVersion with bookmarks asked, and delivers add, update, delete (and change)', async () => {
    const f = await fake();
    f.api.create('pods', { metadata: { name: 'a' } }); // rv 2
    f.api.create('pods', { metadata: { name: 'b' } }); // rv 3
    const listedAt = f.api.resourceVersion;
    const r = recorded(f);
    let cachedWhenSynced = -1;
    void r.informer.synced.then(() => (cachedWhenSynced = r.informer.list().length));
    expect(r.informer.latestResourceVersion()).toBe('');

    await r.informer.start();
    await r.informer.synced;
    expect(cachedWhenSynced).toBe(2); // synced resolves with the first list in the cache
    expect(lines(r.events)).toEqual(['add a@2', 'add b@3']);
    // The server counts the watch before the informer has read its 200: wait for both.
    await pollUntil(() => f.api.watchCount === 1 && r.opened.length === 1, 'the watch, open on both sides');
    const { lists, watches } = podRequests(f.api);
    expect(lists).toBe(1);
    expect(watches).toHaveLength(1);
    expect(watches[0]!.get('resourceVersion')).toBe(listedAt);
    expect(watches[0]!.get('allowWatchBookmarks')).toBe('true');
    expect(Number(watches[0]!.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300); // randomised in [300, 600)
    expect(Number(watches[0]!.get('timeoutSeconds'))).toBeLessThan(600);
    expect(r.connects.length).toBeGreaterThanOrEqual(1);
    expect(r.opened.map((o) => o.resourceVersion)).toEqual([listedAt]);
    expect(r.lists).toEqual([expect.objectContaining({ reason: 'initial', resourceVersion: listedAt, items: 2, added: 2, updated: 0, deleted: 0 })]);

    f.api.create('pods', { metadata: { name: 'c' } }); // rv 4
    f.api.update('pods', { metadata: { name: 'a' }, spec: { nodeName: 'n1' } }); // rv 5
    f.api.remove('pods', 'b'); // rv 6
    await pollUntil(() => r.events.length === 5, 'the three watch events');
    expect(lines(r.events)).toEqual(['add a@2', 'add b@3', 'add c@4', 'update a@5', 'delete b@6']);
    expect(r.changes).toEqual(r.events);
    expect(r.informer.get('a', 'default')?.spec?.nodeName).toBe('n1');
    expect(r.informer.get('b', 'default')).toBeUndefined();
    expect(r.informer.get('c')).toBeUndefined(); // no namespace given: the cluster scope, where no pod lives
    expect(cacheState(r.informer)).toEqual(serverState(f.api));
    expect(r.informer.list('other')).toEqual([]);
    expect(r.informer.latestResourceVersion()).toBe('6');
    expect(r.errors).toEqual([]);
    expect(r.informer.check()).toBe(true);
  });

  it('resumes a dropped watch from the last resourceVersion it saw, delivering what it missed once, without a relist', async () => {
    const f = await fake();
    f.api.create('pods', { metadata: { name: 'a' } });
    const r = recorded(f);
    await r.informer.start();
    await pollUntil(() => f.api.watchCount === 1, 'the watch');
    f.api.create('pods', { metadata: { name: 'b' } });
    await pollUntil(() => r.events.length === 2, 'b added');
    const lastSeen = r.informer.latestResourceVersion();
    expect(lastSeen).toBe(f.api.resourceVersion);

    expect(f.api.dropWatches()).toBe(1);
    f.api.update('pods', { metadata: { name: 'a' }, spec: { nodeName: 'n2' } }); // while no watch is open
    f.api.create('pods', { metadata: { name: 'c' } });
    await pollUntil(() => r.events.length === 4, 'the changes made while the watch was down');
    expect(lines(r.events.slice(2))).toEqual([`update a@${Number(lastSeen) + 1}`, `add c@${Number(lastSeen) + 2}`]);
    const { lists, watches } = podRequests(f.api);
    expect(lists).toBe(1); // no relist
    expect(watches.map((w) => w.get('resourceVersion'))).toEqual([watches[0]!.get('resourceVersion'), lastSeen]);
    expect(r.lists).toHaveLength(1);
    expect(r.errors.length).toBeGreaterThanOrEqual(1); // the drop was reported
    await pollUntil(() => r.informer.check() === true, 'check true again');
    expect(cacheState(r.informer)).toEqual(serverState(f.api));
  });

  it('moves its resume point with bookmarks on a quiet resource, and resumes from the bookmark', async () => {
    const f = await fake({ bookmarkIntervalMs: 30 });
    f.api.create('pods', { metadata: { name: 'a' } });
    const r = recorded(f);
    await r.informer.start();
    const listedAt = r.informer.latestResourceVersion();
    // Other resources move the server's resourceVersion; the pods watch gets no event, only bookmarks.
    for (let i = 0; i < 3; i++) f.api.create('configmaps', { metadata: { name: `cm-${i}` } });
    const bookmarked = f.api.resourceVersion;
    expect(Number(bookmarked)).toBeGreaterThan(Number(listedAt));
    await pollUntil(() => r.informer.latestResourceVersion() === bookmarked, 'a bookmark with the new resourceVersion');
    expect(r.events).toHaveLength(1); // a bookmark is no change

    f.api.dropWatches();
    await pollUntil(() => podRequests(f.api).watches.length === 2, 'the resumed watch');
    expect(podRequests(f.api).watches[1]!.get('resourceVersion')).toBe(bookmarked);
    f.api.compact(); // history before the bookmark is gone: a resume from the bookmark still works
    f.api.dropWatches();
    f.api.create('pods', { metadata: { name: 'b' } });
    await pollUntil(() => r.events.length === 2, 'b added');
    expect(podRequests(f.api).lists).toBe(1);
  });
});

describe('makeInformer: 410 and the relist', () => {
  it('relists when the history it would resume from is compacted, delivering only the real differences', async () => {
    const f = await fake();
    for (const name of ['same', 'changed', 'gone']) f.api.create('pods', { metadata: { name } });
    const r = recorded(f);
    await r.informer.start();
    await pollUntil(() => f.api.watchCount === 1, 'the watch');
    const before = r.events.length;
    const sameRv = r.informer.get('same', 'default')?.metadata?.resourceVersion;
    const goneRv = r.informer.get('gone', 'default')?.metadata?.resourceVersion;

    // All in one turn: the informer cannot resume before the history is gone.
    f.api.dropWatches();
    f.api.update('pods', { metadata: { name: 'changed' }, spec: { nodeName: 'n1' } });
    f.api.update('pods', { metadata: { name: 'changed' }, spec: { nodeName: 'n2' } }); // merged by the relist
    f.api.remove('pods', 'gone');
    f.api.create('pods', { metadata: { name: 'new' } });
    f.api.compact();

    await pollUntil(() => r.lists.length === 2, 'the relist');
    const changedRv = f.api.get('pods', 'changed')?.metadata?.resourceVersion;
    const newRv = f.api.get('pods', 'new')?.metadata?.resourceVersion;
    expect(lines(r.events.slice(before))).toEqual([`delete gone@${goneRv}`, `update changed@${changedRv}`, `add new@${newRv}`]);
    expect(r.events.some((e) => e.name === 'same' && e.verb === 'update')).toBe(false);
    expect(r.informer.get('same', 'default')?.metadata?.resourceVersion).toBe(sameRv);
    expect(r.lists[1]).toMatchObject({ reason: 'expired', items: 3, added: 1, updated: 1, deleted: 1 });
    expect(podRequests(f.api).lists).toBe(2);
    expect(cacheState(r.informer)).toEqual(serverState(f.api));

    // And it watches on from the relist.
    f.api.remove('pods', 'same');
    await pollUntil(() => r.events.at(-1)?.name === 'same', 'the watch after the relist');
    expect(r.events.at(-1)?.verb).toBe('delete');
  });

  it('relists on a 410 Gone answered to the watch request itself, with no event for an unchanged cache', async () => {
    const f = await fake();
    f.api.create('pods', { metadata: { name: 'a' } });
    const r = recorded(f);
    await r.informer.start();
    await pollUntil(() => f.api.watchCount === 1, 'the watch');
    f.api.fail(1, kubeStatus('Gone', { message: 'too old resource version' }), 'watch');
    f.api.dropWatches();
    await pollUntil(() => r.lists.length === 2, 'the relist');
    expect(r.lists[1]).toMatchObject({ reason: 'expired', items: 1, added: 0, updated: 0, deleted: 0 });
    expect(lines(r.events)).toEqual(['add a@2']);
    await pollUntil(() => f.api.watchCount === 1, 'the watch after the relist');
    // The drop is reported; the 410 is a relist, not a failure.
    expect(r.failures.map((e) => `${e.phase} ${e.verdict.reason}`)).toEqual(['watch ECONNRESET']);
  });

  it('backs off, rather than relisting in a loop, from a server that answers 410 to its own list resourceVersion', async () => {
    const f = await fake();
    const r = recorded(f, { initialDelayMs: 50, maxDelayMs: 50 });
    f.api.fail(3, kubeStatus('Expired'), 'watch');
    await r.informer.start();
    await pollUntil(() => r.failures.length >= 2, 'two failures');
    expect(r.failures[0]).toMatchObject({ phase: 'watch', verdict: { kind: 'transient' } });
    expect(String(r.failures[0]!.error)).toMatch(/expired right after a relist/);
    await pollUntil(() => f.api.watchCount === 1, 'the watch, once the 410s are over');
    expect(r.informer.check()).toBe(true);
  });
});

describe('makeInformer: check, for readinessGate', () => {
  it('is false before the first list, true once synced and live, false with a detail while the server is away, then true', async () => {
    const f = await fake();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const r = recorded(f, { inactivityTimeoutMs: 300 }, async () => {
      await held;
      return f.core.listNamespacedPod({ namespace: 'default' });
    });
    expect(r.informer.check()).toMatch(/pods-\d+.*not started/);
    void r.informer.start();
    expect(r.informer.check()).toMatch(/not synced yet/);
    release();
    await r.informer.synced;
    expect(r.informer.check()).toBe(true);
    await pollUntil(() => f.api.watchCount === 1, 'the watch');
    expect(r.informer.check()).toBe(true);

    const restarting = f.api.restart({ downMs: 2_500 });
    await pollUntil(() => r.informer.check() !== true, 'check false while the server is down');
    expect(r.informer.check()).toMatch(/no watch open for \d+ ms: \S/);
    await restarting;
    await pollUntil(() => r.informer.check() === true, 'check true once the watch is back');
  });
});
