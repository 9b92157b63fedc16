/**
 * Scenario 6, serving-cert-rotation: an admission webhook (or a kubelet's serving endpoint)
 * serves HTTPS with a certificate that cert-manager renews in a Secret, which the kubelet
 * projects into the pod with a `..data` swap. A server that reads `tls.crt` and `tls.key` once at
 * start serves its first certificate until it expires, and then fails every handshake until it
 * is restarted. A server that re-reads them file by file can pair the certificate of one
 * generation with the key of another, and a careless rotation (the new certificate beside the old
 * key for a moment) or a restored old Secret (an expired certificate) takes it down.
 *
 * With ridethrough: `liveTlsCredentials` loads the pair as one generation (readFilesWithRetry),
 * `attach(server)` calls `setSecureContext` at every change, so new handshakes get the new
 * certificate while clients keep calling; a certificate beside the wrong key is held back until
 * its own key arrives, and an expired one is refused with the last good pair kept.
 *
 * Run it alone: `node --import tsx examples/serving-cert-rotation.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { subscribe } from 'ridethrough';
import { formatReport, readinessGate } from 'ridethrough/gate';
import { liveTlsCredentials, type CredentialsRejectedEvent, type TlsCredentials } from 'ridethrough/credentials';
import { projectVolume, type KubeletVolume } from 'ridethrough/testing';
import { createCertificateAuthority, issueLeaf, type CertificatePair } from './support/certs.js';
import { runStandalone } from './support/runner.js';
import { deferred, formatMs, isMain, messageOf, pause, Tally, within, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'serving-cert-rotation';
export const title = 'a webhook serves HTTPS while its serving certificate is rotated under it';

/** Serving certificates issued in all: the first one and four renewals. */
const GENERATIONS = 5;
/** cert-manager renews at two thirds of a 90-day lifetime; 300 ms apart keeps the demo short. */
const ROTATION_GAP_MS = 300;
/** How long the careless rotation leaves the new certificate beside the old key. */
const MISMATCH_MS = 300;
/** Clients calling the webhook in a loop, one new TLS connection per call. */
const CLIENTS = 3;
/** The promise this scenario checks: new handshakes get a new certificate within a second of its swap. */
const SERVE_BOUND_MS = 1_000;

/** The Secret's payload as the kubelet projects it. */
const secret = (cert: CertificatePair, key: CertificatePair = cert): Record<string, string> => ({ 'tls.crt': cert.certPem, 'tls.key': key.keyPem });
const short = (fingerprint: string): string => `${fingerprint.slice(0, 11)}...`;

