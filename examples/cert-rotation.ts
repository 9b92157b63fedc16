/**
 * Scenario 1, cert-rotation: a daemon loads its client certificate and key while a sidecar
 * rotates them in place. The files go missing for a moment, then exist but are empty, then the
 * certificate is half-written, then both are complete. A daemon that reads once at start crashes
 * (ENOENT), or worse, starts with an empty certificate that Node accepts without complaint.
 *
 * With ridethrough: readFilesWithRetry reads the key and the certificate as one generation and
 * retries each of those moments with backoff inside a 2-minute budget (a missing or empty file,
 * a half-written one, a key that does not match its certificate: all transient), parses the pair
 * with `tls.createSecureContext`, and logs "recovered after N attempts". A key file that is
 * complete but holds no private key is not a rotation in progress: its parse marks it
 * `permanent()` and the load fails at once instead of burning the budget.
 *
 * Run it alone: `node --import tsx examples/cert-rotation.ts`.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { classify, permanent } from 'ridethrough/classify';
import { readFilesWithRetry } from 'ridethrough/files';
import type { RetryEvent } from 'ridethrough/retry';
import { selfSignedPair } from './support/certs.js';
import { runStandalone } from './support/runner.js';
import { formatMs, isMain, messageOf, pause, since, Tally, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'cert-rotation';
export const title = 'a daemon loads its client certificate and key while they rotate';

/**
 * How long each stage of the rotation lasts. A real sidecar's rotation takes milliseconds to
 * seconds; stages of 400 ms let the demo show every one of them.
 */
const STAGE_MS = 400;

/** The client credentials, loaded. */
interface ClientCredentials {
  readonly context: SecureContext;
  /** SHA-256 fingerprint of the certificate that was loaded. */
  readonly fingerprint: string;
}

/**
 * Loads the key and certificate as one pair: both are read in every attempt, from one
 * generation, so a failure of either (missing, empty, half-written, from two different
 * rotations) retries the pair.
 */
