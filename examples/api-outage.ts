/**
 * Scenario 6, api-outage: a controller keeps a cache of pods with an informer and writes pods
 * through the API, while the API server has a bad few seconds: every watch is dropped, a write is
 * throttled (429 with Retry-After, as priority and fairness answers), reads get 503, the history
 * is compacted under a watch that is down (410 Expired on resume), and the server restarts with
 * its watch cache lost while another replica takes a write. client-node's own informer, on the
 * same server, stops for good at the first dropped watch; its cache goes stale without a word.
 *
 * With ridethrough: makeApiClient retries the 429 after its Retry-After, the 503s and the
 * refused connections of the outage (a POST too: nothing was sent), paced by an adaptive rate
 * limiter that slows down on the 429; makeInformer resumes each dropped watch from the last
 * resourceVersion it saw, relists on 410 delivering only the real differences, and never stops.
 * At the end its cache equals the server's state, every object's changes arrived once and in
 * order, and its readiness check passes.
 *
 * Run it alone: `node --import tsx examples/api-outage.ts`.
 */
import { CoreV1Api, KubeConfig, makeInformer as clientNodeInformer, type V1Pod } from '@kubernetes/client-node';
import { subscribe } from 'ridethrough';
import { makeApiClient, makeInformer, retryOnConflict, type ApiRetryEvent, type ResilientInformer } from 'ridethrough/kubernetes';
import { createRateLimiter } from 'ridethrough/retry';
import { startFakeApiServer, type FakeApiServer } from 'ridethrough/testing';
import { runStandalone } from './support/runner.js';
import { formatMs, isMain, messageOf, pause, since, Tally, within, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'api-outage';
export const title = 'a controller and its informer through dropped watches, 429s, 503s, compaction and an API server restart';

const NAMESPACE = 'default';
const PATH = `/api/v1/namespaces/${NAMESPACE}/pods`;
/** How long the API server is down when it restarts. A real one takes seconds to a minute. */
const DOWN_MS = 800;
/** The writer's pause between two changes. */
const WRITE_GAP_MS = 40;
/** Compressed for the demo: client-go's figures (800 ms doubling to 30 s) are the defaults. */
const BACKOFF = { initialDelayMs: 50, maxDelayMs: 400 } as const;

type Pod = V1Pod;
const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);
const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
const keyOf = (pod: Pod): string => `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
const versionOf = (pod: Pod): number => Number(pod.metadata?.resourceVersion);

/** name -> resourceVersion, sorted: two states are equal when these print the same. */
function snapshot(pods: readonly Pod[]): string {
  return JSON.stringify(pods.map((p) => [keyOf(p), p.metadata?.resourceVersion]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

/** Polls `condition` every 20 ms until it holds; fails naming `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms: number, signal?: AbortSignal): Promise<void> {
  await within(ms, what, (async () => {
    while (!condition()) await pause(20, signal);
  })(), signal);
}

/**
 * The controller's own writes: it creates a job pod, relabels it (a read-modify-write in
 * retryOnConflict), deletes the oldest job pod once there are four, and again, every WRITE_GAP_MS, through makeApiClient.
 * A change that fails anyway is put back in the queue and done on the next turn, as a
 * controller's work queue would.
 */
class Writer {
  ops = 0;
  requeued = 0;
  readonly errors: string[] = [];
  #next = 0;
  #stopped = false;
  #between: Array<() => void> = [];
  #done: Promise<void> | undefined;

  /** The job pods that exist, oldest first. */
  readonly #live: string[] = [];

  constructor(
    private readonly core: CoreV1Api,
    private readonly signal: AbortSignal | undefined,
  ) {}

  start(): void {
    this.#done = this.#loop();
  }

  /** Runs `action` between two changes (no call of the writer in flight), and resolves then. */
  between(action: () => void): Promise<void> {
    return new Promise((resolve) => this.#between.push(() => (action(), resolve())));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      for (const action of this.#between.splice(0)) action();
      const turn = this.#next;
      try {
        await this.#change(turn);
        this.#next++;
        this.ops++;
      } catch (error) {
        if (this.signal?.aborted) throw this.signal.reason;
        this.requeued++;
        this.errors.push(messageOf(error));
      }
      await pause(WRITE_GAP_MS, this.signal);
    }
  }

