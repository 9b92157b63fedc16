/**
 * The key proof of makeInformer (issue 13): a controller's informer, its list through
 * makeApiClient and the real @kubernetes/client-node 1.x, runs while startFakeApiServer drops
 * watches, compacts its history, throttles, answers 503, resets connections and restarts, and a
 * writer creates, updates and deletes pods throughout. At the end the cache equals the server's
 * state, no change was delivered twice or out of order per object, and the informer still runs.
 */
import { afterEach, expect, it } from 'vitest';
import { makeApiClient } from 'ridethrough/kubernetes';
import { cacheState, cleanUp, clientNode, fake, recorded, serverState, type Delivered } from './support/informer-harness.js';
import { pollUntil } from './support/poll.js';
import { failOnLeftoverTimers } from './support/resources.js';

failOnLeftoverTimers();
afterEach(cleanUp);

/** A small seeded generator (mulberry32), so that every run makes the same kinds of changes. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What is wrong with a sequence of deliveries, per object: an add of a cached object, an update
 * or delete of an absent one, an add or update whose resourceVersion is not above every earlier
 * one of that name (delivered twice, or out of order), a delete older than the cached version.
 */
function violations(events: readonly Delivered[]): string[] {
  const cached = new Map<string, number>();
  const highest = new Map<string, number>();
  const wrong: string[] = [];
  events.forEach((e, i) => {
    const rv = Number(e.rv);
    const at = `#${i} ${e.verb} ${e.name}@${e.rv}`;
    if (e.verb === 'delete') {
      if (!cached.has(e.name)) wrong.push(`${at}: not cached`);
      else if (rv < cached.get(e.name)!) wrong.push(`${at}: older than the cached ${cached.get(e.name)}`);
      cached.delete(e.name);
      highest.set(e.name, Math.max(rv, highest.get(e.name) ?? 0));
      return;
    }
    if (e.verb === 'add' && cached.has(e.name)) wrong.push(`${at}: already cached`);
    if (e.verb === 'update' && !cached.has(e.name)) wrong.push(`${at}: not cached`);
    if (rv <= (highest.get(e.name) ?? 0)) wrong.push(`${at}: not above ${highest.get(e.name)}`);
    cached.set(e.name, rv);
    highest.set(e.name, rv);
  });
  return wrong;
}

/** The cache a consumer rebuilds from the deliveries alone. */
function replayed(events: readonly Delivered[]): Record<string, string> {
  const state = new Map<string, string>();
  for (const e of events) {
    if (e.verb === 'delete') state.delete(e.name);
    else state.set(e.name, e.rv);
  }
  return Object.fromEntries([...state].sort());
}

const sorted = (state: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(state).sort());

it('ends equal to the server, each object changed once and in order, through drops, 410s, 429s, 503s, resets and restarts', async () => {
  const f = await fake({ bookmarkIntervalMs: 100 });
  const k8s = await clientNode();
  // As a controller would: the list retried by makeApiClient, each attempt bounded.
  const core = makeApiClient(f.kc, k8s.CoreV1Api, { attemptTimeoutMs: 2_000, rateLimiter: false, name: 'soak' });
  const r = recorded(f, { initialDelayMs: 10, maxDelayMs: 150 }, () => core.listNamespacedPod({ namespace: 'default' }));
  const random = seeded(13);
  const names = Array.from({ length: 12 }, (_, i) => `pod-${i}`);
  for (const name of names.slice(0, 6)) f.api.create('pods', { metadata: { name } });
  await r.informer.start();
  await r.informer.synced;

  let writes = 0;
  const write = (): void => {
    const name = names[Math.floor(random() * names.length)]!;
    const current = f.api.get('pods', name);
    if (current === undefined) f.api.create('pods', { metadata: { name } });
    else if (random() < 0.7) f.api.update('pods', { metadata: { name }, spec: { nodeName: `n${writes}` } });
    else f.api.remove('pods', name);
    writes++;
  };
  let writing = true;
  const writer = (async () => {
    while (writing) {
      write();
      await pause(3 + Math.floor(random() * 10));
    }
  })();

  /** Drop the watch, change something while it is down, forget the history: the resume gets 410. */
  const dropAndCompact = (): void => {
    f.api.dropWatches();
    write();
    f.api.compact();
  };
  const faults: Array<() => unknown> = [
    () => f.api.dropWatches(),
    dropAndCompact,
    () => (f.api.throttle(2, 0), f.api.dropWatches()),
    () => (f.api.unavailable(2), f.api.dropWatches()),
    () => (f.api.resetConnections(2), f.api.dropWatches()),
    () => f.api.restart({ downMs: 150 }),
    () => (f.api.throttle(1, 1, 'watch'), f.api.dropWatches()),
    () => f.api.restart({ downMs: 150, compact: true }),
  ];
  try {
    for (let round = 0; round < 2; round++) {
      for (const fault of faults) {
        await pause(200);
        await fault();
      }
    }
  } finally {
    writing = false;
    await writer;
  }
  // Positive signal: the informer has caught up with the server's final state.
  await pollUntil(() => JSON.stringify(sorted(cacheState(r.informer))) === JSON.stringify(sorted(serverState(f.api))), 'the cache to equal the server', 20_000, 20);

  expect(sorted(cacheState(r.informer))).toEqual(sorted(serverState(f.api)));
  expect(replayed(r.events)).toEqual(sorted(serverState(f.api)));
  expect(violations(r.events)).toEqual([]);
  expect(writes).toBeGreaterThan(100);
  // The faults happened and were reported; the compactions made it relist.
  expect(r.failures.length).toBeGreaterThanOrEqual(10);
  expect(r.lists.filter((l) => l.reason === 'expired').length).toBeGreaterThanOrEqual(2);
  expect(r.failures.some((e) => e.verdict.retryAfterMs === 1_000)).toBe(true);

  // And it still runs.
  f.api.create('pods', { metadata: { name: 'after-the-storm' } });
  await pollUntil(() => r.events.some((e) => e.name === 'after-the-storm'), 'a change after the faults', 20_000);
  await pollUntil(() => r.informer.check() === true, 'check true', 20_000);
  expect(violations(r.events)).toEqual([]);
});
