/** The informer behind {@link makeInformer}: client-node's informer interface over a list-watch loop that never stops on its own. */
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { transient, type Classifier, type Verdict } from '../classify/index.js';
import { safeClassify } from '../classify/safe-classify.js';
import { backoffDelays, type BackoffOptions } from '../retry/index.js';
import { MAX_TIMER_MS, realClock } from '../shared/clock.js';
import { diagnosticsChannel } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { abortError, onAbort } from '../shared/signals.js';
import { describe } from '../shared/validate.js';
import { InformerCache, type CacheChange } from './informer-cache.js';
import { runWatch, WatchFailure, type WatchLine } from './informer-stream.js';
import type {
  InformerConnectEvent, InformerErrorCallback, InformerErrorEvent, InformerListEvent, InformerListFn, InformerObjectCallback,
  ResilientInformer,
} from './informer-types.js';
import { hookErrorChannel } from './transport.js';

export const informerChannelNames = Object.freeze({
  connect: 'ridethrough:kubernetes:informer-connect',
  list: 'ridethrough:kubernetes:informer-list',
  error: 'ridethrough:kubernetes:informer-error',
});
const connectChannel = diagnosticsChannel(informerChannelNames.connect);
const listChannel = diagnosticsChannel(informerChannelNames.list);
const errorChannel = diagnosticsChannel(informerChannelNames.error);

const OBJECT_VERBS = ['add', 'update', 'delete'] as const;
type ObjectVerb = (typeof OBJECT_VERBS)[number];
type Verb = ObjectVerb | 'error' | 'connect';

/** A watch that ends cleanly this soon without a single line is a failure (client-go's "very short watch"). */
const SHORT_WATCH_MS = 1000;

/** What makeInformer resolved from its arguments and options. */
export interface InformerSettings {
  readonly name: string | undefined;
  readonly path: string;
  readonly url: URL;
  readonly kubeConfig: KubeConfig;
  readonly listFn: InformerListFn<KubernetesObject>;
  readonly classify: Classifier;
  readonly schedule: BackoffOptions;
  readonly maxDelayMs: number;
  readonly random: () => number;
  readonly backoffResetMs: number;
  readonly watchTimeoutSeconds: number;
  readonly inactivityTimeoutMs: number;
}

const noop = (): void => {};

