/**
 * {@link startFakeApiServer}: a stand-in for the Kubernetes API server on 127.0.0.1, with list,
 * watch, create, replace and delete for the resources it is given, and faults on demand.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from './loopback.js';
import { kubeStatus, statusBody, type FakeApiAnswer, type FakeApiReply } from './fake-api-replies.js';
import { FakeStore, FakeStoreError, type FakeChange, type FakeObject, type FakeResource } from './fake-api-store.js';

export type { FakeObject, FakeObjectMetadata, FakeResource } from './fake-api-store.js';
export { kubeStatus, statusCodes, type FakeApiAnswer, type FakeApiReply, type FakeApiReset, type KubeStatusOptions, type StatusReason } from './fake-api-replies.js';

/** What {@link FakeApiServer.kubeConfigOptions} returns: the shape of client-node's `kc.loadFromOptions(...)` argument. */
export interface FakeKubeConfigOptions {
  /** One cluster, `fake`, at the server's URL (plain HTTP, so `skipTLSVerify`). */
  clusters: Array<{
    /** The cluster's name. */
    name: string;
    /** The server's URL, `http://127.0.0.1:<port>`. */
    server: string;
    /** `true`: there is no TLS to verify. */
    skipTLSVerify: boolean;
  }>;
  /** One user, `fake`, with no credentials (the fake server checks none). */
  users: Array<{
    /** The user's name. */
    name: string;
  }>;
  /** One context joining the two. */
  contexts: Array<{
    /** The context's name. */
    name: string;
    /** The cluster's name. */
    cluster: string;
    /** The user's name. */
    user: string;
  }>;
  /** The name of that context. */
  currentContext: string;
}


/** A request the server received. */
export interface FakeApiRequest {
  /** The HTTP method (`GET`, `POST`, ...). */
  readonly method: string;
  /** Path and query, e.g. `/api/v1/namespaces/default/pods?watch=true&resourceVersion=12`. */
  readonly url: string;
}

/** Which requests a fault hits: every one, lists and reads (GET without `watch`), watches, or writes. */
export type FakeApiTarget = 'any' | 'read' | 'watch' | 'write';

/** Options of {@link startFakeApiServer}. Times are configurable so that tests run fast. */
export interface FakeApiServerOptions {
  /** The resources served (list, watch, get, create, replace, delete). @defaultValue none */
  resources?: readonly FakeResource[] | undefined;
  /** The reply to a request no resource matches and nothing queued answers. @defaultValue 200 with an empty `List` */
  respond?: ((request: FakeApiRequest) => FakeApiReply) | undefined;
  /** How often a watch that asked for bookmarks (`allowWatchBookmarks=true`) gets one. @defaultValue 60000 */
  bookmarkIntervalMs?: number | undefined;
  /** The longest a watch stays open, whatever its `timeoutSeconds` asks (the real server's default is 30-60 min). @defaultValue 1800000 */
  maxWatchMs?: number | undefined;
}

