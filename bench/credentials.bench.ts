/**
 * liveTlsCredentials under rotation: TLS handshakes per second through an https server on
 * 127.0.0.1 whose certificate and key a kubelet-style volume (ridethrough/testing's
 * projectVolume) rotates every ~200 ms, against the same attached server whose files do not
 * change, and against a plain https server given a fixed certificate. Also: failed handshakes,
 * counted on both sides (client errors, the server's `tlsClientError`); the server thread's busy
 * time per handshake; and for each rotation the time from the `..data` swap to the first
 * handshake that presented the new certificate.
 *
 * Threads: the servers and their liveTlsCredentials run on the main thread; the clients in a
 * worker (`CLIENTS` concurrent loops of connect + full handshake, TLS 1.3, certificate verified
 * against the test CA, no session reuse, graceful close); the rotations in another worker
 * playing the kubelet (which is another process in a real pod), importing projectVolume from
 * the built dist/. The cases run in interleaved slices (`ROUNDS` rounds of one slice each, each
 * round starting with the next case), so a change in machine load colours every case alike.
 * Ratios are the median of each round's ratio to the baseline slice of the same round.
 *
 * Run: `npm run bench -- credentials` (or `node --expose-gc --import tsx bench/credentials.bench.ts`
 * with TSX_TSCONFIG_PATH=bench/tsconfig.json, after `npm run build`).
 * `CRED_BENCH_SLICE_MS`, `CRED_BENCH_ROUNDS`, `CRED_BENCH_CLIENTS` change the defaults
 * (1000 ms slices, 8 rounds, 8 concurrent clients).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server as HttpsServer } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { liveTlsCredentials, type TlsCredentials } from 'ridethrough/credentials';
import { projectVolume } from 'ridethrough/testing';
import { createCa, issue, type Issued } from '../test/support/certs.js';
import { median, percentile, printTable, type Row } from './harness.js';

const SLICE_MS = Number(process.env.CRED_BENCH_SLICE_MS ?? 1000);
const ROUNDS = Number(process.env.CRED_BENCH_ROUNDS ?? 8);
const CLIENTS = Number(process.env.CRED_BENCH_CLIENTS ?? 8);
const ROTATE_EVERY_MS = 200;
/** No swap in the last this many ms of a slice: the clients have that long to see it. */
const SERVE_WINDOW_MS = 400;
/** Server certificates to rotate through: more than the swaps of one slice, so each swap brings one not yet seen in it. */
const GENERATIONS = Math.ceil(SLICE_MS / ROTATE_EVERY_MS) + 2;

/** What the client worker reports for one slice. */
interface SliceResult {
  handshakes: number;
  failures: number;
  errors: Record<string, number>;
  /** Fingerprint -> first time (epoch ms, fractional) a handshake presented it in this slice. */
  firstSeen: Record<string, number>;
  elapsedMs: number;
}

/** The clients, in plain JavaScript for an `eval` worker: one slice per message. */
const CLIENT_CODE = `
const { parentPort } = require('node:worker_threads');
const { connect } = require('node:tls');
const now = () => performance.timeOrigin + performance.now();
parentPort.on('message', async ({ port, ca, durationMs, clients }) => {
  let handshakes = 0;
  let failures = 0;
  const errors = {};
  const firstSeen = {};
  const once = () => new Promise((resolve) => {
    let done = false;
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      if (!(fingerprint in firstSeen)) firstSeen[fingerprint] = now();
      handshakes++;
      done = true;
      // A graceful close, reading what the server still sends (TLS 1.3 session tickets): a
      // destroy() here would reset the connection under the server's feet.
      socket.end();
    });
    socket.resume();
    socket.once('close', () => resolve());
    socket.once('error', (error) => {
      if (done) return;
      done = true;
      failures++;
      const key = error.code ?? error.message;
      errors[key] = (errors[key] ?? 0) + 1;
      socket.destroy();
    });
  });
  const started = performance.now();
  const stopAt = started + durationMs;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < stopAt) await once();
  }));
  parentPort.postMessage({ handshakes, failures, errors, firstSeen, elapsedMs: performance.now() - started });
});
`;

/** One rotation, as kubelet projects a renewed Secret: cert and key swapped together. */
interface Swap {
  fingerprint: string;
  /** Epoch ms (fractional) of the rename of `..data_tmp` over `..data`. */
  swappedAt: number;
}

/**
 * The kubelet: projects the volume, then on each `{ forMs }` rotates it every ROTATE_EVERY_MS
 * for that long and answers with the swaps. projectVolume comes from the built dist/.
 */
