/**
 * ridethrough's makeInformer beside @kubernetes/client-node's own makeInformer, on the fake API
 * server (ridethrough/testing, 127.0.0.1), in one run:
 *
 * 1. Events per second: a writer creates N pods then updates each once; the time until the
 *    informer has delivered all 2N add/update callbacks. Twice: `live` (written while it watches;
 *    end to end, writer and server included) and `backlog` (written between its list and its
 *    watch, so the watch replays them at once: the informer's own pace). Rounds interleaved, each
 *    case on a fresh server; a floor (a bare HTTP watch whose lines are only JSON.parse'd) shows
 *    what the server and the wire cost by themselves.
 * 2. Heap per cached object: 10,000 pods listed, heap after GC with the informer synced minus the
 *    heap before it; beside the same list merely kept in a variable (what the objects themselves
 *    weigh). Both informers list through the same client-node CoreV1Api call.
 * 3. Faults (bench/kubernetes-informer-faults.ts): each informer on its own fake server, the same
 *    fault on both at once, then a new pod; what each informer reports and whether it sees the pod.
 *
 * Needs --expose-gc (npm run bench passes it).
 */
import http from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CoreV1Api, makeInformer as clientNodeInformer, type V1Pod } from '@kubernetes/client-node';
import { makeInformer } from 'ridethrough/kubernetes';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from 'ridethrough/testing';
import { median, printTable } from './harness.js';
import { printFaults, runFaults } from './kubernetes-informer-faults.js';
import { kubeConfigFor, PATH, podBody, resources, sleep, until } from './kubernetes-informer-support.js';

type Case = 'floor' | 'client-node' | 'ridethrough';

/** A bare watch from `resourceVersion`: HTTP GET, split lines, JSON.parse each, count. No cache, no callbacks. */
function bareWatch(api: FakeApiServer, resourceVersion: string, onEvent: () => void): { stop: () => void } {
  const request = http.get(`${api.url}${PATH}?watch=true&resourceVersion=${resourceVersion}`, (response) => {
    response.setEncoding('utf8');
    let buffered = '';
    response.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line !== '' && (JSON.parse(line) as { type?: string }).type !== undefined) onEvent();
    });
    response.on('error', () => {});
  });
  request.on('error', () => {});
  return { stop: () => request.destroy() };
}

/** N creates then N updates, yielding to the event loop every 100 writes when `live`. */
async function write(api: FakeApiServer, n: number, live: boolean): Promise<void> {
  const created: FakeObject[] = [];
  for (let i = 0; i < n; i++) {
    created.push(api.create('pods', podBody(i)));
    if (live && i % 100 === 99) await yieldToLoop();
  }
  for (let i = 0; i < n; i++) {
    const pod = created[i]!;
    api.update('pods', { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, generation: '2' } } });
    if (live && i % 100 === 99) await yieldToLoop();
  }
}

/**
 * Events per second through one case, N creates and N updates, until all 2N are delivered.
 * `live`: the informer is watching and the writer writes (timed from the first write): the
 * writer, the in-process server and the informer share one event loop, so this is end to end.
 * `backlog`: the writes are made after the (empty) list and before the watch opens, so the watch
 * replays all 2N from history at once (timed from the end of the list): the informer's own pace.
 */
