/**
 * makeInformer with the real @kubernetes/client-node 1.x against startFakeApiServer: it never
 * stops on its own (429 with Retry-After, 503, resets, a restart, 403), cuts a silent stream after
 * `inactivityTimeoutMs`, and close(), a signal and `await using` leave nothing behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeInformer } from 'ridethrough/kubernetes';
import { kubeStatus } from 'ridethrough/testing';
import { cacheState, cleanUp, clientNode, fake, PATH, podRequests, recorded, serverState } from './support/informer-harness.js';
import { leftovers } from './support/leftovers.js';
import { pollUntil } from './support/poll.js';
import { failOnLeftoverTimers } from './support/resources.js';

failOnLeftoverTimers();
afterEach(cleanUp);

describe('makeInformer: never stopping', () => {
  it('waits out a 429 Retry-After before the next try, on the watch and on the list', async () => {
    const f = await fake();
    const r = recorded(f);
    f.api.throttle(1, 1, 'read'); // the first list
    await r.informer.start(); // resolves on the failed first round
    expect(r.failures[0]).toMatchObject({ phase: 'list', failures: 1, verdict: { kind: 'transient' } });
    expect(r.failures[0]!.delayMs).toBeGreaterThanOrEqual(1_000);
    await r.informer.synced;
    await pollUntil(() => f.api.watchCount === 1, 'the watch');

    f.api.throttle(1, 1, 'watch');
    f.api.dropWatches();
    await pollUntil(() => r.failures.length === 3, 'the drop and the 429 reported');
    expect(r.failures[2]).toMatchObject({ phase: 'watch', verdict: { kind: 'transient', retryAfterMs: 1_000 } });
    expect(r.failures[2]!.delayMs).toBeGreaterThanOrEqual(1_000);
    const throttledAt = r.errors[2]!.at;
    const connectsBefore = r.connects.filter((at) => at <= throttledAt).length;
    await pollUntil(() => f.api.watchCount === 1, 'the watch after the Retry-After');
    const next = r.connects[connectsBefore]!;
    expect(next - throttledAt).toBeGreaterThanOrEqual(995); // honoured (a timer may fire a millisecond early)
    expect(next - throttledAt).toBeLessThan(10_000);
    f.api.create('pods', { metadata: { name: 'after' } });
    await pollUntil(() => r.events.some((e) => e.name === 'after'), 'the add after the throttling');
  });

  it('goes on through 503s, connection resets and a server restart, and catches up', async () => {
    const f = await fake();
    f.api.unavailable(2, 'read');
    const r = recorded(f);
    await r.informer.start();
    await r.informer.synced;
    expect(r.failures.slice(0, 2).map((e) => `${e.phase} ${e.failures} ${e.verdict.kind}`)).toEqual(['list 1 transient', 'list 2 transient']);
    await pollUntil(() => f.api.watchCount === 1, 'the watch');

    f.api.unavailable(2, 'watch');
    f.api.resetConnections(2, 'watch');
    f.api.dropWatches();
    f.api.create('pods', { metadata: { name: 'during-faults' } });
    await pollUntil(() => r.events.some((e) => e.name === 'during-faults'), 'the add made during the faults');
    const afterFaults = r.failures.length;
    expect(afterFaults).toBeGreaterThanOrEqual(2 + 5); // the drop, two 503s, two resets
    expect(r.failures.some((e) => (e.error as { code?: number }).code === 503)).toBe(true);

    const restarting = f.api.restart({ downMs: 400 });
    f.api.create('pods', { metadata: { name: 'while-down' } }); // another replica's write while it restarts
    f.api.remove('pods', 'during-faults');
    await restarting;
    await pollUntil(() => r.events.some((e) => e.name === 'during-faults' && e.verb === 'delete'), 'the changes made while it was down');
    expect(r.failures.length).toBeGreaterThan(afterFaults); // the restart was reported
    expect(r.errors).toHaveLength(r.failures.length); // each report reached on('error') too
    expect(podRequests(f.api).lists).toBe(3); // two 503s, one list: every watch resumed
    expect(cacheState(r.informer)).toEqual(serverState(f.api));
    await pollUntil(() => r.informer.check() === true, 'check true');
  });

  it('keeps retrying a 403 Forbidden watch slowly (every maxDelayMs), shows it in check, and recovers', async () => {
    const f = await fake();
    const r = recorded(f, { maxDelayMs: 300 });
    await r.informer.start();
    await pollUntil(() => f.api.watchCount === 1, 'the watch');
    f.api.fail(3, kubeStatus('Forbidden', { message: 'pods is forbidden: User "nobody" cannot watch resource "pods"' }), 'watch');
    f.api.dropWatches();
    await pollUntil(() => r.failures.length >= 2, 'the first 403');
    expect(r.failures[1]).toMatchObject({ phase: 'watch', verdict: { kind: 'permanent' }, delayMs: 300 });
    expect(r.informer.check()).toMatch(/failing: .*Forbidden.*cannot watch resource "pods"/);
    await pollUntil(() => r.failures.length >= 4, 'the three 403s');
    expect(r.failures.slice(1, 4).every((e) => e.verdict.kind === 'permanent' && e.delayMs === 300)).toBe(true);
    expect(r.errors[3]!.at - r.errors[2]!.at).toBeGreaterThanOrEqual(295); // slowly
    // The server counts the watch before the informer has read its 200 (which clears the failure).
    await pollUntil(() => f.api.watchCount === 1 && r.informer.check() === true, 'the watch once allowed again, check true');
    f.api.create('pods', { metadata: { name: 'allowed' } });
    await pollUntil(() => r.events.some((e) => e.name === 'allowed'), 'the add after recovering');
  });

  it('keeps retrying a list that throws client-node ApiException(403), unsynced with the reason in check, and syncs once allowed', async () => {
    const f = await fake();
    const k8s = await clientNode();
    let refusals = 2;
    const r = recorded(f, { maxDelayMs: 250 }, () => {
      if (refusals-- > 0) return Promise.reject(new k8s.ApiException(403, 'Forbidden', JSON.stringify(kubeStatus('Forbidden').body), {}));
      return f.core.listNamespacedPod({ namespace: 'default' });
    });
    await r.informer.start();
    expect(r.failures[0]).toMatchObject({ phase: 'list', verdict: { kind: 'permanent' }, delayMs: 250 });
    expect(r.informer.check()).toMatch(/not synced yet: .*Forbidden/);
    await r.informer.synced;
    expect(r.failures).toHaveLength(2);
    expect(r.errors[1]!.at - r.errors[0]!.at).toBeGreaterThanOrEqual(245);
    expect(r.informer.check()).toBe(true);
  });
});

describe('makeInformer: the inactivity timeout', () => {
  it('cuts a watch the server keeps open but silent, and resumes it from where it was', async () => {
    const f = await fake(); // bookmarks every minute: silent for this test
    f.api.create('pods', { metadata: { name: 'a' } });
    const r = recorded(f, { inactivityTimeoutMs: 300 });
    await r.informer.start();
    const listedAt = r.informer.latestResourceVersion();
    await pollUntil(() => r.failures.length >= 1, 'the stale stream cut');
    expect(r.failures[0]).toMatchObject({ phase: 'watch', verdict: { kind: 'transient' } });
    expect((r.failures[0]!.error as Error).name).toBe('TimeoutError');
    expect(String(r.failures[0]!.error)).toMatch(/no event or bookmark for 300 ms/);
    await pollUntil(() => podRequests(f.api).watches.length >= 2, 'the resumed watch');
    expect(podRequests(f.api).watches[1]!.get('resourceVersion')).toBe(listedAt);
    expect(podRequests(f.api).lists).toBe(1);
    f.api.create('pods', { metadata: { name: 'b' } });
    await pollUntil(() => r.events.some((e) => e.name === 'b'), 'the add on the resumed watch');
  });
});

describe('makeInformer: closing', () => {
  it('close() resolves, closes the watch, rejects a later start and publishes nothing after', async () => {
    const f = await fake({ bookmarkIntervalMs: 20 });
    const baseline = process.getActiveResourcesInfo();
    const r = recorded(f);
    await r.informer.start();
    await pollUntil(() => f.api.watchCount === 1 && r.informer.latestResourceVersion() !== '', 'the watch');
    const before = { events: r.events.length, lists: r.lists.length, failures: r.failures.length, opened: r.opened.length, requests: f.api.requests.length };
    await r.informer.close();
    await r.informer.close(); // idempotent
    await pollUntil(() => f.api.watchCount === 0, 'the server seeing the watch closed');
    expect(await leftovers(baseline)).toEqual([]); // no socket, no timer
    f.api.create('pods', { metadata: { name: 'late' } });
    f.api.dropWatches();
    // A witness watch sees the change: had the informer still been listening, it would have too.
    const k8s = await clientNode();
    const seen: string[] = [];
    const witness = await new k8s.Watch(f.kc).watch(PATH, { resourceVersion: '1' }, (type: string) => seen.push(type), () => undefined);
    await pollUntil(() => seen.length >= 1, 'the witness');
    witness.abort();
    expect({ events: r.events.length, lists: r.lists.length, failures: r.failures.length, opened: r.opened.length }).toEqual({
      events: before.events, lists: before.lists, failures: before.failures, opened: before.opened,
    });
    expect(f.api.requests.length).toBe(before.requests + 1); // the witness's only
    expect(r.informer.list()).toEqual([]);
    expect(r.informer.check()).toMatch(/closed/);
    await expect(r.informer.start()).rejects.toThrow(/start\(\) after close\(\)/);
  });

  it('close() during a backoff wait and during a list that hangs resolves at once and rejects synced', async () => {
    const f = await fake();
    const backingOff = recorded(f, { initialDelayMs: 60_000, maxDelayMs: 60_000 });
    f.api.unavailable(1, 'read');
    await backingOff.informer.start();
    expect(backingOff.failures[0]!.delayMs).toBeGreaterThanOrEqual(30_000);
    const started = performance.now();
    await backingOff.informer.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(backingOff.informer.synced).rejects.toThrow(/closed before it synced/);

    let listSignal: AbortSignal | undefined;
    const hanging = recorded(f, {}, ({ signal }) => ((listSignal = signal), new Promise(() => undefined)));
    void hanging.informer.start();
    await pollUntil(() => listSignal !== undefined, 'the list call');
    await hanging.informer.close();
    expect(listSignal!.aborted).toBe(true);
    await expect(hanging.informer.synced).rejects.toThrow(/closed before it synced/);
    expect(hanging.failures).toEqual([]); // closing is no failure
  });

  it('closes when its signal aborts, and with await using', async () => {
    const f = await fake();
    const controller = new AbortController();
    const r = recorded(f, { signal: controller.signal });
    await r.informer.start();
    await pollUntil(() => f.api.watchCount === 1, 'the watch');
    controller.abort();
    await pollUntil(() => r.informer.check() !== true && f.api.watchCount === 0, 'closed by the signal');
    expect(r.informer.check()).toMatch(/closed/);

    const aborted = makeInformer(f.kc, PATH, () => f.core.listNamespacedPod({ namespace: 'default' }), { signal: AbortSignal.abort() });
    expect(aborted.check()).toMatch(/closed/);
    await expect(aborted.synced).rejects.toThrow();

    let check: () => true | string;
    {
      await using informer = makeInformer(f.kc, PATH, () => f.core.listNamespacedPod({ namespace: 'default' }), { initialDelayMs: 10 });
      check = informer.check;
      await informer.start();
      await pollUntil(() => f.api.watchCount === 1, 'the watch of the await using informer');
    }
    expect(check()).toMatch(/closed/);
    await pollUntil(() => f.api.watchCount === 0, 'its watch closed');
  });
});