  async #change(turn: number): Promise<void> {
    const { core } = this;
    const live = this.#live;
    if (turn % 3 === 0) {
      const podName = `job-${turn}`;
      await core.createNamespacedPod({ namespace: NAMESPACE, body: { metadata: { name: podName, labels: { turn: String(turn) } } } });
      live.push(podName);
    } else if (turn % 3 === 1) {
      const podName = live[live.length - 1]!;
      await retryOnConflict(async () => {
        const pod = await core.readNamespacedPod({ name: podName, namespace: NAMESPACE });
        pod.metadata = { ...pod.metadata, labels: { ...pod.metadata?.labels, turn: String(turn) } };
        await core.replaceNamespacedPod({ name: podName, namespace: NAMESPACE, body: pod });
      });
    } else if (live.length > 3) {
      await core.deleteNamespacedPod({ name: live[0]!, namespace: NAMESPACE });
      live.shift();
    }
  }
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const unsubscribe: Array<() => void> = [];
  let api: FakeApiServer | undefined;
  let informer: ResilientInformer<Pod> | undefined;
  let plain: ReturnType<typeof clientNodeInformer<Pod>> | undefined;
  let writer: Writer | undefined;
  let restarting: Promise<void> | undefined;
  try {
    tally.state('starting the API server');
    api = await startFakeApiServer({ resources: [{ plural: 'pods', kind: 'Pod' }], bookmarkIntervalMs: 250 });
    const server = api;
    // The web pods stay; the controller's job pods come and go.
    for (const podName of ['web-1', 'web-2', 'web-3', 'web-4']) server.create('pods', { metadata: { name: podName } });
    const kc = new KubeConfig();
    kc.loadFromOptions(server.kubeConfigOptions());

    // ---- What the library did, counted from its own events.
    const retries = new Map<string, number>();
    const onRetry = ({ method, status, error, verdict, delayMs }: ApiRetryEvent): void => {
      const kind = status === undefined ? ((error as { code?: string }).code ?? verdict.reason) : `HTTP ${status}`;
      tally.attempt();
      retries.set(kind, (retries.get(kind) ?? 0) + 1);
      if (retries.get(kind) === 1) {
        const after = verdict.retryAfterMs === undefined ? '' : ` (the server asked for ${verdict.retryAfterMs} ms)`;
        log(`makeApiClient: ${method} met ${kind} -> ${verdict.kind} "${verdict.reason}"; retried in ${delayMs} ms${after}`);
      }
    };
    let lists = 0;
    let relists = 0;
    let resumes = 0;
    let connectedSinceList = false;
    // A watch reopened from a resourceVersion is a resume once it goes on; if the server answers
    // 410 Expired instead (in the stream, after the 200), the informer relists.
    let reopenedFrom: string | undefined;
    const settleResume = (): void => {
      if (reopenedFrom === undefined) return;
      resumes++;
      tally.attempt();
      log(`informer: watch resumed from resourceVersion ${reopenedFrom}, no relist`);
      reopenedFrom = undefined;
    };
    const relistDiffs: string[] = [];
    const informerErrors = new Map<string, number>();
    unsubscribe.push(
      subscribe('ridethrough:kubernetes:informer-list', (event) => {
        lists++;
        connectedSinceList = false;
        if (event.reason === 'initial') return;
        relists++;
        tally.attempt();
        const unchanged = event.items - event.added - event.updated;
        const diff = `${event.added} added, ${event.updated} updated, ${event.deleted} deleted; ${unchanged} unchanged`;
        relistDiffs.push(diff);
        const why = reopenedFrom === undefined ? '' : `resuming from resourceVersion ${reopenedFrom} got 410 Expired: `;
        reopenedFrom = undefined;
        log(`informer: ${why}relisted at resourceVersion ${event.resourceVersion}: ${diff} (no event for those)`);
      }),
      subscribe('ridethrough:kubernetes:informer-connect', (event) => {
        settleResume();
        if (connectedSinceList) reopenedFrom = event.resourceVersion;
        connectedSinceList = true;
      }),
      subscribe('ridethrough:kubernetes:informer-error', (event) => {
        settleResume();
        informerErrors.set(event.verdict.reason, (informerErrors.get(event.verdict.reason) ?? 0) + 1);
        if (informerErrors.get(event.verdict.reason) === 1) {
          log(`informer: ${event.phase} failed: ${messageOf(event.error)} -> ${event.verdict.kind} "${event.verdict.reason}"; again in ${event.delayMs} ms`);
        }
      }),
      subscribe('ridethrough:kubernetes:throttled', (event) => {
        log(`makeApiClient: throttled; the client's rate is now ${event.qps?.toFixed(1)} calls/s (it climbs back on its own)`);
      }),
    );

    // ---- The controller: one client (paced, retried) for its list and its writes; its informer.
    const limiter = createRateLimiter({ qps: 50, burst: 20, adaptive: true });
    const core = makeApiClient(kc, CoreV1Api, { name: 'controller', rateLimiter: limiter, ...BACKOFF, deadlineMs: 15_000, attemptTimeoutMs: 5_000, onRetry, ...withSignal(signal) });
    const resilient = makeInformer<Pod>(kc, PATH, () => core.listNamespacedPod({ namespace: NAMESPACE }), { name: 'pods', ...BACKOFF, ...withSignal(signal) });
    informer = resilient;
    /** Per object, the resourceVersions the callbacks were handed, in order. */
    const delivered = new Map<string, Array<{ verb: string; version: number }>>();
    for (const verb of ['add', 'update', 'delete'] as const) {
      resilient.on(verb, (pod) => {
        // After this turn: a relist hands over its differences first, then reports the list.
        queueMicrotask(settleResume);
        const seen = delivered.get(keyOf(pod)) ?? [];
        seen.push({ verb, version: versionOf(pod) });
        delivered.set(keyOf(pod), seen);
      });
    }

    // ---- The same informer from client-node, on the same server, for comparison.
    const plainCore = kc.makeApiClient(CoreV1Api);
    const plainInformer = clientNodeInformer<Pod>(kc, PATH, () => plainCore.listNamespacedPod({ namespace: NAMESPACE }));
    plain = plainInformer;
    let plainStopped: string | undefined;
    plainInformer.on('error', (error) => (plainStopped ??= messageOf(error)));

    tally.state('listing and watching');
    void resilient.start();
    await within(10_000, 'the first list', resilient.synced, signal);
    await plainInformer.start();
    await until(() => connectedSinceList && server.watchCount === 2, 'both watches open', 10_000, signal);
    log(`informer synced: ${resilient.list().length} pods at resourceVersion ${resilient.latestResourceVersion()}; client-node's own informer too`);
    writer = new Writer(core, signal);
    writer.start();
    await until(() => writer!.ops >= 3, 'the first writes', 10_000, signal);

    // ---- 1. Every watch dropped: a resume from the last resourceVersion seen.
    const firstFaultAt = performance.now();
    tally.state('watches dropped');
    tally.fault('watches dropped', `fault: the API server drops every watch (${server.dropWatches()} open)`);
    await until(() => resumes >= 1 && plainStopped !== undefined, 'the resume', 10_000, signal);
    log(`client-node's makeInformer: error "${plainStopped}", and it does not restart: stopped for good`);

    // ---- 2. A write throttled with Retry-After: 1; then reads answered 503.
    tally.state('throttled');
    tally.fault('429 Retry-After: 1', 'fault: the next write is answered 429 Too Many Requests, Retry-After: 1');
    server.throttle(1, 1, 'write');
    await until(() => (retries.get('HTTP 429') ?? 0) >= 1, 'the 429 retry', 10_000, signal);
    const opsAfter429 = writer.ops;
    await until(() => writer!.ops > opsAfter429, 'a write after the 429', 10_000, signal);
    tally.state('503s');
    for (let i = 0; i < 2; i++) tally.fault('503 on reads');
    log('fault: the next two reads are answered 503 Service Unavailable');
    server.unavailable(2, 'read');
    await until(() => (retries.get('HTTP 503') ?? 0) >= 2, 'the 503 retries', 10_000, signal);

    // ---- 3. The watch is down while a change lands and the history is compacted: 410 on resume.
    tally.state('history compacted');
    const relistsBefore = relists;
    tally.fault('watches dropped');
    server.dropWatches();
    server.update('pods', { metadata: { name: 'web-2', labels: { edited: 'by-kubectl' } } });
    tally.fault('history compacted (410)', 'fault: watches dropped, web-2 edited by another client, history compacted: a resume gets 410 Expired');
    server.compact();
    await until(() => relists > relistsBefore, 'the relist after 410', 10_000, signal);

    // ---- 4. The API server restarts; another replica takes a write meanwhile; its watch cache is lost.
    tally.state(`API server down for ${formatMs(DOWN_MS)}`);
    const opsBeforeRestart = writer.ops;
    const relistsBeforeRestart = relists;
    await writer.between(() => {
      restarting = server.restart({ downMs: DOWN_MS, compact: true });
    });
    tally.fault(`API server restart (${formatMs(DOWN_MS)} down)`, `fault: the API server goes down for ${formatMs(DOWN_MS)} and comes back with its history lost`);
    await pause(DOWN_MS / 2, signal);
    server.update('pods', { metadata: { name: 'web-3', labels: { edited: 'through-another-replica' } } });
    await restarting;
    await until(() => relists > relistsBeforeRestart && writer!.ops > opsBeforeRestart + 2, 'the controller after the restart', 15_000, signal);

    // ---- The end: the writer stops; the cache must come to equal the server's state.
    tally.state('waiting for the cache to match the server');
    await writer.stop();
    await until(() => snapshot(resilient.list()) === snapshot(server.list('pods') as Pod[]), "the informer's cache to match the server", 10_000, signal);
    const recoveredInMs = since(firstFaultAt);
    settleResume();
    const check = resilient.check();
    const serverPods = server.list('pods') as Pod[];
    log(`informer: cache equals the server's ${serverPods.length} pods at resourceVersion ${server.resourceVersion}; check: ${String(check)}`);

    // Each object's changes, once each and in order: add first, versions rising, nothing after a delete.
    const outOfOrder = [...delivered].filter(([, seen]) =>
      seen.some(({ verb, version }, i) => {
        const previous = seen[i - 1];
        if (previous === undefined) return verb !== 'add';
        if (previous.verb === 'delete') return true;
        return verb === 'delete' ? version < previous.version : version <= previous.version || verb === 'add';
      }),
    );
    const events = [...delivered.values()].reduce((sum, seen) => sum + seen.length, 0);
    const plainSnapshot = new Map(plainInformer.list().map((p) => [keyOf(p), p.metadata?.resourceVersion]));
    const plainWrong = serverPods.filter((p) => plainSnapshot.get(keyOf(p)) !== p.metadata?.resourceVersion).length + Math.max(0, plainSnapshot.size - serverPods.length);
    log(`client-node's makeInformer: stopped since the first dropped watch; its cache is wrong on ${plainWrong} of ${serverPods.length} pods`);
    const retried = [...retries.values()].reduce((a, b) => a + b, 0);
    log(`${count(writer.ops, 'change')} written (${writer.requeued} put back in the queue), ${count(events, 'event')} delivered, ${`${retried} API ${retried === 1 ? 'retry' : 'retries'}`}, ${count(resumes, 'resume')}, ${count(relists, 'relist')}`);

    const ok =
      check === true &&
      outOfOrder.length === 0 &&
      resumes >= 1 &&
      relists >= 2 &&
      (retries.get('HTTP 429') ?? 0) >= 1 &&
      (retries.get('HTTP 503') ?? 0) >= 2 &&
      (retries.get('ECONNREFUSED') ?? 0) >= 1 &&
      plainStopped !== undefined &&
      plainWrong > 0;
    tally.state(ok ? 'done' : 'unexpected result');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `retried ${[...retries].map(([kind, n]) => `${kind} x${n}`).join(', ')}; the informer resumed ${times(resumes)}, relisted ${times(relists)} with only the differences, and its cache ended equal to the server's`,
      recoveredInMs,
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: "from the first fault to the informer's cache equal to the server's state",
        retries: Object.fromEntries(retries),
        lists,
        relists,
        resumes,
        relistDiffs,
        informerErrors: Object.fromEntries(informerErrors),
        writes: writer.ops,
        requeued: writer.requeued,
        writeErrors: writer.errors,
        events,
        outOfOrder: outOfOrder.map(([key]) => key),
        check,
        throttledQps: limiter.qps,
        plainStopped,
        plainWrong,
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    for (const off of unsubscribe) off();
    await writer?.stop().catch(() => {});
    await informer?.close();
    await plain?.stop();
    await restarting?.catch(() => {});
    await api?.close();
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
