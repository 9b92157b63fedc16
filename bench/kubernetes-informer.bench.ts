/**
 * ridethrough's makeInformer beside @kubernetes/client-node's own makeInformer, on the fake API
 * server (ridethrough/testing, 127.0.0.1), in one run:
 *
 * 1. Events per second: a writer creates N pods then updates each once; the time until the
 *    informer has delivered all 2N add/update callbacks. Twice: `live` (written while it watches;
 *    end to end, writer and server included) and `backlog` (written between its list and its
 *    watch, so the watch replays them at once: the informer's own pace). The server and the writer
 *    run in a child process (bench/kubernetes-informer-server.ts), so this process's CPU time per
 *    event is the informer's alone. Rounds interleaved, each case on a fresh server; a floor (a
 *    bare HTTP watch whose lines are only JSON.parse'd) shows what the wire and parsing cost alone.
 * 2. Heap per cached object: 10,000 pods listed, heap after GC with the informer synced minus the
 *    heap before it; beside the same list merely kept in a variable (what the objects themselves
 *    weigh). Both informers list through the same client-node CoreV1Api call.
 * 3. Faults (bench/kubernetes-informer-faults.ts): each informer on its own fake server, the same
 *    fault on both at once, then a new pod; what each informer reports and whether it sees the pod.
 *
 * Needs --expose-gc (npm run bench passes it).
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, makeInformer as clientNodeInformer, type V1Pod } from '@kubernetes/client-node';
import { makeInformer } from 'ridethrough/kubernetes';
import { startFakeApiServer, type FakeApiServer } from 'ridethrough/testing';
import { median, printTable } from './harness.js';
import { printFaults, runFaults } from './kubernetes-informer-faults.js';
import type { ServerOp } from './kubernetes-informer-server.js';
import { kubeConfigFor, PATH, podBody, resources, sleep, until } from './kubernetes-informer-support.js';

type Case = 'floor' | 'client-node' | 'ridethrough';
type ServerProcess = ReturnType<typeof startServerProcess>;

/** The child process holding the fake server and the writer (bench/kubernetes-informer-server.ts). */
function startServerProcess(): { call: (message: ServerOp) => Promise<unknown>; exit: () => Promise<void> } {
  const child = fork(fileURLToPath(new URL('./kubernetes-informer-server.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  child.on('message', (reply: { id: number; value?: unknown; error?: string }) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
    else waiter?.resolve(reply.value);
  });
  const call = (message: ServerOp): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ ...message, id });
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { call, exit: () => (child.send({ op: 'exit', id: -1 }), exited) };
}

/** A bare watch from `resourceVersion`: HTTP GET, split lines, JSON.parse each, count. No cache, no callbacks. */
function bareWatch(url: string, resourceVersion: string, onEvent: () => void): { stop: () => void } {
  const request = http.get(`${url}${PATH}?watch=true&resourceVersion=${resourceVersion}`, (response) => {
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

/** Events per second of wall time, and this process's CPU time (user + system) per event. */
interface Rate {
  readonly perSecond: number;
  readonly cpuUsPerEvent: number;
}

/**
 * Events per second through one case, N creates and N updates, until all 2N are delivered.
 * `live`: the informer is watching and the writer writes (timed from the first write).
 * `backlog`: the writes are made after the (empty) list and before the watch opens, so the watch
 * replays all 2N from history at once (timed from the end of the list): the informer's own pace.
 * The server and the writer run in a child process: the CPU time is the informer's process alone.
 */
async function eventsPerSecond(server: ServerProcess, which: Case, n: number, mode: 'live' | 'backlog'): Promise<Rate> {
  const kc = new KubeConfig();
  kc.loadFromOptions((await server.call({ op: 'start' })) as Parameters<KubeConfig['loadFromOptions']>[0]);
  const url = kc.getCurrentCluster()!.server;
  const core = kc.makeApiClient(CoreV1Api);
  const target = 2 * n;
  let seen = 0;
  let allSeen!: () => void;
  const done = new Promise<void>((resolve) => (allSeen = resolve));
  const count = (): void => {
    if (++seen === target) allSeen();
  };
  let started = NaN;
  let cpuAtStart = process.cpuUsage();
  const begin = (): void => {
    started = performance.now();
    cpuAtStart = process.cpuUsage();
  };
  const listFn = async () => {
    const list = await core.listNamespacedPod({ namespace: 'default' });
    if (mode === 'backlog') await server.call({ op: 'write', n, live: false });
    begin();
    return list;
  };
  let stop: () => Promise<void> | void;
  if (which === 'floor') {
    const from = (await server.call({ op: 'resourceVersion' })) as string;
    if (mode === 'backlog') await server.call({ op: 'write', n, live: false });
    begin();
    stop = bareWatch(url, from, count).stop;
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
    for (let polls = 0; (await server.call({ op: 'watchCount' })) !== 1; polls++) {
      if (polls > 5000) throw new Error(`${which}'s watch did not open`);
      await sleep(2);
    }
    begin();
    void server.call({ op: 'write', n, live: true });
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  await stop();
  await server.call({ op: 'close' });
  return { perSecond: target / seconds, cpuUsPerEvent: (cpu.user + cpu.system) / target };
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
const server = startServerProcess();
for (const [mode, n] of [['live', 2000], ['backlog', 5000]] as const) {
  for (const which of cases) await eventsPerSecond(server, which, 200, mode); // warm up every path once
  const rates: Record<Case, Rate[]> = { floor: [], 'client-node': [], ridethrough: [] };
  for (let r = 0; r < ROUNDS; r++) for (const which of cases) rates[which].push(await eventsPerSecond(server, which, n, mode));
  const rate = (which: Case): number => median(rates[which].map((x) => x.perSecond));
  const cpu = (which: Case): number => median(rates[which].map((x) => x.cpuUsPerEvent));
  const what = mode === 'live' ? 'written while it watches' : 'replayed from history as the watch opens';
  const label: Record<Case, string> = {
    floor: 'floor: bare HTTP watch, JSON.parse per line',
    'client-node': 'client-node makeInformer',
    ridethrough: 'ridethrough makeInformer',
  };
  printTable(
    `events per second, ${n} creates + ${n} updates ${what}, median of ${ROUNDS} interleaved rounds (ratio to client-node; higher is faster)`,
    cases.map((which) => ({
      name: label[which],
      value: rate(which),
      unit: 'ev/s',
      ratio: rate(which) / rate('client-node'),
      note: `CPU ${cpu(which).toFixed(1)} us/event (${(cpu(which) / cpu('client-node')).toFixed(2)}x)`,
    })),
  );
  for (const which of cases) console.log(`  ${which}: ${rates[which].map((v) => Math.round(v.perSecond)).join(', ')} ev/s`);
}
await server.exit();

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
