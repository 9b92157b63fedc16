/**
 * The fake API server and its writer for the events-per-second cases of
 * bench/kubernetes-informer.bench.ts, in a child process, so that the informer's process spends
 * its CPU on the informer alone. Driven over IPC: each message `{ id, op, ... }` is answered with
 * `{ id, value }` (or `{ id, error }`).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from 'ridethrough/testing';
import { podBody, resources } from './kubernetes-informer-support.js';

export type ServerOp =
  | { op: 'start' }
  | { op: 'watchCount' }
  | { op: 'resourceVersion' }
  | { op: 'write'; n: number; live: boolean }
  | { op: 'close' }
  | { op: 'exit' };

let api: FakeApiServer | undefined;

/** N creates then N updates, yielding to the event loop every 100 writes when `live`. */
async function write(server: FakeApiServer, n: number, live: boolean): Promise<void> {
  const created: FakeObject[] = [];
  for (let i = 0; i < n; i++) {
    created.push(server.create('pods', podBody(i)));
    if (live && i % 100 === 99) await yieldToLoop();
  }
  for (let i = 0; i < n; i++) {
    const pod = created[i]!;
    server.update('pods', { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, generation: '2' } } });
    if (live && i % 100 === 99) await yieldToLoop();
  }
}

async function handle(message: ServerOp): Promise<unknown> {
  switch (message.op) {
    case 'start':
      await api?.close();
      api = await startFakeApiServer({ resources: [...resources] });
      return api.kubeConfigOptions();
    case 'watchCount':
      return api!.watchCount;
    case 'resourceVersion':
      return api!.resourceVersion;
    case 'write':
      await write(api!, message.n, message.live);
      return null;
    case 'close':
      await api?.close();
      api = undefined;
      return null;
    case 'exit':
      await api?.close();
      return process.exit(0);
  }
}

process.on('message', (message: ServerOp & { id: number }) => {
  handle(message).then(
    (value) => process.connected && process.send!({ id: message.id, value }),
    (error: unknown) => process.connected && process.send!({ id: message.id, error: String(error) }),
  );
});
