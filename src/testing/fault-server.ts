/**
 * A small HTTP server on 127.0.0.1 that fails on demand: a status (503 with Retry-After, 429,
 * ...), a connection reset, a delay. It stands in for any upstream a client must ride through.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { checkOptionNames, describe, functionOption, numberOption, optionsObject } from '../shared/validate.js';
import { listenOnLoopback } from './loopback.js';

/**
 * What the server does to one request instead of (or before) answering it normally. Every field
 * is optional: `{ delayMs: 500 }` is a slow normal answer, `{ status: 503, retryAfter: 1 }` an
 * unavailable upstream, `{ reset: true }` a connection reset (the client sees `ECONNRESET`).
 */
export interface Fault {
  /**
   * Wait this long before acting (a finite number of milliseconds, >= 0).
   * @defaultValue `0`
   */
  readonly delayMs?: number | undefined;
  /**
   * Answer with this HTTP status (an integer from 100 to 599) instead of calling the handler.
   * @defaultValue none: the handler answers
   */
  readonly status?: number | undefined;
  /**
   * The `Retry-After` header of a `status` answer: seconds, or an HTTP date as a string.
   * @defaultValue none
   */
  readonly retryAfter?: number | string | undefined;
  /**
   * The body of a `status` answer (text/plain).
   * @defaultValue the status line's text, e.g. `Service Unavailable`
   */
  readonly body?: string | undefined;
  /**
   * Reset the connection (TCP RST) without answering. Not combined with `status`.
   * @defaultValue `false`
   */
  readonly reset?: boolean | undefined;
}

/** Answers a request that no fault intercepts. */
export type FaultServerHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Options of {@link startFaultServer}. */
export interface FaultServerOptions {
  /**
   * Answers each request no fault intercepts (and each one a `delayMs`-only fault delayed). What
   * it throws or rejects with is answered with a 500 (or a reset once headers are sent), never
   * thrown in the host.
   * @defaultValue answers `200 ok` (text/plain)
   */
  handler?: FaultServerHandler | undefined;
  /**
   * Faults for the first requests, one each, in order (as {@link FaultServer.inject} queues them).
   * @defaultValue none
   */
  faults?: readonly Fault[] | undefined;
}

/** A request the fault server received. */
export interface FaultRequest {
  /** `GET`, `POST`, ... */
  readonly method: string;
  /** Path and query, e.g. `/healthz?verbose`. */
  readonly url: string;
  /** The fault applied to it, if any. */
  readonly fault: Fault | undefined;
}

/** A running fault server, from {@link startFaultServer}. */
export interface FaultServer extends AsyncDisposable {
  /** Always `'127.0.0.1'`. */
  readonly host: string;
  /** The port it listens on (chosen by the OS). */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request received so far, in order. */
  readonly requests: readonly FaultRequest[];
  /** How many queued faults have not been used yet. */
  readonly queued: number;
  /** Queues faults for the next requests, one each, in order. Throws a TypeError or RangeError on a bad fault. */
  inject(...faults: Fault[]): void;
  /**
   * Applies `fault` to every request once the queue is empty, until called again; `undefined`
   * heals the server. Throws a TypeError or RangeError on a bad fault.
   */
  setFault(fault: Fault | undefined): void;
  /** Stops listening, cancels pending delays, destroys every connection. Idempotent. */
  close(): Promise<void>;
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['handler', 'faults']);
const FAULT_NAMES: ReadonlySet<string> = new Set(['delayMs', 'status', 'retryAfter', 'body', 'reset']);

const answerOk: FaultServerHandler = (_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
};

/**
 * Starts a fault server on a free port of 127.0.0.1. Rejects with a TypeError or RangeError on
 * bad options.
 *
 * @example
 * ```ts
 * import { retry } from 'ridethrough/retry';
 * import { startFaultServer } from 'ridethrough/testing';
 *
 * await using upstream = await startFaultServer({
 *   faults: [{ reset: true }, { status: 503, retryAfter: 0 }, { delayMs: 20 }],
 * });
 * const text = await retry(async () => {
 *   const response = await fetch(upstream.url);
 *   if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, headers: response.headers });
 *   return response.text();
 * }, { initialDelayMs: 1 });
 * console.log(text, upstream.requests.length); // ok 3
 * ```
 */