async function eventsPerSecond(which: Case, n: number, mode: 'live' | 'backlog'): Promise<number> {
  const api = await startFakeApiServer({ resources: [...resources] });
  const kc = kubeConfigFor(api);
  const core = kc.makeApiClient(CoreV1Api);
  const target = 2 * n;
  let seen = 0;
  let allSeen!: () => void;
  const done = new Promise<void>((resolve) => (allSeen = resolve));
  const count = (): void => {
    if (++seen === target) allSeen();
  };
  let started = NaN;
  const listFn = async () => {
    const list = await core.listNamespacedPod({ namespace: 'default' });
    if (mode === 'backlog') await write(api, n, false);
    started = performance.now();
    return list;
  };
  let stop: () => Promise<void> | void;
  if (which === 'floor') {
    const from = api.resourceVersion;
    if (mode === 'backlog') await write(api, n, false);
    started = performance.now();
    stop = bareWatch(api, from, count).stop;
  } else if (which === 'client-node') {
    const informer = clientNodeInformer<V1Pod>(kc, PATH, listFn);
    informer.on('add', count);
    informer.on('update', count);
    informer.on('error', () => {}); // stop() aborts the watch, which client-node reports as an error
    await informer.start();
    stop = () => informer.stop();
  } else {
    const informer = makeInformer<V1Pod>(kc, PATH, listFn);
    informer.on('add', count);
    informer.on('update', count);
    await informer.start();
    stop = () => informer.close();
  }
  if (mode === 'live') {
    await until(() => api.watchCount === 1, `${which}'s watch`);
    started = performance.now();
    await write(api, n, true);
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  await stop();
  await api.close();
  return target / seconds;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench does)');
async function heapNow(): Promise<number> {
  await sleep(20);
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

type HeapCase = 'list kept' | 'client-node' | 'ridethrough';

/** Heap bytes per object with `count` pods listed into the case (the server's own copies are in the baseline). */
async function heapPerObject(api: FakeApiServer, which: HeapCase, count: number): Promise<number> {
  const kc = kubeConfigFor(api);
  const core = kc.makeApiClient(CoreV1Api);
  const list = () => core.listNamespacedPod({ namespace: 'default' });
  const before = await heapNow();
  let held: { size: () => number; release: () => Promise<void> | void };
  if (which === 'list kept') {
    let kept: Awaited<ReturnType<typeof list>> | undefined = await list();
    held = { size: () => kept!.items.length, release: () => void (kept = undefined) };
  } else if (which === 'client-node') {
    const informer = clientNodeInformer<V1Pod>(kc, PATH, list);
    informer.on('error', () => {});
    await informer.start();
    held = { size: () => informer.list().length, release: () => informer.stop() };
  } else {
    const informer = makeInformer<V1Pod>(kc, PATH, list);
    await informer.start();
    held = { size: () => informer.list().length, release: () => informer.close() };
  }
  if (which !== 'list kept') await until(() => api.watchCount === 1, `${which}'s watch`);
  const after = await heapNow();
  if (held.size() !== count) throw new Error(`${which} holds ${held.size()} objects, not ${count}`);
  await held.release();
  await until(() => api.watchCount === 0, 'the watch to close');
  return (after - before) / count;
}

// 1. Events per second.
const ROUNDS = 9;
const cases: Case[] = ['floor', 'client-node', 'ridethrough'];
for (const [mode, n] of [['live', 2000], ['backlog', 5000]] as const) {
  for (const which of cases) await eventsPerSecond(which, 200, mode); // warm up every path once
  const rates: Record<Case, number[]> = { floor: [], 'client-node': [], ridethrough: [] };
  for (let r = 0; r < ROUNDS; r++) for (const which of cases) rates[which].push(await eventsPerSecond(which, n, mode));
  const rate = (which: Case): number => median([...rates[which]]);
  const what = mode === 'live' ? 'written while it watches' : 'replayed from history as the watch opens';
  printTable(`events per second, ${n} creates + ${n} updates ${what}, median of ${ROUNDS} interleaved rounds (ratio to client-node; higher is faster)`, [
    { name: 'floor: bare HTTP watch, JSON.parse per line', value: rate('floor'), unit: 'ev/s', ratio: rate('floor') / rate('client-node') },
    { name: 'client-node makeInformer', value: rate('client-node'), unit: 'ev/s', ratio: 1 },
    { name: 'ridethrough makeInformer', value: rate('ridethrough'), unit: 'ev/s', ratio: rate('ridethrough') / rate('client-node') },
  ]);
  for (const which of cases) console.log(`  ${which}: ${rates[which].map((v) => Math.round(v)).join(', ')} ev/s`);
}

// 2. Heap per cached object.
const OBJECTS = 10_000;
const heapApi = await startFakeApiServer({ resources: [...resources] });
for (let i = 0; i < OBJECTS; i++) heapApi.create('pods', podBody(i));
const heapCases: HeapCase[] = ['list kept', 'client-node', 'ridethrough'];
for (const which of heapCases) await heapPerObject(heapApi, which, OBJECTS); // warm up
const heap: Record<HeapCase, number[]> = { 'list kept': [], 'client-node': [], ridethrough: [] };
for (let r = 0; r < 3; r++) for (const which of heapCases) heap[which].push(await heapPerObject(heapApi, which, OBJECTS));
await heapApi.close();
const bytes = (which: HeapCase): number => median([...heap[which]]);
const base = bytes('list kept');
printTable(`heap per object, ${OBJECTS.toLocaleString('en-US')} pods listed, median of 3 (ratio to the list kept alone)`, heapCases.map((which) => ({
  name: which === 'list kept' ? 'the listed V1PodList kept in a variable' : `${which} makeInformer, synced`,
  value: bytes(which),
  unit: 'B',
  ratio: bytes(which) / base,
  note: which === 'list kept' ? '' : `${Math.round(bytes(which) - base)} B above the objects themselves`,
})));

// 3. Faults.
printFaults(await runFaults());
