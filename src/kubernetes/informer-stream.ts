/**
 * One watch request of an informer: an HTTP GET with `watch=true` whose answer is a stream of
 * JSON lines. Opened with `node:http`/`node:https` and the TLS agent, headers and credentials the
 * user's KubeConfig gives (`applyToHTTPSOptions`), so nothing here loads client-node.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { transient } from '../classify/index.js';
import { timeoutError } from '../shared/signals.js';

/**
 * A watch answered with an HTTP error, or an `ERROR` event in the stream: shaped like client-node's
 * `ApiException` (`code`, `body` as the `Status` JSON text, `headers`), so that `classify` reads it
 * the same way.
 */
export class WatchFailure extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: Readonly<Record<string, string>>,
  ) {
    super(`watch failed: HTTP ${code}${reasonOf(body)}`);
    this.name = 'WatchFailure';
  }
}

function reasonOf(body: string): string {
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown };
    return typeof status.message === 'string' ? `: ${status.message}` : typeof status.reason === 'string' ? `: ${status.reason}` : '';
  } catch {
    return '';
  }
}

/** What one line of a watch stream carries. */
export interface WatchLine {
  readonly type: string;
  readonly object: Record<string, unknown>;
}

/** How a watch ended without a failure: the server closed it, or said the resourceVersion expired (410). */
export type WatchEnd = { readonly kind: 'ended'; readonly lines: number } | { readonly kind: 'expired' };

/** The settings of one watch request. */
export interface WatchRequest {
  readonly kubeConfig: KubeConfig;
  readonly url: URL;
  readonly signal: AbortSignal;
  /** No line (event or bookmark) for this long: the stream is stale, and the watch fails. */
  readonly inactivityTimeoutMs: number;
  /** Called once the server answered 200. */
  readonly onOpen: () => void;
  /** Called with each event but ERROR (and BOOKMARK, which is passed too). */
  readonly onLine: (line: WatchLine) => void;
}

function headerRecord(headers: http.IncomingHttpHeaders): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) if (value !== undefined) record[key] = Array.isArray(value) ? value.join(', ') : value;
  return record;
}

/**
 * Runs one watch to its end. Resolves with how it ended cleanly; rejects with what failed (a
 * {@link WatchFailure}, a connection error, a `TimeoutError` for a stale stream), or with the
 * signal's reason once it aborts. Every socket, timer and agent is released when it settles.
 */
export async function runWatch(w: WatchRequest): Promise<WatchEnd> {
  const options: https.RequestOptions = {};
  await w.kubeConfig.applyToHTTPSOptions(options);
  if (w.signal.aborted) throw w.signal.reason;
  const agent = options.agent;
  const send = w.url.protocol === 'https:' ? https.request : http.request;
  return new Promise<WatchEnd>((resolve, reject) => {
    let settled = false;
    let lines = 0;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(stale);
      request.destroy();
      // client-node builds a fresh agent per call: free its sockets now rather than at GC.
      if (agent instanceof http.Agent) agent.destroy();
      outcome();
    };
    const ms = w.inactivityTimeoutMs;
    const stale = setTimeout(() => finish(() => reject(timeoutError(`no event or bookmark for ${ms} ms: the watch is stale`))), ms);
    const request = send(w.url, {
      method: 'GET',
      headers: { ...options.headers, Accept: 'application/json' },
      ...(agent === undefined ? {} : { agent }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      signal: w.signal,
    });
    request.on('error', (error) => finish(() => reject(w.signal.aborted ? w.signal.reason : error)));
    request.on('response', (response) => {
      response.setEncoding('utf8');
      if (response.statusCode !== 200) {
        let body = '';
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => finish(() => reject(new WatchFailure(response.statusCode ?? 0, body, headerRecord(response.headers)))));
        response.on('error', (error) => finish(() => reject(error)));
        return;
      }
      stale.refresh();
      w.onOpen();
      let buffered = '';
      response.on('data', (chunk: string) => {
        stale.refresh();
        buffered += chunk;
        for (let end = buffered.indexOf('\n'); end >= 0 && !settled; end = buffered.indexOf('\n')) {
          const text = buffered.slice(0, end).trim();
          buffered = buffered.slice(end + 1);
          if (text !== '') handle(text);
        }
      });
      response.on('end', () => finish(() => resolve({ kind: 'ended', lines })));
      response.on('error', (error) => finish(() => reject(w.signal.aborted ? w.signal.reason : error)));
      response.on('close', () => {
        if (!response.complete) finish(() => reject(Object.assign(new Error('watch connection closed mid-stream'), { code: 'ECONNRESET' })));
      });
    });
    request.end();

    function handle(text: string): void {
      let line: WatchLine;
      try {
        line = JSON.parse(text) as WatchLine;
        if (typeof line?.type !== 'string' || typeof line.object !== 'object' || line.object === null) throw new Error('no type or object');
      } catch (error) {
        finish(() => reject(transient(new Error(`malformed watch event: ${String(error)}`))));
        return;
      }
      lines++;
      if (line.type === 'ERROR') {
        const code = Number(line.object.code);
        if (code === 410) finish(() => resolve({ kind: 'expired' }));
        else finish(() => reject(new WatchFailure(Number.isInteger(code) ? code : 500, JSON.stringify(line.object), {})));
        return;
      }
      w.onLine(line);
    }
  });
}