/** One call to the webhook on a new connection; resolves with the fingerprint of the certificate it was served. */
function call(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host: '127.0.0.1', port, path: '/validate', method: 'POST', agent: false, ca }, (response) => {
      const fingerprint = (response.socket as TLSSocket).getPeerCertificate().fingerprint256;
      response.resume();
      response.once('error', reject);
      response.once('end', () => resolve(fingerprint));
    });
    request.once('error', reject);
    request.end('{"kind":"AdmissionReview"}');
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function shut(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Clients calling in a loop until stopped: when each certificate was first served, and every failure. */
function callInLoop(port: number, ca: string) {
  const firstSeen = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const failures: string[] = [];
  let calls = 0;
  let stopped = false;
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (!stopped) {
      try {
        const fingerprint = await call(port, ca);
        calls++;
        if (!firstSeen.has(fingerprint)) {
          firstSeen.set(fingerprint, performance.now());
          waiting.get(fingerprint)?.();
        }
      } catch (error) {
        failures.push(messageOf(error));
      }
    }
  });
  return {
    firstSeen,
    failures,
    get calls() {
      return calls;
    },
    /** Resolves once a client has been served the certificate with this fingerprint. */
    served(fingerprint: string): Promise<void> {
      if (firstSeen.has(fingerprint)) return Promise.resolve();
      const { promise, resolve } = deferred();
      waiting.set(fingerprint, resolve);
      return promise;
    },
    async stop(): Promise<void> {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const work = await mkdtemp(join(tmpdir(), 'ridethrough-serving-cert-rotation-'));
  const servers: Server[] = [];
  let volume: KubeletVolume | undefined;
  let tls: TlsCredentials | undefined;
  let clients: ReturnType<typeof callInLoop> | undefined;

  // The re-reads that were held back (a certificate beside the wrong key), seen on the retry channel.
  const heldBack: string[] = [];
  const unsubscribe = subscribe('ridethrough:retry:retry', (event) => {
    if (event.name !== 'webhook') return;
    tally.attempt();
    heldBack.push(event.verdict.reason);
  });
  const rejections: CredentialsRejectedEvent[] = [];
  let rejected = deferred();

  try {
    tally.state('making a CA and serving certificates with openssl');
    const ca = await createCertificateAuthority(join(work, 'ca'), withSignal(signal));
    const leaf = { commonName: 'webhook.demo.svc', subjectAltName: 'IP:127.0.0.1,DNS:webhook.demo.svc', ...withSignal(signal) };
    const generations: CertificatePair[] = [];
    for (let i = 1; i <= GENERATIONS; i++) generations.push(await issueLeaf(ca, `webhook-${i}`, leaf));
    // A real certificate that expired long ago: an old Secret restored from a backup.
    const expired = await issueLeaf(ca, 'restored', { ...leaf, startDate: '20240101000000Z', endDate: '20240102000000Z' });
    const number = new Map(generations.map((pair, i) => [pair.fingerprint, `#${i + 1}`]));
    log(`openssl made a CA, ${GENERATIONS} serving certificates for 127.0.0.1 and one that expired on 2024-01-02`);

    tally.state('loading the serving certificate');
    volume = await projectVolume(secret(generations[0]!), { dir: join(work, 'webhook-tls') });
    tls = await liveTlsCredentials(
      { cert: volume.path('tls.crt'), key: volume.path('tls.key') },
      {
        name: 'webhook',
        onChange: () => tally.attempt(),
        onRejected: (event) => {
          tally.attempt();
          rejections.push(event);
          rejected.resolve();
        },
        ...withSignal(signal),
      },
    );
    const server = createServer((_request, response) => response.end('{"allowed":true}'));
    servers.push(server);
    tls.attach(server); // the current pair now, and every new one at its change
    const port = await listen(server);
    // The usual way: the files read once, at start.
    const first = generations[0]!;
    const naive = createServer({ cert: first.certPem, key: first.keyPem }, (_request, response) => response.end('{"allowed":true}'));
    servers.push(naive);
    const naivePort = await listen(naive);

    clients = callInLoop(port, ca.certPem);
    await within(5_000, 'the first certificate served', clients.served(first.fingerprint), signal);
    log(`webhook on 127.0.0.1:${port} serves certificate #1 (${short(first.fingerprint)}); ${CLIENTS} clients call it in a loop`);
    tally.state('serving while the certificate rotates');

    const latencies: number[] = [];
    // Once a client has been served a new certificate, every later connection must get it too.
    let staleAfterSwap = 0;
    /** Projects `pair` with its own key and waits until a client is served it. */
    const rotateTo = async (pair: CertificatePair, what: string): Promise<void> => {
      const { renamedAt } = await volume!.update(secret(pair));
      await within(5_000, `certificate ${number.get(pair.fingerprint)} served`, clients!.served(pair.fingerprint), signal);
      const latency = Math.round(clients!.firstSeen.get(pair.fingerprint)! - renamedAt);
      latencies.push(latency);
      if ((await call(port, ca.certPem)) !== pair.fingerprint) staleAfterSwap++;
      log(`${what}; new handshakes got it ${formatMs(latency)} after the ..data swap`);
    };

    // 2: an ordinary renewal.
    await pause(ROTATION_GAP_MS, signal);
    tally.fault('certificate renewed');
    await rotateTo(generations[1]!, 'cert-manager renewed the certificate (#2)');

    // 3: a careless rotation: the new certificate lands first, its key a moment later.
    await pause(ROTATION_GAP_MS, signal);
    const third = generations[2]!;
    tally.fault('new certificate beside the old key', 'a careless rotation: tls.crt of #3 projected beside the key of #2');
    const heldBefore = heldBack.length;
    await volume.update(secret(third, generations[1]!));
    await pause(MISMATCH_MS, signal);
    const heldReasons = [...new Set(heldBack.slice(heldBefore))].join(', ');
    log(`for ${MISMATCH_MS} ms the re-read was held back ${heldBack.length - heldBefore} times (${heldReasons || 'no retry seen'}); #2 went on being served`);
    const mismatchServed = clients.firstSeen.has(third.fingerprint);
    await rotateTo(third, 'its key followed (#3)');

    // 4: an ordinary renewal.
    await pause(ROTATION_GAP_MS, signal);
    tally.fault('certificate renewed');
    await rotateTo(generations[3]!, 'cert-manager renewed the certificate (#4)');

    // An expired certificate: refused, the last good pair kept.
    await pause(ROTATION_GAP_MS, signal);
    tally.fault('expired certificate restored', 'an old Secret restored from a backup: its certificate expired on 2024-01-02');
    // The mismatch above was ridden through: nothing refused before this.
    const refusedBeforeExpired = rejections.length;
    rejected = deferred();
    await volume.update(secret(expired));
    await within(5_000, 'the expired certificate refused', rejected.promise, signal);
    const stillServed = await call(port, ca.certPem);
    log(`refused (${messageOf(rejections.at(-1)!.error)}); still serving ${number.get(stillServed) ?? short(stillServed)}`);

    // 5: the renewal after it is served as any other.
    await pause(ROTATION_GAP_MS, signal);
    tally.fault('certificate renewed');
    await rotateTo(generations[4]!, 'cert-manager renewed the certificate (#5)');

    await clients.stop();
    const { calls, failures } = clients;
    const servedInOrder = [...clients.firstSeen.keys()].map((fingerprint) => number.get(fingerprint) ?? short(fingerprint));
    log(`clients: ${calls} calls, ${failures.length} failed handshakes; served ${servedInOrder.join(', ')}`);
    const naiveServed = await call(naivePort, ca.certPem);
    log(`a server that read its files once still serves ${number.get(naiveServed) ?? short(naiveServed)} after ${GENERATIONS - 1} renewals, until it expires`);
    // The readiness probe of the webhook: fails once the certificate in use has expired.
    const gate = readinessGate({ checks: { 'serving certificate': tls.check } });
    const report = await gate.evaluate(undefined);
    for (const line of formatReport(report).split('\n')) log(`readyz: ${line.trim()}`);

    const worst = Math.max(...latencies);
    const ok =
      failures.length === 0 &&
      generations.every((pair) => clients!.firstSeen.has(pair.fingerprint)) &&
      !clients.firstSeen.has(expired.fingerprint) &&
      !mismatchServed &&
      staleAfterSwap === 0 &&
      latencies.every((ms) => ms <= SERVE_BOUND_MS) &&
      stillServed === generations[3]!.fingerprint &&
      refusedBeforeExpired === 0 &&
      rejections.length > 0 &&
      naiveServed === first.fingerprint &&
      tls.certificate.fingerprint256 === generations.at(-1)!.fingerprint &&
      report.ready;
    tally.state(ok ? 'done' : 'unexpected result');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `served each new certificate within ${formatMs(worst)} of its swap, 0 of ${calls} handshakes failed; held back the mismatched pair, refused the expired one`,
      recoveredInMs: worst,
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: 'the longest time from a ..data swap to a client served the new certificate',
        latencies,
        calls,
        failures,
        served: servedInOrder,
        heldBack: heldBack.length,
        mismatchServed,
        staleAfterSwap,
        expiredServed: clients.firstSeen.has(expired.fingerprint),
        refusedBeforeExpired,
        rejections: rejections.length,
        stillServed: number.get(stillServed) ?? stillServed,
        naiveServed: number.get(naiveServed) ?? naiveServed,
        ready: report.ready,
        readyDetail: report.results[0]?.detail,
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    unsubscribe();
    await clients?.stop();
    await Promise.all(servers.map(shut));
    await tls?.close();
    await volume?.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
