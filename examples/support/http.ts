/**
 * A small HTTP(S) client for the scenarios, on `node:http` and `node:https`: one connection per
 * request (no keep-alive agent, so no socket outlives a scenario), and a non-2xx answer thrown as
 * an {@link HttpError} that carries what `classify` reads: `status`, `headers` (for Retry-After)
 * and `body` (a Kubernetes `Status` as raw JSON text, the way @kubernetes/client-node 1.x carries it).
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A non-2xx answer. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${summary(body)}`);
  }
}

/** A Kubernetes Status says it best in its reason and message; any other body, its first line. */
function summary(body: string): string {
  try {
    const status = JSON.parse(body) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (status.kind === 'Status') return `${String(status.reason)}: ${String(status.message)}`;
  } catch {
    // Not JSON: plain text.
  }
  return body.trim().split('\n')[0]!.slice(0, 200);
}

export interface RequestOptions {
  readonly method?: string;
  /** Certificates to trust for an `https:` URL (a self-signed server's own certificate). */
  readonly ca?: string;
  readonly signal?: AbortSignal;
}

/**
 * Sends a request and resolves with the response once its headers arrive, for a 2xx status;
 * otherwise reads the body and rejects with an {@link HttpError}. Connection and TLS failures
 * reject with Node's own errors, untouched.
 */
export function openResponse(url: string, options: RequestOptions = {}): Promise<IncomingMessage> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = send(url, {
      method: options.method ?? 'GET',
      agent: false,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    request.once('error', reject);
    request.once('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        resolve(response);
        return;
      }
      readBody(response).then((body) => reject(new HttpError(status, response.headers, body)), reject);
    });
    request.end();
  });
}

/** The whole body of a 2xx answer, as text. */
export async function fetchText(url: string, options: RequestOptions = {}): Promise<string> {
  return readBody(await openResponse(url, options));
}

/** The whole body of a 2xx answer, parsed as JSON. */
export async function fetchJson<T>(url: string, options: RequestOptions = {}): Promise<T> {
  return JSON.parse(await fetchText(url, options)) as T;
}

async function readBody(response: IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let body = '';
  for await (const chunk of response) body += chunk as string;
  return body;
}
