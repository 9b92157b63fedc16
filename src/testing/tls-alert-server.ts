/**
 * A stand-in for a kubelet whose serving certificate has not been approved yet: a plain TCP
 * server on 127.0.0.1 that answers every TLS ClientHello with the fatal alert "internal error"
 * (alert 80) and closes the connection, until `approve()` plays the certificate being approved.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { checkOptionNames, describe, optionsObject, requiredFunction } from '../shared/validate.js';
import { listenOnLoopback } from './loopback.js';

/**
 * The TLS record a kubelet without an approved serving certificate answers a ClientHello with:
 * `15 03 03 00 02 02 50` (alert, TLS 1.2, length 2, fatal, 80 internal_error).
 *
 * @example
 * ```ts
 * import { TLS_ALERT_INTERNAL_ERROR } from 'ridethrough/testing';
 * console.log(TLS_ALERT_INTERNAL_ERROR.toString('hex')); // 15030300020250
 * ```
 */
export const TLS_ALERT_INTERNAL_ERROR: Buffer = Buffer.from([
  0x15, // record type: alert
  0x03, 0x03, // TLS 1.2 record version
  0x00, 0x02, // length: 2
  0x02, // level: fatal
  0x50, // description: 80, internal_error
]);

/** What {@link TlsAlertServer.approve} needs to start serving for real. */
export interface TlsApproval {
  /** PEM private key of the serving certificate. */
  key: string | Buffer;
  /** PEM serving certificate. */
  cert: string | Buffer;
  /** Serves each request once the handshake succeeds (keep-alive is off: one request per connection). */
  handler: (request: IncomingMessage, response: ServerResponse) => void;
}

/** A running alert server, from {@link startTlsAlertServer}. */
export interface TlsAlertServer extends AsyncDisposable {
  /** Always `'127.0.0.1'`. */
  readonly host: string;
  /** The port it listens on (chosen by the OS). */
  readonly port: number;
  /** `https://127.0.0.1:<port>/`. */
  readonly url: string;
  /** How many connections have been answered with the alert so far. */
  readonly alertsSent: number;
  /**
   * From now on, new connections get a real TLS handshake with `key` and `cert` and are served by
   * `handler`. Throws a TypeError on a bad argument.
   */
  approve(approval: TlsApproval): void;
  /** Stops listening, destroys every open connection and resolves once the server is closed. Idempotent. */
  close(): Promise<void>;
}

const APPROVAL_NAMES: ReadonlySet<string> = new Set(['key', 'cert', 'handler']);

/**
 * Starts an alert server on a free port of 127.0.0.1. Node's TLS clients fail against it the way
 * they fail against such a kubelet:
 * - `tls.connect`: an error with code `ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR`;
 * - `fetch`: `TypeError('fetch failed')` with that error as `cause`;
 * - `https.get`: code `EPROTO`, message containing "tlsv1 alert internal error".
 * `classify` calls each of them transient.
 *
 * @example
 * ```ts
 * import { classify } from 'ridethrough/classify';
 * import { startTlsAlertServer } from 'ridethrough/testing';
 *
 * await using kubelet = await startTlsAlertServer();
 * const error = await fetch(kubelet.url).catch((e: unknown) => e);
 * console.log((error as { cause?: { code?: string } }).cause?.code); // ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR
 * console.log(classify(error).kind, kubelet.alertsSent); // transient 1
 * ```
 */
export async function startTlsAlertServer(): Promise<TlsAlertServer> {
  const sockets = new Set<Socket>();
  let alertsSent = 0;
  let approved: HttpsServer | undefined;
  let closing: Promise<void> | undefined;

  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A client that gives up first resets the connection; that is not our failure.
    socket.on('error', () => {});
    if (approved) {
      // The https server wraps the raw socket in TLS and serves HTTP on it.
      approved.emit('connection', socket);
      return;
    }
    // Wait for the ClientHello, as a real TLS server does, then refuse it.
    socket.once('data', () => {
      alertsSent++;
      socket.end(TLS_ALERT_INTERNAL_ERROR);
    });
  });

  const port = await listenOnLoopback(server);

  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Approved connections are in this set too: the https server never listens itself.
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };

  return {
    host: '127.0.0.1',
    port,
    url: `https://127.0.0.1:${port}/`,
    get alertsSent() {
      return alertsSent;
    },
    approve(approval: TlsApproval): void {
      const where = 'TlsAlertServer.approve()';
      const given = optionsObject(where, approval);
      checkOptionNames(where, given, APPROVAL_NAMES);
      for (const name of ['key', 'cert'] as const) {
        const value = given[name];
        if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
          throw new TypeError(`${where}: option "${name}" must be a PEM string or Buffer, got ${describe(value)}`);
        }
      }
      const handler = requiredFunction<TlsApproval['handler']>(where, 'handler', given.handler);
      // Keep-alive off: a pooled client socket would otherwise outlive close() on the client side.
      approved = createHttpsServer({ key: given.key!, cert: given.cert! }, (request, response) => {
        response.shouldKeepAlive = false;
        handler(request, response);
      });
      approved.on('tlsClientError', () => {});
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