export async function startFaultServer(options?: FaultServerOptions): Promise<FaultServer> {
  const where = 'startFaultServer()';
  const given = optionsObject(where, options);
  checkOptionNames(where, given, OPTION_NAMES);
  const handler = functionOption<FaultServerHandler>(where, 'handler', given.handler) ?? answerOk;
  if (given.faults !== undefined && !Array.isArray(given.faults)) {
    throw new TypeError(`${where}: option "faults" must be an array of faults, got ${describe(given.faults)}`);
  }
  const queue: Fault[] = (given.faults ?? []).map((fault, i) => checkFault(where, `faults[${i}]`, fault));
  let standing: Fault | undefined;
  const requests: FaultRequest[] = [];
  const sockets = new Set<Socket>();
  const delays = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | undefined;

  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    try {
      await handler(request, response);
    } catch {
      if (response.headersSent) request.socket.destroy();
      else response.writeHead(500, { 'Content-Type': 'text/plain' }).end('the fault server handler failed');
    }
  };

  const act = (fault: Fault | undefined, request: IncomingMessage, response: ServerResponse): void => {
    if (fault?.reset === true) request.socket.resetAndDestroy();
    else if (fault?.status !== undefined) {
      const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
      if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
      response.writeHead(fault.status, headers).end(fault.body ?? STATUS_CODES[fault.status] ?? '');
    } else void serve(request, response);
  };

  const server = createServer((request, response) => {
    const fault = queue.shift() ?? standing;
    requests.push(Object.freeze({ method: request.method ?? 'GET', url: request.url ?? '/', fault }));
    const delayMs = fault?.delayMs ?? 0;
    if (delayMs === 0) return act(fault, request, response);
    const timer = setTimeout(() => {
      delays.delete(timer);
      if (!request.socket.destroyed) act(fault, request, response);
    }, delayMs);
    delays.add(timer);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A client that gives up first resets the connection; that is not the server's failure.
    socket.on('error', () => {});
  });

  const port = await listenOnLoopback(server);
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };

  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    get queued() {
      return queue.length;
    },
    inject(...faults: Fault[]): void {
      const checked = faults.map((fault, i) => checkFault('FaultServer.inject()', `faults[${i}]`, fault));
      queue.push(...checked);
    },
    setFault(fault: Fault | undefined): void {
      standing = fault === undefined ? undefined : checkFault('FaultServer.setFault()', 'fault', fault);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A frozen copy of a valid fault; TypeError or RangeError naming `name` otherwise. */
function checkFault(where: string, name: string, fault: unknown): Fault {
  if (fault === null || typeof fault !== 'object' || Array.isArray(fault)) {
    throw new TypeError(`${where}: ${name} must be a fault object, got ${describe(fault)}`);
  }
  checkOptionNames(`${where}: ${name}`, fault, FAULT_NAMES);
  const f = fault as Record<keyof Fault, unknown>;
  const at = (field: string): string => `${name}.${field}`;
  numberOption(where, at('delayMs'), f.delayMs, 0, { min: 0 });
  if (f.status !== undefined) numberOption(where, at('status'), f.status, 0, { integer: true, min: 100, max: 599 });
  if (f.retryAfter !== undefined) {
    if (typeof f.retryAfter === 'number') numberOption(where, at('retryAfter'), f.retryAfter, 0, { min: 0 });
    else if (typeof f.retryAfter !== 'string') {
      throw new TypeError(`${where}: option "${at('retryAfter')}" must be seconds or an HTTP date string, got ${describe(f.retryAfter)}`);
    }
  }
  if (f.body !== undefined && typeof f.body !== 'string') {
    throw new TypeError(`${where}: option "${at('body')}" must be a string, got ${describe(f.body)}`);
  }
  if (f.reset !== undefined && typeof f.reset !== 'boolean') {
    throw new TypeError(`${where}: option "${at('reset')}" must be a boolean, got ${describe(f.reset)}`);
  }
  if (f.reset === true && f.status !== undefined) {
    throw new RangeError(`${where}: ${name} cannot both reset the connection and answer with status ${String(f.status)}`);
  }
  if ((f.retryAfter !== undefined || f.body !== undefined) && f.status === undefined) {
    throw new RangeError(`${where}: ${name} has "retryAfter" or "body" but no "status" to answer with`);
  }
  return Object.freeze({ ...(fault as Fault) });
}