function loadClientCredentials(
  keyPath: string,
  certPath: string,
  hooks: { onRetry?: (event: RetryEvent) => void; onRecovered?: (attempts: number) => void; signal: AbortSignal | undefined },
): Promise<ClientCredentials> {
  // Missing files (ENOENT) and empty ones (EmptyFileError: Node would accept an empty
  // certificate without a word) are a rotation in progress, retried before `parse` sees them.
  return readFilesWithRetry({ key: keyPath, cert: certPath }, {
    // The real budget: 2 minutes is how long a fresh node may wait for its certificate.
    deadlineMs: 120_000,
    // Compressed for the demo (defaults: 100 ms first wait, 5 s longest) so each stage is seen.
    initialDelayMs: 50,
    maxDelayMs: 200,
    parse: ({ key, cert }) => {
      const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(key.toString('latin1'))?.[1];
      if (label !== undefined && !label.endsWith('PRIVATE KEY')) {
        // A complete PEM block of another kind (the certificate copied where the key belongs) is
        // no rotation in progress: no amount of waiting will fix it.
        throw permanent(new Error(`${keyPath} holds a ${label} block and no private key; check the Secret's tls.key`));
      }
      // A half-written certificate throws ERR_OSSL_PEM_BAD_END_LINE, a half-written key
      // ERR_OSSL_UNSUPPORTED, a key and certificate from two rotations
      // ERR_OSSL_X509_KEY_VALUES_MISMATCH: what `parse` throws is retried, unless permanent.
      const context = createSecureContext({ key, cert });
      return { context, fingerprint: new X509Certificate(cert).fingerprint256 };
    },
    ...(hooks.onRetry === undefined ? {} : { onRetry: hooks.onRetry }),
    ...(hooks.onRecovered === undefined ? {} : { onRecovered: ({ attempts }) => hooks.onRecovered!(attempts) }),
    ...withSignal(hooks.signal),
  });
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const dir = await mkdtemp(join(tmpdir(), 'ridethrough-cert-rotation-'));
  // Stops the sidecar if the daemon fails first, so no timer outlives the scenario.
  const sidecar = new AbortController();
  const sidecarSignal = signal === undefined ? sidecar.signal : AbortSignal.any([signal, sidecar.signal]);
  let rotation: Promise<void> | undefined;
  try {
    tally.state('generating a P-256 key pair with openssl');
    const pair = await selfSignedPair(dir, 'issued', { commonName: 'node-agent', ...withSignal(signal) });
    log(`openssl made a self-signed P-256 pair (fingerprint ${pair.fingerprint.slice(0, 23)}...)`);
    const keyPath = join(dir, 'tls.key');
    const certPath = join(dir, 'tls.crt');

    // The sidecar rotates in place, file by file, with no atomic swap. At the start both files
    // are gone: the daemon starts in the middle of a rotation.
    rotation = (async () => {
      tally.fault('files missing', `sidecar: tls.key and tls.crt removed`);
      await pause(STAGE_MS, sidecarSignal);
      await Promise.all([writeFile(keyPath, ''), writeFile(certPath, '')]);
      tally.fault('files empty', 'sidecar: tls.key and tls.crt created, still empty');
      await pause(STAGE_MS, sidecarSignal);
      await writeFile(keyPath, pair.keyPem);
      await writeFile(certPath, pair.certPem.slice(0, Math.floor(pair.certPem.length / 2)));
      tally.fault('certificate half-written', 'sidecar: tls.key written, tls.crt half-written');
      await pause(STAGE_MS, sidecarSignal);
      await writeFile(certPath, pair.certPem);
      log('sidecar: tls.crt complete');
    })();
    // If the load fails first, the rotation's own failure (an abort) must not go unhandled.
    rotation.catch(() => {});

    tally.state('loading the client certificate');
    let lastReason = '';
    const started = performance.now();
    const loaded = await loadClientCredentials(keyPath, certPath, {
      signal,
      onRetry: ({ attempt, verdict, delayMs }) => {
        tally.attempt();
        tally.state(`retrying: ${verdict.reason}`);
        // One line per new reason: the same reason again is the same rotation stage.
        if (verdict.reason !== lastReason) log(`attempt ${attempt}: ${verdict.reason} (${verdict.kind}), next read in ${delayMs} ms`);
        lastReason = verdict.reason;
      },
      onRecovered: (attempts) => log(`recovered after ${attempts} attempts (${formatMs(since(started))})`),
    });
    tally.attempt(); // the read that succeeded
    const recoveredInMs = since(started);
    await rotation;
    const attempts = tally.attempts;
    log(`loaded certificate ${loaded.fingerprint.slice(0, 23)}... into a TLS context`);

    // A different fault: a file that is complete but wrong. Waiting cannot fix it.
    await writeFile(keyPath, pair.certPem);
    tally.fault('key file without a private key', 'operator error: the certificate was copied into tls.key');
    tally.state('loading a key-less file');
    const keylessStarted = performance.now();
    let keylessAttempts = 1;
    let keylessError: unknown;
    try {
      await loadClientCredentials(keyPath, certPath, { signal, onRetry: () => keylessAttempts++ });
    } catch (error) {
      keylessError = error;
    }
    tally.attempt();
    const keylessMs = since(keylessStarted);
    const verdict = classify(keylessError);
    const reason = messageOf(keylessError).replaceAll(`${dir}/`, '');
    log(`key-less file: failed at once after ${keylessAttempts} attempt in ${formatMs(keylessMs)} (${verdict.kind}): ${reason}`);

    const ok =
      loaded.fingerprint === pair.fingerprint &&
      attempts > 1 &&
      keylessError !== undefined &&
      keylessAttempts === 1 &&
      verdict.reason === 'marked permanent';
    tally.state(ok ? 'done' : 'unexpected result');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `retried missing, empty and half-written reads with backoff (${attempts} reads); failed the key-less file at once`,
      recoveredInMs,
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: 'from the first read to a loaded TLS context',
        attempts,
        fingerprint: loaded.fingerprint,
        expectedFingerprint: pair.fingerprint,
        keylessAttempts,
        keylessMs,
        keylessVerdict: verdict,
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    sidecar.abort();
    await rotation?.catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
