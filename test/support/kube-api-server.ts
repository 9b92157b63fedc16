/**
 * A local stand-in for the Kubernetes API server: a `node:http` server on 127.0.0.1 that answers
 * with what the real one sends when it refuses a request, a `Status` object as JSON with the
 * matching HTTP status code (and `Retry-After` when it asks the client to slow down), so that
 * `@kubernetes/client-node`'s real client throws its real `ApiException`.
 *
 * Replies are scripted: `enqueue()` queues replies for the next requests, in order; once the queue
 * is empty every request gets the default reply (`respond` option, else 200 with an empty list).
 * A reply can also be `{ reset: true }`: the connection is destroyed without an answer, so the
 * client sees `ECONNRESET`.
 *
 * `@kubernetes/client-node` is loaded only by `kubeConfig()`, on first use: it takes seconds to
 * load through tsx, and a user of the stand-in that speaks plain HTTP (the log-stream example)
 * never needs it.
 *
 * ```ts
 * const api = await startKubeApiServer();
 * api.enqueue(kubeStatus('TooManyRequests', { retryAfterSeconds: 1 }));
 * const core = (await api.kubeConfig()).makeApiClient(CoreV1Api);
 * await core.listNamespacedPod({ namespace: 'default' }); // throws ApiException, code 429
 * await api.close();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { listenOnLoopback } from '../../src/testing/loopback.js';

/** An HTTP answer: status code, JSON body (any value, serialised) and extra headers. */
export interface KubeApiAnswer {
  readonly status: number;
  /** Serialised with `JSON.stringify`; a string is sent as is. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Destroy the connection without answering (the client sees ECONNRESET / "socket hang up"). */
export interface KubeApiReset {
  readonly reset: true;
}

/** One scripted reply. */
export type KubeApiReply = KubeApiAnswer | KubeApiReset;

/** A request the stand-in received. */
export interface KubeApiRequest {
  readonly method: string;
  /** Path and query, e.g. `/api/v1/namespaces/default/pods`. */
  readonly url: string;
}

/** Options of {@link startKubeApiServer}. */
export interface KubeApiServerOptions {
  /** The reply when nothing is queued. Default: 200 with an empty `List`. */
  respond?: (request: KubeApiRequest) => KubeApiReply;
}

/** A running stand-in. */
export interface KubeApiServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Every request received so far, in order. */
  readonly requests: readonly KubeApiRequest[];
  /** Queues replies for the next requests, in order. */
  enqueue(...replies: KubeApiReply[]): void;
  /**
   * A client-node `KubeConfig` for this server (`skipTLSVerify`, as client-node requires for
   * `http://`). Async because it loads `@kubernetes/client-node` on first use.
   */
  kubeConfig(): Promise<KubeConfig>;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * The HTTP status code the API server pairs with each `Status` reason
 * (k8s.io/apimachinery/pkg/apis/meta/v1 `StatusReason` docs).
 */
export const statusCodes = {
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Invalid: 422,
  ServerTimeout: 500,
  StoreReadError: 500,
  Timeout: 504,
  TooManyRequests: 429,
  BadRequest: 400,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  InternalError: 500,
  Expired: 410,
  ServiceUnavailable: 503,
} as const;

/** A Kubernetes `StatusReason` this stand-in knows the code of. */
export type StatusReason = keyof typeof statusCodes;

/** Options of {@link kubeStatus}. */
export interface KubeStatusOptions {
  /** The HTTP code; default: the one the API server uses for the reason. */
  code?: number;
  message?: string;
  /** Sets `details.retryAfterSeconds` and the `Retry-After` header, as the API server does. */
  retryAfterSeconds?: number;
  /** Extra `details` fields (`name`, `kind`, `causes`...). */
  details?: Record<string, unknown>;
}

/**
 * A failure reply as the API server sends it: the `Status` JSON (fields in the order the API
 * server writes them) with its code and, when asked, a `Retry-After` header.
 */
export function kubeStatus(reason: StatusReason, options: KubeStatusOptions = {}): KubeApiAnswer {
  const code = options.code ?? statusCodes[reason];
  const details: Record<string, unknown> = { ...options.details };
  if (options.retryAfterSeconds !== undefined) details.retryAfterSeconds = options.retryAfterSeconds;
  const body = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: options.message ?? `the server refused the request: ${reason}`,
    reason,
    ...(Object.keys(details).length > 0 ? { details } : {}),
    code,
  };
  const headers: Record<string, string> = {};
  if (options.retryAfterSeconds !== undefined) headers['Retry-After'] = String(options.retryAfterSeconds);
  return { status: code, body, headers };
}

const emptyList: KubeApiAnswer = {
  status: 200,
  body: { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] },
};

/** Starts a stand-in on 127.0.0.1 on a free port. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const queue: KubeApiReply[] = [];
  const requests: KubeApiRequest[] = [];
  const sockets = new Set<Socket>();
  const respond = options.respond ?? (() => emptyList);
  let closing: Promise<void> | undefined;

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const seen: KubeApiRequest = { method: request.method ?? 'GET', url: request.url ?? '/' };
    requests.push(seen);
    // Drain any request body so the client is not left writing into a closed socket.
    request.resume();
    const reply = queue.shift() ?? respond(seen);
    if ('reset' in reply) {
      request.socket.destroy();
      return;
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    response.writeHead(reply.status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      ...reply.headers,
    });
    response.end(text);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const port = await listenOnLoopback(server);
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    requests,
    enqueue(...replies: KubeApiReply[]): void {
      queue.push(...replies);
    },
    async kubeConfig(): Promise<KubeConfig> {
      // Imported here, not at the top: loading it costs seconds through tsx.
      const clientNode = await import('@kubernetes/client-node');
      const config = new clientNode.KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'stand-in', server: url, skipTLSVerify: true }],
        users: [{ name: 'nobody' }],
        contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'nobody' }],
        currentContext: 'stand-in',
      });
      return config;
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