export class Informer<T extends KubernetesObject> implements ResilientInformer<T> {
  readonly #s: InformerSettings;
  readonly #cache = new InformerCache<T>();
  readonly #callbacks = new Map<Verb, ReadonlyArray<(value: never) => void>>(
    (['add', 'update', 'delete', 'error', 'connect'] as const).map((verb) => [verb, []]),
  );
  #resourceVersion = '';
  #listReason: 'initial' | 'expired' = 'initial';
  #run: { controller: AbortController; done: Promise<void>; firstRound: Promise<void> } | undefined;
  #closed = false;
  #detachSignal: () => void = noop;
  #synced = false;
  #resolveSynced: () => void = noop;
  #rejectSynced: (reason: unknown) => void = noop;
  #watchOpen = false;
  /** Watch lines applied so far. */
  #applied = 0;
  #lastContactAt = -Infinity;
  #failure: { readonly verdict: Verdict; readonly error: unknown } | undefined;
  readonly synced: Promise<void>;

  constructor(settings: InformerSettings, signal: AbortSignal | undefined) {
    this.#s = settings;
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    // Nobody has to await it: a close before the first list must not be an unhandled rejection.
    this.synced.catch(noop);
    if (signal?.aborted) void this.close();
    else if (signal !== undefined) this.#detachSignal = onAbort(signal, () => void this.close());
  }

  on(verb: 'add' | 'update' | 'delete' | 'change', cb: InformerObjectCallback<T>): void;
  on(verb: 'error' | 'connect', cb: InformerErrorCallback): void;
  on(verb: string, cb: (value: never) => void): void {
    for (const v of this.#verbs('on', verb, cb)) this.#callbacks.set(v, [...this.#callbacks.get(v)!, cb]);
  }

  off(verb: 'add' | 'update' | 'delete' | 'change', cb: InformerObjectCallback<T>): void;
  off(verb: 'error' | 'connect', cb: InformerErrorCallback): void;
  off(verb: string, cb: (value: never) => void): void {
    for (const v of this.#verbs('off', verb, cb)) {
      const list = this.#callbacks.get(v)!;
      const at = list.indexOf(cb);
      if (at >= 0) this.#callbacks.set(v, [...list.slice(0, at), ...list.slice(at + 1)]);
    }
  }

  #verbs(method: string, verb: string, cb: unknown): readonly Verb[] {
    if (typeof cb !== 'function') throw new TypeError(`informer.${method}(): "cb" must be a function, got ${describe(cb)}`);
    if (verb === 'change') return OBJECT_VERBS;
    if (this.#callbacks.has(verb as Verb)) return [verb as Verb];
    throw new TypeError(`informer.${method}(): unknown event ${describe(verb)}; known: add, update, delete, change, error, connect`);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.#cache.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(name, namespace);
  }

  latestResourceVersion(): string {
    return this.#resourceVersion;
  }

  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`informer${this.#label()}: start() after close()`));
    if (this.#run !== undefined) return this.#run.firstRound;
    const controller = new AbortController();
    let endFirstRound = noop;
    const firstRound = new Promise<void>((resolve) => (endFirstRound = resolve));
    const done = this.#loop(controller.signal, () => endFirstRound()).finally(() => endFirstRound());
    this.#run = { controller, done, firstRound };
    return firstRound;
  }

  async stop(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    this.#run = undefined;
    run.controller.abort(abortError('informer stopped'));
    await run.done;
    this.#watchOpen = false;
  }

  readonly check = (): true | string => {
    const where = `informer${this.#label()} ${this.#s.path}`;
    if (this.#closed) return `${where}: closed`;
    if (this.#run === undefined) return `${where}: not started`;
    const failure = this.#failure === undefined ? '' : `: ${this.#failure.verdict.reason}: ${message(this.#failure.error)}`;
    if (!this.#synced) return `${where}: not synced yet${failure}`;
    if (this.#failure?.verdict.kind === 'permanent') return `${where}: failing${failure}`;
    const silentMs = realClock.now() - this.#lastContactAt;
    if (!this.#watchOpen && silentMs > this.#s.inactivityTimeoutMs) return `${where}: no watch open for ${Math.round(silentMs)} ms${failure}`;
    return true;
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detachSignal();
    this.#rejectSynced(abortError(`informer${this.#label()} closed before it synced`));
    await this.stop();
    this.#cache.clear();
    for (const verb of this.#callbacks.keys()) this.#callbacks.set(verb, []);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #label(): string {
    return this.#s.name === undefined ? '' : ` "${this.#s.name}"`;
  }

  #emit(verb: Verb, value: unknown): void {
    for (const cb of this.#callbacks.get(verb)!) callHook(hookErrorChannel, verb, cb as (value: unknown) => void, value, this.#s.name);
  }

  #deliver(change: CacheChange<T> | undefined): void {
    if (change !== undefined) this.#emit(change.verb, change.object);
  }

  async #loop(signal: AbortSignal, endFirstRound: () => void): Promise<void> {
    const s = this.#s;
    let delays = backoffDelays(s.schedule);
    let failures = 0;
    let lastFailureAt = -Infinity;
    while (!signal.aborted) {
      let phase: 'list' | 'watch' = 'list';
      let relisted = false;
      const appliedBefore = this.#applied;
      // A 410 right after a relist, before any event, is a server that cannot serve its own list's
      // version: a failure to back off from, not a reason to relist in a tight loop.
      const expired = (): void => {
        if (relisted && this.#applied === appliedBefore) throw transient(new Error(`resourceVersion ${this.#resourceVersion} expired right after a relist`));
        this.#relistNext();
      };
      try {
        if (this.#resourceVersion === '') {
          await this.#relist(signal);
          relisted = true;
          endFirstRound();
        }
        phase = 'watch';
        const from = this.#resourceVersion;
        const openedAt = realClock.now();
        this.#emit('connect', undefined);
        const end = await runWatch({
          kubeConfig: s.kubeConfig,
          url: this.#watchUrl(from),
          signal,
          inactivityTimeoutMs: s.inactivityTimeoutMs,
          onOpen: () => this.#opened(from),
          onLine: (line) => this.#apply(line),
        });
        this.#watchOpen = false;
        if (end.kind === 'expired' || (end.kind === 'ended' && end.lines > 0)) failures = 0;
        if (end.kind === 'expired') {
          expired();
          continue;
        }
        if (end.lines === 0 && realClock.now() - openedAt < SHORT_WATCH_MS) throw transient(new Error('the watch ended at once, without an event'));
      } catch (thrown) {
        this.#watchOpen = false;
        if (signal.aborted) break;
        let error = thrown;
        if (error instanceof WatchFailure && error.code === 410) {
          try {
            expired();
            continue;
          } catch (again) {
            error = again;
          }
        }
        const verdict = safeClassify(s.classify, error);
        const now = realClock.now();
        if (now - lastFailureAt > s.backoffResetMs) delays = backoffDelays(s.schedule);
        lastFailureAt = now;
        const stepMs = verdict.kind === 'permanent' ? s.maxDelayMs : delays.next().value;
        const delayMs = Math.min(MAX_TIMER_MS, Math.max(stepMs, verdict.retryAfterMs ?? 0));
        this.#failure = { verdict, error };
        this.#reportFailure({ name: s.name, path: s.path, phase, error, verdict, failures: ++failures, delayMs });
        endFirstRound();
        try {
          await realClock.sleep(delayMs, signal);
        } catch {
          break;
        }
      }
    }
  }

  #relistNext(): void {
    this.#resourceVersion = '';
    this.#listReason = 'expired';
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const s = this.#s;
    const list = await untilAborted(callList(s.listFn, signal), signal);
    if (list === null || typeof list !== 'object' || !Array.isArray((list as { items?: unknown }).items)) {
      throw new TypeError(`informer${this.#label()}: listFn must resolve with a list ({ items: [...] }), got ${describe(list)}`);
    }
    const items = (list as KubernetesListObject<T>).items;
    const changes = this.#cache.replace(items);
    const resourceVersion = list.metadata?.resourceVersion || '0';
    this.#resourceVersion = resourceVersion;
    this.#lastContactAt = realClock.now();
    this.#failure = undefined;
    for (const change of changes) this.#deliver(change);
    if (listChannel.hasSubscribers) {
      const count = (verb: string): number => changes.filter((c) => c.verb === verb).length;
      const event: InformerListEvent = {
        name: s.name, path: s.path, reason: this.#listReason, resourceVersion, items: items.length,
        added: count('add'), updated: count('update'), deleted: count('delete'),
      };
      listChannel.publish(Object.freeze(event));
    }
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSynced();
    }
  }

  #opened(from: string): void {
    this.#watchOpen = true;
    this.#lastContactAt = realClock.now();
    this.#failure = undefined;
    if (connectChannel.hasSubscribers) {
      const event: InformerConnectEvent = { name: this.#s.name, path: this.#s.path, resourceVersion: from };
      connectChannel.publish(Object.freeze(event));
    }
  }

  #apply(line: WatchLine): void {
    this.#applied++;
    this.#lastContactAt = realClock.now();
    const object = line.object as T;
    if (line.type === 'ADDED' || line.type === 'MODIFIED') this.#deliver(this.#cache.upsert(object));
    else if (line.type === 'DELETED') this.#deliver(this.#cache.remove(object));
    const version = object.metadata?.resourceVersion;
    if (typeof version === 'string' && version !== '') this.#resourceVersion = version;
  }

  #reportFailure(event: InformerErrorEvent): void {
    if (errorChannel.hasSubscribers) errorChannel.publish(Object.freeze(event));
    this.#emit('error', event.error);
  }

  #watchUrl(resourceVersion: string): URL {
    const s = this.#s;
    const url = new URL(s.url);
    const query = url.searchParams;
    query.set('watch', 'true');
    query.set('resourceVersion', resourceVersion);
    query.set('allowWatchBookmarks', 'true');
    query.set('timeoutSeconds', String(Math.floor(s.watchTimeoutSeconds * (1 + Math.min(0.999, Math.max(0, s.random()))))));
    return url;
  }
}

async function callList<T extends KubernetesObject>(listFn: InformerListFn<T>, signal: AbortSignal): Promise<KubernetesListObject<T>> {
  return listFn(Object.freeze({ signal }));
}

/** `promise`, or the signal's reason as soon as it aborts (a list call that ignores the signal is left to settle alone). */
function untilAborted<V>(promise: Promise<V>, signal: AbortSignal): Promise<V> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<V>((resolve, reject) => {
    const detach = onAbort(signal, () => reject(signal.reason as Error));
    promise.then(
      (value) => (detach(), resolve(value)),
      (error: unknown) => (detach(), reject(error as Error)),
    );
  });
}

function message(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : describe(error);
}

