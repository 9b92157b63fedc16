/** The public types of {@link makeInformer}: options, events, the informer itself. */
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Classifier, Verdict } from '../classify/index.js';
import type { Jitter } from '../retry/index.js';

/** What {@link makeInformer}'s `listFn` is called with. */
export interface InformerListContext {
  /** Aborts when the informer stops or closes; hand it on if your list call takes one. */
  readonly signal: AbortSignal;
}

/**
 * Lists the informer's objects, as client-node's `ListPromise`: `() => core.listNamespacedPod({ namespace })`.
 * Its `metadata.resourceVersion` is where the watch starts.
 */
export type InformerListFn<T extends KubernetesObject> = (context: InformerListContext) => Promise<KubernetesListObject<T>>;

/** Options of {@link makeInformer}; every one is checked at the call. */
export interface InformerOptions {
  /** A short label for this informer, carried in every event. @defaultValue none */
  name?: string | undefined;
  /** Aborting it closes the informer, as {@link ResilientInformer.close} does. @defaultValue none */
  signal?: AbortSignal | undefined;
  /** Sent with every watch (apply the same one in `listFn`). @defaultValue none */
  labelSelector?: string | undefined;
  /** Sent with every watch (apply the same one in `listFn`). @defaultValue none */
  fieldSelector?: string | undefined;
  /** Judges each failure: a transient one is retried on the backoff schedule, a permanent one every `maxDelayMs`. @defaultValue classify */
  classify?: Classifier | undefined;
  /** The first wait after a failure, before jitter (client-go's reflector: 800 ms). @defaultValue 800 */
  initialDelayMs?: number | undefined;
  /** The longest wait after a failure, and the wait after a permanent one (client-go: 30 s). @defaultValue 30000 */
  maxDelayMs?: number | undefined;
  /** Each wait is the previous one times this. @defaultValue 2 */
  multiplier?: number | undefined;
  /** How waits are randomised (`'equal'`: never less than half the step). @defaultValue 'equal' */
  jitter?: Jitter | undefined;
  /** Source of random numbers in [0, 1), for the jitter and the watch timeout. @defaultValue Math.random */
  random?: (() => number) | undefined;
  /** A failure more than this long after the previous one starts the schedule again (client-go: 2 min). @defaultValue 120000 */
  backoffResetMs?: number | undefined;
  /**
   * Each watch asks the server to end it after a random time between this and twice this, in
   * seconds, so that many informers do not reconnect together (client-go: 5-10 min).
   * @defaultValue 300
   */
  watchTimeoutSeconds?: number | undefined;
  /**
   * No event and no bookmark for this long means a stale stream: it is cut and resumed. The API
   * server sends a bookmark about once a minute on a watch that asked for them.
   * @defaultValue 180000
   */
  inactivityTimeoutMs?: number | undefined;
}

/** Published on `ridethrough:kubernetes:informer-connect` each time a watch is open (the server answered 200). */
export interface InformerConnectEvent {
  /** The informer's `name` option, when it was given one. */
  readonly name?: string | undefined;
  /** The watched path. */
  readonly path: string;
  /** Where the watch starts. */
  readonly resourceVersion: string;
}

/** Published on `ridethrough:kubernetes:informer-list` after each list (the first one and each relist). */
export interface InformerListEvent {
  /** The informer's `name` option, when it was given one. */
  readonly name?: string | undefined;
  /** The watched path. */
  readonly path: string;
  /** `'initial'` for the first list, `'expired'` after a 410 Expired/Gone. */
  readonly reason: 'initial' | 'expired';
  /** The list's resourceVersion. */
  readonly resourceVersion: string;
  /** Objects in the list. */
  readonly items: number;
  /** The differences delivered: objects added, updated (another resourceVersion) and deleted. */
  readonly added: number;
  /** Objects updated: present before and after, with another resourceVersion. */
  readonly updated: number;
  /** Objects deleted: present before, gone from the list. */
  readonly deleted: number;
}

/** Published on `ridethrough:kubernetes:informer-error` (and handed to `on('error')` callbacks as `error`) on each failure, before the wait. */
export interface InformerErrorEvent {
  /** The informer's `name` option, when it was given one. */
  readonly name?: string | undefined;
  /** The watched path. */
  readonly path: string;
  /** What failed: the list (`listFn`) or the watch. */
  readonly phase: 'list' | 'watch';
  /** What was thrown: client-node's `ApiException`, a connection error, a `TimeoutError` for a stale stream... */
  readonly error: unknown;
  /** How it was judged; a permanent failure is retried too, every `maxDelayMs`. */
  readonly verdict: Verdict;
  /** Failures in a row so far (1 for the first). */
  readonly failures: number;
  /** The wait before the next try (Retry-After honoured). */
  readonly delayMs: number;
}

/** The `on('add' | 'update' | 'delete' | 'change')` callbacks' type. */
export type InformerObjectCallback<T> = (object: T) => void;
/** The `on('error' | 'connect')` callbacks' type (`error`: the thrown value; `connect`: nothing). */
export type InformerErrorCallback = (error?: unknown) => void;

/**
 * An informer from {@link makeInformer}: client-node's `Informer & ObjectCache` interface, plus
 * readiness, closing and a life that does not end on an error.
 */
export interface ResilientInformer<T extends KubernetesObject> extends AsyncDisposable {
  /** Calls `cb` on each change: `'change'` is add, update and delete. What it throws is published on `ridethrough:kubernetes:hook-error`. */
  on(verb: 'add' | 'update' | 'delete' | 'change', cb: InformerObjectCallback<T>): void;
  /** `'error'`: each failure, a report (the informer goes on); `'connect'`: each time it (re)connects. */
  on(verb: 'error' | 'connect', cb: InformerErrorCallback): void;
  /** Removes a callback given to {@link ResilientInformer.on}. */
  off(verb: 'add' | 'update' | 'delete' | 'change', cb: InformerObjectCallback<T>): void;
  /** Removes an `error` or `connect` callback given to {@link ResilientInformer.on}. */
  off(verb: 'error' | 'connect', cb: InformerErrorCallback): void;
  /**
   * Starts listing and watching (again, after {@link ResilientInformer.stop}: from the last
   * resourceVersion seen). Resolves once the first list has been delivered or has failed (the
   * informer goes on retrying); rejects after close.
   */
  start(): Promise<void>;
  /** Stops the watch and the retries; the cache is kept. Resolves when nothing is in flight. */
  stop(): Promise<void>;
  /** The cached objects (of one namespace, when given). */
  list(namespace?: string): ReadonlyArray<T>;
  /** One cached object. */
  get(name: string, namespace?: string): T | undefined;
  /** The last resourceVersion seen (a list, an event or a bookmark); `''` before the first list. */
  latestResourceVersion(): string;
  /** Resolves once the first list has been delivered; rejects if the informer closes first. */
  readonly synced: Promise<void>;
  /**
   * A readiness check for `readinessGate` (`checks: { pods: informer.check }`): `true` when synced,
   * the latest failure (if any) is not permanent, and the server was heard from (event, bookmark,
   * list or open watch) within `inactivityTimeoutMs`; otherwise a string saying why not.
   */
  readonly check: () => true | string;
  /** Stops for good and rejects a pending `synced`; the cache and the callbacks are dropped. Idempotent. */
  close(): Promise<void>;
}
