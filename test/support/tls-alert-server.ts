/**
 * A stand-in for a kubelet whose serving certificate has not been approved yet: a plain TCP
 * server on 127.0.0.1 that answers every TLS ClientHello with the fatal alert "internal error"
 * (alert 80), the 7 bytes `15 03 03 00 02 02 50`, and closes the connection. Node's TLS clients
 * then fail the way they fail against such a kubelet:
 * - `tls.connect`: an error with code `ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR`;
 * - `fetch`: `TypeError('fetch failed')` with that error as `cause`;
 * - `https.get`: code `EPROTO`, message containing "tlsv1 alert internal error".
 *
 * `approve()` plays the certificate being approved: from then on new connections get a real
 * TLS handshake with the given key and certificate and are served by the given request handler.
 *
 * Used by the classifier tests and by the examples (the log-stream scenario).
 *
 * ```ts
 * const kubelet = await startTlsAlertServer();
 * try {
 *   await fetch(kubelet.url); // rejects: fetch failed, cause ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR
 * } finally {
 *   await kubelet.close(); // leaves no socket, server or timer behind
 * }
 * ```
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback } from '../../src/testing/loopback.js';

/** The TLS record a kubelet without an approved serving certificate answers a ClientHello with. */
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
  /** Serves each request once the handshake succeeds. */
  handler: (request: IncomingMessage, response: ServerResponse) => void;
}

/** A running alert server. */
export interface TlsAlertServer {
  /** Always `'127.0.0.1'`. */
  readonly host: string;
  /** The port it listens on (chosen by the OS). */
  readonly port: number;
  /** `https://127.0.0.1:<port>/`. */
  readonly url: string;
  /** How many connections have been answered with the alert so far. */
  readonly alertsSent: number;
  /** From now on, new connections are served over real TLS instead of alerted. */
  approve(approval: TlsApproval): void;
  /** Stops listening, destroys every open connection and resolves once the server is closed. Idempotent. */
  close(): Promise<void>;
}

/** Starts an alert server on 127.0.0.1 on a free port. */
export async function startTlsAlertServer(): Promise<TlsAlertServer> {
  const sockets = new Set<Socket>();
  let alertsSent = 0;
  let approved: HttpsServer | undefined;
  let closing: Promise<void> | undefined;

  const server: Server = createTcpServer((socket) => {
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

  return {
    host: '127.0.0.1',
    port,
    url: `https://127.0.0.1:${port}/`,
    get alertsSent() {
      return alertsSent;
    },
    approve({ key, cert, handler }: TlsApproval): void {
      // Keep-alive off: a pooled client socket would otherwise outlive close() on the client side.
      approved = createHttpsServer({ key, cert }, (request, response) => {
        response.shouldKeepAlive = false;
        handler(request, response);
      });
      approved.on('tlsClientError', () => {});
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Approved connections are in this set too: the https server never listens itself.
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
