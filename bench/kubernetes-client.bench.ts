/**
 * The cost of makeApiClient's resilient transport on a call that succeeds: client-node's own
 * client against makeApiClient's, both calling the same local stand-in API server (a `node:http`
 * server on 127.0.0.1 answering a list of 10 pods), in interleaved rounds. The limiter is taken
 * out of the way (no limiter, or one too fast to wait) so what is measured is the transport's
 * per-call work: a retry() frame, classification only on failure, the body read in the transport.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { makeApiClient } from 'ridethrough/kubernetes';
import { createRateLimiter } from 'ridethrough/retry';
import { startKubeApiServer } from '../test/support/kube-api-server.js';
import { nsPerOpInterleaved, printTable, type Row } from './harness.js';

const pods = Array.from({ length: 10 }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `pod-${i}`, namespace: 'default', resourceVersion: String(100 + i), labels: { app: 'bench' } },
  spec: { containers: [{ name: 'main', image: 'registry.example/app:1.0' }] },
}));
const api = await startKubeApiServer({
  respond: () => ({ status: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '200' }, items: pods } }),
});
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'bench', server: api.url, skipTLSVerify: true }],
  users: [{ name: 'bench' }],
  contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
  currentContext: 'bench',
});

const plain = kc.makeApiClient(CoreV1Api);
const resilient = makeApiClient(kc, CoreV1Api, { rateLimiter: false });
const paced = makeApiClient(kc, CoreV1Api, { rateLimiter: createRateLimiter({ qps: 1e9, burst: 1e9 }) });

const cases: Array<[string, () => Promise<unknown>]> = [
  ["client-node kc.makeApiClient(CoreV1Api)", () => plain.listNamespacedPod({ namespace: 'default' })],
  ['makeApiClient, rateLimiter: false', () => resilient.listNamespacedPod({ namespace: 'default' })],
  ['makeApiClient, a limiter that never waits', () => paced.listNamespacedPod({ namespace: 'default' })],
];
const ns = await nsPerOpInterleaved(
  cases.map(([, fn]) => fn),
  { rounds: 15, minTimeMs: 300 },
);
const base = ns[0]!;
const rows: Row[] = cases.map(([name], i) => ({ name, value: ns[i]! / 1000, unit: 'us', ratio: ns[i]! / base }));
printTable('listNamespacedPod (10 pods) on a local stand-in, success (us per call, ratio to client-node)', rows);
await api.close();
