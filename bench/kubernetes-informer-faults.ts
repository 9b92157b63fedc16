/**
 * The fault cases of bench/kubernetes-informer.bench.ts: client-node's own makeInformer and
 * ridethrough's, each on its own fake API server, get the same fault at the same moment; then a
 * new pod is created on both servers. ridethrough's informer seeing the pod is the positive signal;
 * client-node's gets {@link GRACE_MS} more. Each case is bounded (about 2 to 5 seconds).
 * ridethrough's informer runs with its defaults (client-go's 800 ms first backoff, jittered).
 */
import { CoreV1Api, makeInformer as clientNodeInformer, type V1Pod } from '@kubernetes/client-node';
import { makeApiClient, makeInformer } from 'ridethrough/kubernetes';
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from 'ridethrough/testing';
import { kubeConfigFor, PATH, resources, sleep, until } from './kubernetes-informer-support.js';

/** How long client-node's informer is given after ridethrough's has seen the new pod. */
const GRACE_MS = 1500;
/** The longest either informer is waited for. */
const WINDOW_MS = 10_000;

interface FaultCase {
  readonly name: string;
  readonly server?: FakeApiServerOptions;
  /** Applies the fault; resolves when it is over (the server is back, the reconnect was answered...). */
  inject(api: FakeApiServer): Promise<void>;
}

const watchRequests = (api: FakeApiServer): number => api.requests.filter((r) => r.url.includes('watch=true')).length;

/** Arms a fault for the next watch request, lets the open watch end (the server's timeout), resolves once the reconnect got it. */
const onReconnect = (arm: (api: FakeApiServer) => void) => async (api: FakeApiServer) => {
  const before = watchRequests(api);
  arm(api);
  await until(() => watchRequests(api) > before, 'the reconnect', WINDOW_MS);
};

/** A watch the server ends after this long (a short `--min-request-timeout`), for the cases that need a clean end. */
const SHORT_WATCH = { maxWatchMs: 1500 };

export const faultCases: readonly FaultCase[] = [
  { name: 'watch dropped once (dropWatches)', inject: async (api) => void api.dropWatches() },
  { name: 'history compacted while the watch is open (no gap)', inject: async (api) => api.compact() },
  {
    name: 'watch ends (server timeout); a pod changes and history is compacted before the reconnect is served: 410',
    server: SHORT_WATCH,
    inject: async (api) => {
      api.delayResponses(500); // holds the reconnect
      await until(() => api.watchCount === 0, 'the watch to end', WINDOW_MS);
      api.create('pods', { metadata: { name: 'during-gap' } });
      api.compact();
      api.delayResponses(0);
    },
  },
  { name: 'server restart, down 1 s', inject: (api) => api.restart({ downMs: 1000 }) },
  {
    name: 'server restart, down 1 s, a pod created meanwhile, history compacted as it comes back',
    inject: async (api) => {
      const restarting = api.restart({ downMs: 1000, compact: true });
      api.create('pods', { metadata: { name: 'while-down' } });
      await restarting;
    },
  },
  { name: 'watch ends (server timeout); the reconnect gets 429 Retry-After: 1', server: SHORT_WATCH, inject: onReconnect((api) => api.throttle(1, 1, 'watch')) },
  { name: 'watch ends (server timeout); the reconnect gets 503', server: SHORT_WATCH, inject: onReconnect((api) => api.unavailable(1, 'watch')) },
  { name: 'watch ends (server timeout); the reconnect has its connection reset', server: SHORT_WATCH, inject: onReconnect((api) => api.resetConnections(1, 'watch')) },
];

type Which = 'client-node' | 'ridethrough';

export interface Outcome {
  readonly which: Which;
  /** Each `error` callback after the fault began: ms after that moment, and what it was. */
  readonly errors: ReadonlyArray<{ readonly atMs: number; readonly what: string }>;
  /** `connect` callbacks after the fault began. */
  readonly connects: number;
  /** Requests the server received after the fault began. */
  readonly requests: number;
  /** Of which lists (a relist). */
  readonly lists: number;
  /** When the new pod was delivered, in ms after the fault was over; undefined: never (within the window). */
  readonly sawPodMs: number | undefined;
  /** How long it was watched for the pod after the fault was over. */
  readonly waitedMs: number;
  /** Watches open on its server at the end. */
  readonly watchesOpen: number;
  /** The cache equals the server's objects (names and resourceVersions) at the end. */
  readonly cacheMatches: boolean;
}

function describeError(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown; code?: unknown; statusCode?: unknown };
  const extra = [e.code, e.statusCode].filter((v) => v !== undefined).join(' ');
  return `${String(e.name)}${extra === '' ? '' : ` [${extra}]`}: ${String(e.message)}`.slice(0, 100);
}

interface Running {
  readonly which: Which;
  readonly api: FakeApiServer;
  list(): ReadonlyArray<V1Pod>;
  stop(): Promise<void>;
  readonly errors: Array<{ atMs: number; what: string }>;
  connects: number;
  since: number;
}