/** A running fake API server; see {@link startFakeApiServer}. */
export interface FakeApiServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`; the same after {@link FakeApiServer.restart}. */
  readonly url: string;
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Every request received so far, in order. */
  readonly requests: readonly FakeApiRequest[];
  /** The current resourceVersion (one counter for every resource, as etcd's revision). */
  readonly resourceVersion: string;
  /** Watches open now. */
  readonly watchCount: number;
  /** What to pass to client-node's `kc.loadFromOptions(...)` (plain HTTP, so `skipTLSVerify`). */
  kubeConfigOptions(): FakeKubeConfigOptions;
  /** Creates an object (as a POST would): stamped with kind, apiVersion, namespace and a new resourceVersion. */
  create(plural: string, object: FakeObject): FakeObject;
  /** Replaces an object (as a PUT would); a stale `metadata.resourceVersion` throws a Conflict. */
  update(plural: string, object: FakeObject): FakeObject;
  /** Deletes an object and returns its last state. */
  remove(plural: string, name: string, namespace?: string): FakeObject;
  /** One object, or undefined. */
  get(plural: string, name: string, namespace?: string): FakeObject | undefined;
  /** Every object of a resource (in one namespace, when given). */
  list(plural: string, namespace?: string): FakeObject[];
  /** Queues replies for the next requests, whatever they are, in order. */
  enqueue(...replies: FakeApiReply[]): void;
  /** Answers the next `times` requests that `target` matches with `reply`. */
  fail(times: number, reply: FakeApiReply, target?: FakeApiTarget): void;
  /** The next `times` matching requests get 429 TooManyRequests with `Retry-After` (as priority and fairness answers). */
  throttle(times: number, retryAfterSeconds?: number, target?: FakeApiTarget): void;
  /** The next `times` matching requests get 503 ServiceUnavailable. */
  unavailable(times: number, target?: FakeApiTarget): void;
  /** The next `times` matching requests have their connection destroyed without an answer. */
  resetConnections(times: number, target?: FakeApiTarget): void;
  /** Holds every answer (a watch's headers too) for `ms` from now on; 0 stops. */
  delayResponses(ms: number): void;
  /** Cuts every open watch mid-stream; returns how many. */
  dropWatches(): number;
  /** Forgets the history: resuming a watch from an earlier resourceVersion gets 410 Expired. */
  compact(): void;
  /**
   * Stops listening, cuts every connection, stays down `downMs` (objects can still be changed
   * through this object meanwhile), then listens on the same port, objects kept. With `compact`,
   * the history is forgotten as it comes back, as a restarted server's watch cache does.
   */
  restart(options?: { downMs?: number | undefined; compact?: boolean | undefined }): Promise<void>;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}


const emptyList: FakeApiAnswer = { status: 200, body: { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] } };

/** A parsed resource URL. */
interface Route {
  readonly resource: Required<FakeResource>;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

interface OpenWatch {
  readonly response: ServerResponse;
  readonly plural: string;
  readonly namespace: string | undefined;
  stop(): void;
}

interface Fault {
  times: number;
  readonly reply: FakeApiReply;
  readonly target: FakeApiTarget;
}

function targetOf(method: string, query: URLSearchParams): Exclude<FakeApiTarget, 'any'> {
  if (method !== 'GET' && method !== 'HEAD') return 'write';
  const watch = query.get('watch');
  return watch === 'true' || watch === '1' ? 'watch' : 'read';
}

/**
 * Starts a fake Kubernetes API server on 127.0.0.1 (a free port): real `@kubernetes/client-node`
 * clients, informers and watches talk to it as to the real one. There is no real kube-apiserver to
 * be had for tests on most build machines (it is not packaged for Debian, and building one needs
 * the Go module proxy), so this speaks the API's wire protocol instead:
 *
 * - For each resource given: list (`<Kind>List` with the current `resourceVersion`), get, create
 *   (POST), replace (PUT; a stale `metadata.resourceVersion` is 409 Conflict) and delete, under
 *   `/api/v1/...` (core) or `/apis/<group>/<version>/...`, namespaced or not.
 * - Watch (`?watch=true`): from `resourceVersion` (every change after it, then live; none, `''` or
 *   `'0'`: an ADDED per object first), `BOOKMARK` events every `bookmarkIntervalMs` when asked
 *   with `allowWatchBookmarks=true`, ended cleanly after `timeoutSeconds` (at most `maxWatchMs`).
 *   A resume from a resourceVersion older than the last {@link FakeApiServer.compact} gets what the
 *   real server sends: an `ERROR` event with a 410 Expired `Status`, and the end of the stream.
 * - Faults on demand: {@link FakeApiServer.dropWatches}, {@link FakeApiServer.compact},
 *   {@link FakeApiServer.throttle} (429 with Retry-After), {@link FakeApiServer.unavailable} (503),
 *   {@link FakeApiServer.resetConnections}, {@link FakeApiServer.delayResponses},
 *   {@link FakeApiServer.restart}, and scripted replies ({@link FakeApiServer.enqueue}).
 *
 * PATCH is answered 405. Label and field selectors are not applied.
 *
 * @example
 * ```ts
 * import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
 * import { startFakeApiServer } from 'ridethrough/testing';
 *
 * await using api = await startFakeApiServer({ resources: [{ plural: 'pods', kind: 'Pod' }] });
 * api.create('pods', { metadata: { name: 'web-1' } });
 * const kc = new KubeConfig();
 * kc.loadFromOptions(api.kubeConfigOptions());
 * const core = kc.makeApiClient(CoreV1Api);
 * api.throttle(1, 0);
 * const failed = await core.listNamespacedPod({ namespace: 'default' }).catch((error: { code?: number }) => error.code);
 * const pods = await core.listNamespacedPod({ namespace: 'default' });
 * console.log(failed, pods.items.map((p) => p.metadata?.name)); // 429 [ 'web-1' ]
 * ```
 */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const store = new FakeStore(options.resources ?? []);
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
  const maxWatchMs = options.maxWatchMs ?? 1_800_000;
  const respond = options.respond ?? (() => emptyList);
  const queue: FakeApiReply[] = [];
  const faults: Fault[] = [];
  const requests: FakeApiRequest[] = [];
  const sockets = new Set<Socket>();
  const watches = new Set<OpenWatch>();
  let delayMs = 0;
  let closing: Promise<void> | undefined;

  const route = (path: string): Route | undefined => {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    let apiVersion: string;
    let rest: string[];
    if (parts[0] === 'api' && parts[1] !== undefined) [apiVersion, rest] = [parts[1], parts.slice(2)];
    else if (parts[0] === 'apis' && parts[2] !== undefined) [apiVersion, rest] = [`${parts[1]}/${parts[2]}`, parts.slice(3)];
    else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
    const resource = store.resources.get(rest[0] ?? '');
    if (resource === undefined || resource.apiVersion !== apiVersion || rest.length > 2) return undefined;
    return { resource, namespace, name: rest[1] };
  };

  const send = (response: ServerResponse, reply: FakeApiReply): void => {
    if ('reset' in reply) {
      response.socket?.destroy();
      return;
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    response.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...reply.headers });
    response.end(text);
  };

  const storeFailure = (error: unknown): FakeApiAnswer => {
    if (!(error instanceof FakeStoreError)) throw error;
    return kubeStatus(error.reason, { message: error.message });
  };

  const readBody = async (request: IncomingMessage): Promise<FakeObject> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as FakeObject;
  };

  const watch = (response: ServerResponse, r: Route, query: URLSearchParams): void => {
    const plural = r.resource.plural;
    const from = query.get('resourceVersion') ?? '';
    const write = (type: string, object: unknown): void => void response.write(`${JSON.stringify({ type, object })}\n`);
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    if (from !== '' && from !== '0') {
      const since = Number(from);
      if (!Number.isInteger(since) || since < store.compactedAt) {
        write('ERROR', statusBody('Expired', 410, `too old resource version: ${from} (${store.compactedAt})`));
        response.end();
        return;
      }
      for (const change of store.changesSince(plural, since, r.namespace)) write(change.type, change.object);
    } else {
      for (const object of store.list(plural, r.namespace)) write('ADDED', object);
    }
    const unsubscribe = store.subscribe((change: FakeChange) => {
      if (change.plural !== plural || (r.namespace !== undefined && change.object.metadata?.namespace !== r.namespace)) return;
      write(change.type, change.object);
    });
    const bookmarks =
      query.get('allowWatchBookmarks') === 'true'
        ? setInterval(() => write('BOOKMARK', { kind: r.resource.kind, apiVersion: r.resource.apiVersion, metadata: { resourceVersion: String(store.revision) } }), bookmarkIntervalMs)
        : undefined;
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? NaN);
    const lifetime = setTimeout(() => response.end(), Math.min(maxWatchMs, timeoutSeconds > 0 ? timeoutSeconds * 1000 : maxWatchMs));
    const entry: OpenWatch = {
      response,
      plural,
      namespace: r.namespace,
      stop() {
        watches.delete(entry);
        unsubscribe();
        clearInterval(bookmarks);
        clearTimeout(lifetime);
      },
    };
    watches.add(entry);
    response.once('close', () => entry.stop());
  };

  const serve = async (request: IncomingMessage, response: ServerResponse, path: string, query: URLSearchParams): Promise<FakeApiReply | undefined> => {
    const method = request.method ?? 'GET';
    const r = route(path);
    if (r === undefined) {
      request.resume();
      return respond({ method, url: request.url ?? '/' });
    }
    const { resource, namespace, name } = r;
    try {
      if (method === 'GET' && name === undefined) {
        if (targetOf(method, query) === 'watch') {
          watch(response, r, query);
          return undefined;
        }
        const items = store.list(resource.plural, namespace);
        return { status: 200, body: { kind: `${resource.kind}List`, apiVersion: resource.apiVersion, metadata: { resourceVersion: String(store.revision) }, items } };
      }
      if (method === 'GET') {
        const found = store.get(resource.plural, name!, namespace);
        return found === undefined ? kubeStatus('NotFound', { message: `${resource.plural} "${name}" not found` }) : { status: 200, body: found };
      }
      if (method === 'POST' && name === undefined) return { status: 201, body: store.create(resource.plural, await readBody(request), namespace) };
      if (method === 'PUT' && name !== undefined) {
        const body = await readBody(request);
        return { status: 200, body: store.update(resource.plural, { ...body, metadata: { ...body.metadata, name } }, namespace) };
      }
      if (method === 'DELETE' && name !== undefined) {
        request.resume();
        return { status: 200, body: store.remove(resource.plural, name, namespace) };
      }
      request.resume();
      return kubeStatus('MethodNotAllowed', { message: `${method} is not supported by the fake API server here` });
    } catch (error) {
      return storeFailure(error);
    }
  };

  const server = createServer((request, response) => {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://localhost');
    requests.push(Object.freeze({ method, url: request.url ?? '/' }));
    const target = targetOf(method, url.searchParams);
    let reply = queue.shift();
    if (reply === undefined) {
      const fault = faults.find((f) => f.target === 'any' || f.target === target);
      if (fault !== undefined) {
        reply = fault.reply;
        if (--fault.times === 0) faults.splice(faults.indexOf(fault), 1);
      }
    }
    const go = (): void => {
      if (reply !== undefined) {
        request.resume();
        send(response, reply);
        return;
      }
      serve(request, response, url.pathname, url.searchParams).then(
        (answer) => answer !== undefined && send(response, answer),
        (error: unknown) => send(response, kubeStatus('InternalError', { message: String(error) })),
      );
    };
    if (delayMs > 0) setTimeout(go, delayMs);
    else go();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const port = await listenOnLoopback(server);
  const url = `http://127.0.0.1:${port}`;
  const cutWatches = (): number => {
    const open = [...watches];
    for (const w of open) {
      w.stop();
      w.response.destroy();
    }
    return open.length;
  };
  const cutAll = (): void => {
    cutWatches();
    for (const socket of sockets) socket.destroy();
  };
  const stopListening = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      cutAll();
    });

  const api: FakeApiServer = {
    url,
    port,
    requests,
    get resourceVersion() {
      return String(store.revision);
    },
    get watchCount() {
      return watches.size;
    },
    kubeConfigOptions: () => ({
      clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'nobody' }],
      currentContext: 'fake',
    }),
    create: (plural, object) => store.create(plural, object),
    update: (plural, object) => store.update(plural, object),
    remove: (plural, name, namespace) => store.remove(plural, name, namespace),
    get: (plural, name, namespace) => store.get(plural, name, namespace),
    list: (plural, namespace) => store.list(plural, namespace),
    enqueue: (...replies) => void queue.push(...replies),
    fail(times, reply, target = 'any') {
      if (times > 0) faults.push({ times, reply, target });
    },
    throttle(times, retryAfterSeconds = 1, target = 'any') {
      api.fail(times, kubeStatus('TooManyRequests', { retryAfterSeconds, message: 'Too many requests, please try again later.' }), target);
    },
    unavailable(times, target = 'any') {
      api.fail(times, kubeStatus('ServiceUnavailable'), target);
    },
    resetConnections(times, target = 'any') {
      api.fail(times, { reset: true }, target);
    },
    delayResponses(ms) {
      delayMs = ms;
    },
    dropWatches: cutWatches,
    compact: () => store.compact(),
    async restart({ downMs = 0, compact = false } = {}) {
      await stopListening();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      if (closing !== undefined) return;
      // After the downtime, so that changes made while it was down are lost from the history too.
      if (compact) store.compact();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()));
      });
    },
    close() {
      closing ??= stopListening();
      return closing;
    },
    [Symbol.asyncDispose]: () => api.close(),
  };
  return api;
}
