/**
 * liveTlsCredentials under rotation: TLS handshakes per second through an https server on
 * 127.0.0.1 whose certificate and key a kubelet-style volume (ridethrough/testing's
 * projectVolume) rotates every ~200 ms, against the same attached server whose files do not
 * change, and against a plain https server given a fixed certificate. Also: the server
 * process's CPU time per handshake, failed handshakes counted on both sides (client errors, the
 * server's `tlsClientError`), and for each rotation the time from the `..data` swap to the
 * first handshake that presented the new certificate.
 *
 * Processes: the servers and their liveTlsCredentials run in a process of their own
 * (bench/credentials-server.ts, forked), so that their CPU time is theirs alone; this process
 * plays the kubelet (the rotations) and runs the clients in a worker thread (`CLIENTS`
 * concurrent loops of connect + full handshake, TLS 1.3, certificate verified against the test
 * CA, no session reuse, graceful close). The cases run in interleaved slices (`ROUNDS` rounds of
 * one slice each, each round starting with the next case), so a change in machine load colours
 * every case alike; ratios are the median of each round's ratio to the baseline slice of that
 * round.
 *
 * Run: `npm run bench -- credentials` (or `node --expose-gc --import tsx bench/credentials.bench.ts`
 * with TSX_TSCONFIG_PATH=bench/tsconfig.json, after `npm run build`).
 * `CRED_BENCH_SLICE_MS`, `CRED_BENCH_ROUNDS`, `CRED_BENCH_CLIENTS` change the defaults
 * (1000 ms slices, 8 rounds, 8 concurrent clients).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { projectVolume, type KubeletVolume } from 'ridethrough/testing';
import { createCa, issue, type Issued } from '../test/support/certs.js';
import type { ServerMark, ServerSetup } from './credentials-server.js';
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

/** A worker or child process answering one message with one message. */
function asker<Q, A>(peer: Worker | ChildProcess): (question: Q) => Promise<A> {
  let pending: { resolve: (answer: A) => void; reject: (error: unknown) => void } | undefined;
  peer.on('message', (answer: A) => pending?.resolve(answer));
  peer.on('error', (error) => pending?.reject(error));
  peer.on('exit', (code) => pending?.reject(new Error(`exited with ${code}`)));
  return (question) =>
    new Promise((resolve, reject) => {
      pending = { resolve, reject };
      if (peer instanceof Worker) peer.postMessage(question);
      else peer.send(question as object);
    });
}

/** Rotates `volume` every ROTATE_EVERY_MS for `forMs`, as the kubelet projects a renewed Secret (cert and key swapped together). */
async function rotate(volume: KubeletVolume, leaves: readonly Issued[], forMs: number, state: { next: number }): Promise<Swap[]> {
  const until = performance.now() + forMs;
  const swaps: Swap[] = [];
  while (performance.now() < until) {
    const started = performance.now();
    const leaf = leaves[state.next]!;
    state.next = (state.next + 1) % leaves.length;
    const { renamedAt } = await volume.update({ 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem });
    swaps.push({ fingerprint: leaf.fingerprint, swappedAt: performance.timeOrigin + renamedAt });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, ROTATE_EVERY_MS - (performance.now() - started))));
  }
  return swaps;
}

interface Case {
  name: string;
  port: number;
  /** Runs during each slice for `forMs` (the kubelet's rotations); resolves with the swaps. */
  during?: (forMs: number) => Promise<Swap[]>;
  rates: number[];
  /** CPU time of the server process per handshake, µs, each slice. */
  cpuUs: number[];
  /** Server event-loop utilization, each slice. */
  utilization: number[];
  handshakes: number;
  failures: number;
  errors: Record<string, number>;
  /** Handshakes the server refused (`tlsClientError`), by error code. */
  serverErrors: Record<string, number>;
}

