/**
 * The server process of bench/credentials.bench.ts (forked by it; not a benchmark of its own):
 * three https servers on 127.0.0.1, one with a fixed certificate, two attached with
 * liveTlsCredentials (from the built dist/), so that the CPU time of the server side can be read
 * apart from the clients' and the kubelet's. Protocol (IPC): the first message gives the files
 * and gets the ports; each `mark` gets this process's CPU time and event-loop use so far and the
 * servers' `tlsClientError` counts; `close` closes everything and exits.
 */
import { createServer, type Server as HttpsServer } from 'node:https';
import { liveTlsCredentials, type TlsCredentials } from 'ridethrough/credentials';

interface Files {
  cert: string;
  key: string;
}
/** The first message. */
export interface ServerSetup {
  fixed: { certPem: string; keyPem: string };
  staticFiles: Files;
  rotatedFiles: Files;
}
/** The answer to `mark`. */
export interface ServerMark {
  /** User + system CPU of this process so far, µs. */
  cpuUs: number;
  eventLoop: { idle: number; active: number; utilization: number };
  /** `tlsClientError` per server, by error code, so far. */
  refused: Array<Record<string, number>>;
}

function listen(server: HttpsServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
      else resolve(address.port);
    });
  });
}

const send = (message: unknown): void => void process.send!(message);

process.once('message', async (setup: ServerSetup) => {
  const handler = (_request: unknown, response: { end(body: string): void }): void => response.end('ok');
  const credentials: TlsCredentials[] = [
    await liveTlsCredentials(setup.staticFiles, { name: 'static' }),
    await liveTlsCredentials(setup.rotatedFiles, { name: 'rotated' }),
  ];
  const servers = [createServer({ cert: setup.fixed.certPem, key: setup.fixed.keyPem }, handler), createServer(handler), createServer(handler)];
  credentials[0]!.attach(servers[1]!);
  credentials[1]!.attach(servers[2]!);
  const refused: Array<Record<string, number>> = servers.map((server) => {
    const byCode: Record<string, number> = {};
    server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
      const key = error.code ?? error.message;
      byCode[key] = (byCode[key] ?? 0) + 1;
    });
    return byCode;
  });
  const ports = await Promise.all(servers.map(listen));
  process.on('message', async (message: 'mark' | 'close') => {
    if (message === 'mark') {
      const cpu = process.cpuUsage();
      const mark: ServerMark = { cpuUs: cpu.user + cpu.system, eventLoop: performance.eventLoopUtilization(), refused };
      send(mark);
      return;
    }
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all(credentials.map((c) => c.close()));
    send('closed');
    process.disconnect();
  });
  send({ ports });
});