async function startOne(which: Which, options: FakeApiServerOptions = {}): Promise<Running> {
  const api = await startFakeApiServer({ resources: [...resources], ...options });
  api.create('pods', { metadata: { name: 'before' } });
  const kc = kubeConfigFor(api);
  const run: Running = { which, api, list: () => [], stop: async () => {}, errors: [], connects: 0, since: performance.now() };
  let recording = true;
  const onError = (error: unknown): void => void (recording && run.errors.push({ atMs: Math.round(performance.now() - run.since), what: describeError(error) }));
  const onConnect = (): void => void (recording && run.connects++);
  if (which === 'client-node') {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = clientNodeInformer<V1Pod>(kc, PATH, () => core.listNamespacedPod({ namespace: 'default' }));
    informer.on('error', onError);
    informer.on('connect', onConnect);
    await informer.start();
    Object.assign(run, { list: () => informer.list(), stop: () => ((recording = false), informer.stop()) });
  } else {
    const core = makeApiClient(kc, CoreV1Api);
    const informer = makeInformer<V1Pod>(kc, PATH, () => core.listNamespacedPod({ namespace: 'default' }), { name: 'bench' });
    informer.on('error', onError);
    informer.on('connect', onConnect);
    await informer.start();
    Object.assign(run, { list: () => informer.list(), stop: () => ((recording = false), informer.close()) });
  }
  await until(() => api.watchCount === 1 && run.list().length === 1, `${which} watching`);
  run.errors.length = 0;
  run.connects = 0;
  return run;
}

const hasPod = (run: Running, name: string): boolean => run.list().some((p) => p.metadata?.name === name);

function cacheMatches(run: Running): boolean {
  const key = (o: { metadata?: { name?: string | undefined; resourceVersion?: string | undefined } | undefined }): string => `${o.metadata?.name}@${o.metadata?.resourceVersion}`;
  const mine = run.list().map(key).sort();
  const server = run.api.list('pods').map(key).sort();
  return mine.length === server.length && mine.every((k, i) => k === server[i]);
}

/** Runs one fault case on both informers at once. */
async function runCase(fault: FaultCase): Promise<Outcome[]> {
  const runs = await Promise.all((['client-node', 'ridethrough'] as const).map((which) => startOne(which, fault.server)));
  let ridethroughSawAt: number | undefined;
  const outcomes = await Promise.all(
    runs.map(async (run): Promise<Outcome> => {
      const requestsBefore = run.api.requests.length;
      run.since = performance.now();
      await fault.inject(run.api);
      const over = performance.now();
      run.api.create('pods', { metadata: { name: 'after-fault' } });
      let sawAt: number | undefined;
      for (;;) {
        const now = performance.now();
        if (hasPod(run, 'after-fault')) {
          sawAt = now;
          if (run.which === 'ridethrough') ridethroughSawAt = now;
          break;
        }
        if (now - over > WINDOW_MS) break;
        if (run.which === 'client-node' && ridethroughSawAt !== undefined && now - Math.max(ridethroughSawAt, over) > GRACE_MS) break;
        await sleep(2);
      }
      const end = performance.now();
      if (run.which === 'ridethrough' && sawAt === undefined) ridethroughSawAt = end;
      // An informer that did see the pod may still owe the server nothing: let stray requests land.
      await sleep(50);
      return {
        which: run.which,
        errors: [...run.errors],
        connects: run.connects,
        requests: run.api.requests.length - requestsBefore,
        lists: run.api.requests.slice(requestsBefore).filter((r) => !r.url.includes('watch=true')).length,
        sawPodMs: sawAt === undefined ? undefined : Math.round(sawAt - over),
        waitedMs: Math.round(end - over),
        watchesOpen: run.api.watchCount,
        cacheMatches: cacheMatches(run),
      };
    }),
  );
  for (const run of runs) {
    await run.stop();
    await run.api.close();
  }
  return outcomes;
}

export async function runFaults(): Promise<Array<{ name: string; outcomes: Outcome[] }>> {
  const results: Array<{ name: string; outcomes: Outcome[] }> = [];
  for (const fault of faultCases) results.push({ name: fault.name, outcomes: await runCase(fault) });
  return results;
}

export function printFaults(results: Array<{ name: string; outcomes: Outcome[] }>): void {
  console.log('\n## faults: each informer on its own fake server, the same fault, then a new pod (ms after the fault was over)');
  for (const { name, outcomes } of results) {
    console.log(`\n${name}`);
    for (const o of outcomes) {
      const verdict = o.sawPodMs !== undefined ? `saw the new pod after ${o.sawPodMs} ms` : `never saw the new pod (watched ${o.waitedMs} ms)`;
      const errors = o.errors.length === 0 ? 'no error' : `${o.errors.length} error(s), first at +${o.errors[0]!.atMs} ms: ${o.errors[0]!.what}`;
      console.log(`  ${o.which.padEnd(11)}  ${verdict}; ${errors}; ${o.connects} connect(s), ${o.requests} request(s) after the fault (${o.lists} list); ${o.watchesOpen} watch(es) open at the end; cache ${o.cacheMatches ? '= server' : 'STALE'}`);
      for (const e of o.errors.slice(1, 4)) console.log(`${' '.repeat(15)}then +${e.atMs} ms: ${e.what}`);
      if (o.errors.length > 4) console.log(`${' '.repeat(15)}(${o.errors.length - 4} more)`);
    }
  }
}
