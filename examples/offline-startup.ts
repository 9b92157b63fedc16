/**
 * Scenario 3, offline-startup: a webhook handler must start while the API server is unreachable
 * (a control-plane upgrade, a network policy not applied yet). A handler that fetches its
 * configuration from the API at start crash-loops until the API is back, and every restart makes
 * the outage longer for everyone who calls it.
 *
 * With ridethrough: the handler starts from its mounted ConfigMap through liveConfig (a local
 * read, retried if the file is caught mid-rotation), serves at once, and keeps talking to the API
 * in the background with backoff. It reloads when the kubelet updates the volume, keeps the last
 * good configuration when a new one is malformed, and prints the content hash an operator would
 * stamp on the pod template (so pods roll when, and only when, the configuration changes).
 *
 * Run it alone: `node --import tsx examples/offline-startup.ts`.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { classify } from 'ridethrough/classify';
import { contentHash } from 'ridethrough/files';
import { retry } from 'ridethrough/retry';
import { liveConfig, type LiveConfig } from 'ridethrough/watch';
import { KubeletVolume } from 'ridethrough/testing';
import { fetchJson } from './support/http.js';
import { runStandalone } from './support/runner.js';
import { deferred, formatMs, isMain, messageOf, pause, since, Tally, within, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'offline-startup';
export const title = 'a handler starts with the API server unreachable, from its mounted config';

/** The handler's configuration, as mounted from its ConfigMap. */
interface HandlerConfig {
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly allowedNamespaces: readonly string[];
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

/** Time between the ConfigMap updates, so the API sync's retries show in between. */
const STEP_MS = 300;

/** JSON, then a schema check: a version that fails either is rejected and the last good one stays. */
function parseConfig(text: string): HandlerConfig {
  const value = JSON.parse(text) as Partial<HandlerConfig>;
  if (typeof value.logLevel !== 'string' || !LOG_LEVELS.includes(value.logLevel)) {
    throw new TypeError(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value.logLevel)}`);
  }
  if (!Array.isArray(value.allowedNamespaces)) throw new TypeError('allowedNamespaces must be a list');
  return value as HandlerConfig;
}

const versions = {
  v1: JSON.stringify({ logLevel: 'info', allowedNamespaces: ['default'] }, null, 2),
  v2: JSON.stringify({ logLevel: 'debug', allowedNamespaces: ['default', 'payments'] }, null, 2),
  /** Someone edited the ConfigMap by hand and left it cut short. */
  malformed: '{\n  "logLevel": "warn",\n  "allowedNamespaces": ["default", ',
  v3: JSON.stringify({ logLevel: 'warn', allowedNamespaces: ['default', 'payments', 'search'] }, null, 2),
};

/** A loopback port where nothing listens: connections to it are refused, as to a server that is down. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const stopSync = new AbortController();
  const syncSignal = signal === undefined ? stopSync.signal : AbortSignal.any([signal, stopSync.signal]);
  let volume: KubeletVolume | undefined;
  let config: LiveConfig<HandlerConfig> | undefined;
  let handler: Server | undefined;
  let apiSync: Promise<unknown> | undefined;
  try {
    const apiUrl = `http://127.0.0.1:${await closedPort()}`;
    log(`API server at ${apiUrl}: unreachable (nothing listens there)`);

    // Talking to the API is retried in the background; startup never waits for it.
    let refused = 0;
    const syncStarted = performance.now();
    apiSync = retry(
      ({ signal: attemptSignal }) => fetchJson(`${apiUrl}/api/v1/namespaces/demo/configmaps/handler-config`, { signal: attemptSignal }),
      {
        maxAttempts: Infinity,
        // Compressed for the demo; a real handler would back off to 30 s or more.
        initialDelayMs: 100,
        maxDelayMs: 800,
        signal: syncSignal,
        onRetry: ({ error, verdict, delayMs }) => {
          refused++;
          tally.attempt();
          tally.fault('connection refused by the API server');
          if (refused === 1) log(`API sync: ${messageOf(error)} (${verdict.kind}: ${verdict.reason}); retrying in the background, next in ${delayMs} ms`);
        },
      },
    );
    apiSync.catch(() => {}); // ended by stopSync below; its rejection is expected

    tally.state('starting from the mounted ConfigMap');
    volume = await KubeletVolume.create({ 'config.json': versions.v1 });
    let changed = deferred<string>();
    let rejected = deferred<string>();
    const started = performance.now();
    config = await liveConfig(volume.path('config.json'), {
      parse: parseConfig,
      debounceMs: 20,
      ...withSignal(signal),
      onChange: (value, { hash, previousHash }) => {
        log(`reloaded: logLevel ${value.logLevel}, ${value.allowedNamespaces.length} namespaces (hash ${previousHash.slice(0, 12)} -> ${hash.slice(0, 12)})`);
        changed.resolve(hash);
      },
      onError: (error, { source }) => {
        if (source !== 'parse') return log(`config watch: ${source}: ${messageOf(error)}`);
        log(`rejected a new version (${messageOf(error)}); still serving the last good one`);
        rejected.resolve(messageOf(error));
      },
    });
    const current = config;
    const startedInMs = since(started);
    log(`config loaded from the volume in ${formatMs(startedInMs)}, with the API still down`);

    // The handler itself: answers with the configuration it is running on.
    handler = createServer((_request, response) => {
      response.setHeader('Content-Type', 'application/json');
      response.end(JSON.stringify({ logLevel: current.current.logLevel, configHash: current.hash }));
    });
    await new Promise<void>((resolve) => handler!.listen(0, '127.0.0.1', resolve));
    const handlerUrl = `http://127.0.0.1:${(handler.address() as { port: number }).port}/config`;
    const ask = async (): Promise<string> => {
      const answer = await fetchJson<{ logLevel: string; configHash: string }>(handlerUrl, withSignal(signal));
      return answer.logLevel;
    };
    const served: string[] = [await ask()];
    log(`handler serving (logLevel ${served[0]}) ${formatMs(since(started))} after start`);

    const reloadMs: number[] = [];
    const update = async (version: keyof typeof versions): Promise<number> => {
      const { renamedAt } = await volume!.set('config.json', versions[version]);
      return renamedAt;
    };

    // Pauses between the updates only make the timeline readable; nothing depends on them.
    await pause(STEP_MS, signal);
    tally.state('kubelet updates the ConfigMap');
    let renamedAt = await update('v2');
    await within(5_000, 'the reload of v2', changed.promise, signal);
    reloadMs.push(Math.round(performance.now() - renamedAt));
    served.push(await ask());

    await pause(STEP_MS, signal);
    tally.state('a malformed version arrives');
    tally.fault('malformed config version');
    await update('malformed');
    await within(5_000, 'the rejection of the malformed version', rejected.promise, signal);
    const servedDuringMalformed = await ask();
    served.push(servedDuringMalformed);

    await pause(STEP_MS, signal);
    tally.state('a fixed version arrives');
    changed = deferred<string>();
    rejected = deferred<string>();
    renamedAt = await update('v3');
    await within(5_000, 'the reload of v3', changed.promise, signal);
    reloadMs.push(Math.round(performance.now() - renamedAt));
    served.push(await ask());

    // What an operator stamps on the pod template: the hash of the ConfigMap's data, parsed (so
    // a re-serialisation in another key order or spacing rolls no pods), the same value the
    // handler reports, whoever computes it.
    const operatorHash = contentHash(JSON.parse(versions.v3));
    log(`pod template annotation: example.com/config-hash: "${operatorHash}"`);
    log(`handler reports hash ${config.hash === operatorHash ? 'the same' : `a DIFFERENT one (${config.hash})`}`);

    stopSync.abort();
    const syncError = await apiSync.then(
      () => undefined,
      (error: unknown) => error,
    );
    log(`API sync: refused ${refused} times in ${formatMs(since(syncStarted))}; stopped (the handler never needed it)`);

    const ok =
      refused > 0 &&
      syncError !== undefined &&
      classify(syncError).kind === 'permanent' && // the abort that stopped it, not a result
      served.join(',') === 'info,debug,debug,warn' &&
      servedDuringMalformed === 'debug' &&
      config.hash === operatorHash;
    tally.state(ok ? 'done' : 'unexpected result');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `served from the mounted config in ${formatMs(startedInMs)} with the API down; reloaded 2 updates; kept the last good config over a malformed one`,
      recoveredInMs: startedInMs,
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: 'from start to a loaded configuration, with the API server unreachable',
        refused,
        served,
        reloadMs,
        hash: config.hash,
        operatorHash,
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    stopSync.abort();
    await apiSync?.catch(() => {});
    await config?.close();
    if (handler !== undefined) {
      handler.closeAllConnections();
      await new Promise((resolve) => handler!.close(resolve));
    }
    await volume?.cleanup();
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