const KUBELET_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { projectVolume } = await import(workerData.testingUrl);
  const { leaves, dir, everyMs } = workerData;
  const payload = (leaf) => ({ 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem });
  const volume = await projectVolume(payload(leaves[0]), { dir });
  let next = 1;
  parentPort.on('message', async ({ forMs }) => {
    const until = performance.now() + forMs;
    const swaps = [];
    while (performance.now() < until) {
      const started = performance.now();
      const leaf = leaves[next];
      next = (next + 1) % leaves.length;
      const { renamedAt } = await volume.update(payload(leaf));
      swaps.push({ fingerprint: leaf.fingerprint, swappedAt: performance.timeOrigin + renamedAt });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (performance.now() - started))));
    }
    parentPort.postMessage({ swaps });
  });
  parentPort.postMessage({ files: { cert: volume.path('tls.crt'), key: volume.path('tls.key') } });
})();
`;

/** A worker answering one message with one message. */
function asker<Q, A>(worker: Worker): (question: Q) => Promise<A> {
  let pending: { resolve: (answer: A) => void; reject: (error: unknown) => void } | undefined;
  worker.on('message', (answer: A) => pending?.resolve(answer));
  worker.on('error', (error) => pending?.reject(error));
  return (question) =>
    new Promise((resolve, reject) => {
      pending = { resolve, reject };
      worker.postMessage(question);
    });
}

interface Case {
  name: string;
  server: HttpsServer;
  port: number;
  /** Runs during each slice for `forMs` (the kubelet's rotations); resolves with the swaps. */
  during?: (forMs: number) => Promise<Swap[]>;
  rates: number[];
  /** Busy time of the server's thread (this one) per handshake, µs, each slice. */
  busyUs: number[];
  /** Server thread utilization, each slice. */
  utilization: number[];
  handshakes: number;
  failures: number;
  errors: Record<string, number>;
  /** Handshakes the server refused (`tlsClientError`), by error code. */
  serverErrors: Record<string, number>;
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

async function newCase(name: string, server: HttpsServer, during?: Case['during']): Promise<Case> {
  const c: Case = { name, server, port: await listen(server), rates: [], busyUs: [], utilization: [], handshakes: 0, failures: 0, errors: {}, serverErrors: {} };
  if (during !== undefined) c.during = during;
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
    const key = error.code ?? error.message;
    c.serverErrors[key] = (c.serverErrors[key] ?? 0) + 1;
  });
  return c;
}

const count = (byCode: Record<string, number>): number => Object.values(byCode).reduce((sum, n) => sum + n, 0);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ridethrough-cred-bench-'));
  const ca = await createCa(join(dir, 'ca'));
  const leaves: Issued[] = [];
  // `openssl ca` keeps a serial file: one leaf at a time.
  for (let i = 0; i < GENERATIONS; i++) leaves.push(await issue(ca, `server-${i}`, { commonName: `server-${i}`, subjectAltName: 'IP:127.0.0.1' }));
  const first = leaves[0]!;

  const staticVolume = await projectVolume({ 'tls.crt': first.certPem, 'tls.key': first.keyPem }, { dir: join(dir, 'static') });
  const kubelet = new Worker(KUBELET_CODE, {
    eval: true,
    workerData: {
      testingUrl: new URL('../dist/testing/index.js', import.meta.url).href,
      dir: join(dir, 'rotated'),
      everyMs: ROTATE_EVERY_MS,
      leaves: leaves.map(({ certPem, keyPem, fingerprint }) => ({ certPem, keyPem, fingerprint })),
    },
  });
  const rotatedFiles = await new Promise<{ cert: string; key: string }>((resolve, reject) => {
    kubelet.once('message', (message: { files: { cert: string; key: string } }) => resolve(message.files));
    kubelet.once('error', reject);
  });
  const rotate = asker<{ forMs: number }, { swaps: Swap[] }>(kubelet);

  const staticTls: TlsCredentials = await liveTlsCredentials({ cert: staticVolume.path('tls.crt'), key: staticVolume.path('tls.key') }, { name: 'static' });
  const rotatedTls: TlsCredentials = await liveTlsCredentials(rotatedFiles, { name: 'rotated' });

  const handler = (_request: unknown, response: { end(body: string): void }): void => response.end('ok');
  const fixed = await newCase('plain https server, fixed certificate (baseline)', createServer({ cert: first.certPem, key: first.keyPem }, handler));
  const attachedServer = createServer(handler);
  staticTls.attach(attachedServer);
  const attached = await newCase('liveTlsCredentials attached, files unchanged', attachedServer);
  const rotatingServer = createServer(handler);
  rotatedTls.attach(rotatingServer);
  const rotating = await newCase(`liveTlsCredentials attached, rotated every ${ROTATE_EVERY_MS} ms`, rotatingServer, async (forMs) => (await rotate({ forMs })).swaps);
  const cases = [fixed, attached, rotating];

  const clients = new Worker(CLIENT_CODE, { eval: true });
  const slice = asker<{ port: number; ca: string; durationMs: number; clients: number }, SliceResult>(clients);

  // Warm-up: a slice of each, not counted.
  for (const c of cases) await slice({ port: c.port, ca: ca.certPem, durationMs: 1000, clients: CLIENTS });

  /** Swap -> first handshake presenting it, ms; a swap no handshake presented (a newer one came first) is "not served". */
  const latencies: number[] = [];
  const swaps: Swap[] = [];
  let notServed = 0;
  const loadBefore = loadavg()[0]!;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length]!;
      const loopBefore = performance.eventLoopUtilization();
      // The last swap of a slice comes SERVE_WINDOW_MS before its end, so that every swap can be seen.
      const during = c.during?.(SLICE_MS - SERVE_WINDOW_MS);
      const result = await slice({ port: c.port, ca: ca.certPem, durationMs: SLICE_MS, clients: CLIENTS });
      const loop = performance.eventLoopUtilization(loopBefore);
      const sliceSwaps = (await during) ?? [];
      c.rates.push(result.handshakes / (result.elapsedMs / 1000));
      c.utilization.push(loop.utilization);
      c.busyUs.push((loop.active * 1000) / Math.max(1, result.handshakes));
      c.handshakes += result.handshakes;
      c.failures += result.failures;
      for (const [key, n] of Object.entries(result.errors)) c.errors[key] = (c.errors[key] ?? 0) + n;
      for (const swap of sliceSwaps) {
        swaps.push(swap);
        const seen = result.firstSeen[swap.fingerprint];
        if (seen === undefined) notServed++;
        else latencies.push(Math.max(0, seen - swap.swappedAt));
      }
    }
  }
  const loadAfter = loadavg()[0]!;

  /** The median over the rounds of `of(case) / of(baseline)`, both from the same round. */
  const pairedRatio = (values: (c: Case) => number[], c: Case): number => median(values(c).map((value, round) => value / values(fixed)[round]!));
  printTable(
    `TLS handshakes per second, ${CLIENTS} concurrent clients, ${ROUNDS} interleaved ${SLICE_MS} ms slices per case (median; ratio: median of the per-round ratios); load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
    cases.map((c): Row => ({
      name: c.name,
      value: median([...c.rates]),
      unit: 'hs/s',
      ratio: pairedRatio((x) => x.rates, c),
      note: `slices ${c.rates.map((rate) => Math.round(rate)).join(', ')}`,
    })),
  );
  printTable(
    'Server thread busy time per handshake (event-loop active time / handshakes; the kubelet runs in another thread)',
    cases.map((c): Row => ({
      name: c.name,
      value: median([...c.busyUs]),
      unit: 'µs',
      ratio: pairedRatio((x) => x.busyUs, c),
      note: `server thread ${Math.round(median([...c.utilization]) * 100)}% busy`,
    })),
  );
  printTable(
    'Failed handshakes (client errors; the server\'s tlsClientError in the note)',
    cases.map((c): Row => ({
      name: c.name,
      value: c.failures,
      unit: 'failed',
      note: `of ${(c.handshakes + c.failures).toLocaleString('en-US')} attempts; server tlsClientError ${count(c.serverErrors)}${
        count(c.errors) + count(c.serverErrors) === 0 ? '' : `; client ${JSON.stringify(c.errors)}, server ${JSON.stringify(c.serverErrors)}`
      }`,
    })),
  );
  printTable(`Rotations: ..data swap -> first handshake presenting the new certificate (${swaps.length} swaps)`, [
    { name: 'p50', value: percentile([...latencies], 50), unit: 'ms' },
    { name: 'p99', value: percentile([...latencies], 99), unit: 'ms' },
    { name: 'max', value: percentile([...latencies], 100), unit: 'ms' },
    { name: 'swaps no handshake presented (superseded first)', value: notServed, unit: 'swaps', note: `of ${swaps.length}` },
  ]);

  await Promise.all([clients.terminate(), kubelet.terminate()]);
  for (const c of cases) {
    c.server.closeAllConnections();
    await new Promise<void>((resolve) => c.server.close(() => resolve()));
  }
  await Promise.all([staticTls.close(), rotatedTls.close()]);
  await staticVolume.cleanup();
  await rm(dir, { recursive: true, force: true });
}

await main();
