/** Starting test servers on loopback, the only network tests may use. */
import type { Server } from 'node:net';

/** Listens on an ephemeral port of 127.0.0.1 and resolves with the port (rejects on a listen error). */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listenOnLoopback: no TCP address');
  return address.port;
}