const count = (byCode: Record<string, number>): number => Object.values(byCode).reduce((sum, n) => sum + n, 0);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ridethrough-cred-bench-'));
  const ca = await createCa(join(dir, 'ca'));
  const leaves: Issued[] = [];
  // `openssl ca` keeps a serial file: one leaf at a time.
  for (let i = 0; i < GENERATIONS; i++) leaves.push(await issue(ca, `server-${i}`, { commonName: `server-${i}`, subjectAltName: 'IP:127.0.0.1' }));
  const first = leaves[0]!;

  const payload = (leaf: Issued): Record<string, string> => ({ 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem });
  const staticVolume = await projectVolume(payload(first), { dir: join(dir, 'static') });
  const rotatedVolume = await projectVolume(payload(first), { dir: join(dir, 'rotated') });
  const filesOf = (volume: KubeletVolume) => ({ cert: volume.path('tls.crt'), key: volume.path('tls.key') });

  // The child inherits this process's `--import tsx` and TSX_TSCONFIG_PATH: it imports dist/ too.
  const serverProcess = fork(fileURLToPath(new URL('./credentials-server.ts', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const server = asker<ServerSetup | 'mark' | 'close', unknown>(serverProcess);
  const setup: ServerSetup = { fixed: { certPem: first.certPem, keyPem: first.keyPem }, staticFiles: filesOf(staticVolume), rotatedFiles: filesOf(rotatedVolume) };
  const { ports } = (await server(setup)) as { ports: number[] };
  const mark = async (): Promise<ServerMark> => (await server('mark')) as ServerMark;

  const newCase = (name: string, port: number): Case => ({ name, port, rates: [], cpuUs: [], utilization: [], handshakes: 0, failures: 0, errors: {}, serverErrors: {} });
  const fixed = newCase('plain https server, fixed certificate (baseline)', ports[0]!);
  const attached = newCase('liveTlsCredentials attached, files unchanged', ports[1]!);
  const rotating = newCase(`liveTlsCredentials attached, rotated every ${ROTATE_EVERY_MS} ms`, ports[2]!);
  const rotation = { next: 1 };
  rotating.during = (forMs) => rotate(rotatedVolume, leaves, forMs, rotation);
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
      const before = await mark();
      // The last swap of a slice comes SERVE_WINDOW_MS before its end, so that every swap can be seen.
      const during = c.during?.(SLICE_MS - SERVE_WINDOW_MS);
      const result = await slice({ port: c.port, ca: ca.certPem, durationMs: SLICE_MS, clients: CLIENTS });
      const sliceSwaps = (await during) ?? [];
      const after = await mark();
      c.rates.push(result.handshakes / (result.elapsedMs / 1000));
      c.utilization.push(performance.eventLoopUtilization(after.eventLoop, before.eventLoop).utilization);
      c.cpuUs.push((after.cpuUs - before.cpuUs) / Math.max(1, result.handshakes));
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
  // The cost of a rotation alone: the server process's CPU while the kubelet rotates and no
  // client connects, against the same time with nothing happening.
  const IDLE_ROUNDS = 3;
  let idleCpuUs = 0;
  let rotatingCpuUs = 0;
  let idleSwaps = 0;
  for (let round = 0; round < IDLE_ROUNDS; round++) {
    let before = await mark();
    await new Promise((resolve) => setTimeout(resolve, SLICE_MS));
    idleCpuUs += (await mark()).cpuUs - before.cpuUs;
    before = await mark();
    idleSwaps += (await rotate(rotatedVolume, leaves, SLICE_MS - ROTATE_EVERY_MS / 2, rotation)).length;
    rotatingCpuUs += (await mark()).cpuUs - before.cpuUs;
  }
  const loadAfter = loadavg()[0]!;
  const final = await mark();
  cases.forEach((c, i) => (c.serverErrors = final.refused[i]!));

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
    'Server process CPU time per handshake (user + system; the kubelet and the clients run in the bench process)',
    cases.map((c): Row => ({
      name: c.name,
      value: median([...c.cpuUs]),
      unit: 'µs',
      ratio: pairedRatio((x) => x.cpuUs, c),
      note: `server event loop ${Math.round(median([...c.utilization]) * 100)}% busy; slices ${c.cpuUs.map((us) => Math.round(us)).join(', ')}`,
    })),
  );
  printTable(`Server process CPU time per rotation, no clients (${idleSwaps} swaps in ${IDLE_ROUNDS} slices, against as many idle slices)`, [
    { name: 'idle, files unchanged', value: idleCpuUs / 1000 / ((IDLE_ROUNDS * SLICE_MS) / 1000), unit: 'ms/s' },
    { name: 'per rotation, above idle', value: (rotatingCpuUs - idleCpuUs) / 1000 / Math.max(1, idleSwaps), unit: 'ms', note: 'read both files as one generation, parse, check, two secure contexts' },
  ]);
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

  await server('close');
  await clients.terminate();
  await Promise.all([staticVolume.cleanup(), rotatedVolume.cleanup()]);
  await rm(dir, { recursive: true, force: true });
}

await main();
