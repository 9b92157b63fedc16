/**
 * Scenario 2, token-refresher: a sidecar turns the projected service-account token that the
 * kubelet rotates into a kubeconfig for another process. Naive versions fail three ways: a
 * `fs.watch` on the token file fires once and never again (the kubelet swaps a symlink, the
 * watched inode is gone), a refresh on a fixed timer keeps a stale token for up to a whole period,
 * and a plain `writeFile` lets the reader see a half-written kubeconfig.
 *
 * With ridethrough: watchWithFallback refreshes within a second of every kubelet swap and also
 * runs on a jittered timer (a quarter of the token's remaining life, plus up to 100% jitter, so
 * that a fleet does not refresh in lockstep); atomicWriteFile replaces the kubeconfig so a reader
 * looping on it never sees a partial file. When the token directory is missing at start the
 * refresher does not crash: it runs in timer-only mode, retrying on its schedule, and returns to
 * watching as soon as the volume appears.
 *
 * Run it alone: `node --import tsx examples/token-refresher.ts`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile } from 'ridethrough/files';
import { watchWithFallback, type WakeReason, type WatchMode, type Watcher, type WatchOptions } from 'ridethrough/watch';
import { KubeletVolume } from 'ridethrough/testing';
import { runStandalone } from './support/runner.js';
import { deferred, formatMs, isMain, messageOf, pause, since, Tally, within, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'token-refresher';
export const title = 'a refresher follows a projected token that the kubelet rotates';

/** A real projected token lives an hour and is rotated at 80% of its life; 2 s keeps the demo short. */
const TOKEN_LIFE_MS = 2_000;
/** Rotations come faster than the kubelet's (minutes) so the demo shows several. */
const ROTATIONS = 3;
const ROTATION_GAP_MS = 400;
/** The promise this scenario checks: the kubeconfig follows a rotation within a second. */
const REFRESH_BOUND_MS = 1_000;
/** How long the token directory stays missing in the second part. */
const MISSING_MS = 800;
/** Retry and re-arm schedule, compressed for the demo (default: 2 s doubling to 60 s). */
const RETRY = { initialDelayMs: 100, maxDelayMs: 400 } as const;

/** A JWT-shaped token whose payload says when it expires (`exp`, in seconds, as a JWT does). */
function mintToken(serial: number): string {
  const now = Date.now() / 1000;
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { iss: 'https://kubernetes.default.svc', sub: 'system:serviceaccount:demo:refresher', iat: now, exp: now + TOKEN_LIFE_MS / 1000, serial };
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
}

/** When the token expires (ms since the epoch); throws on something that is not a token. */
function expiresAt(token: string): number {
  const payload = token.split('.')[1];
  const exp = payload === undefined ? undefined : (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp?: unknown }).exp;
  if (typeof exp !== 'number') throw new Error('the token has no exp claim');
  return exp * 1000;
}

/** A cluster CA bundle of a realistic size: large enough that a non-atomic write is seen half-done. */
const CA_BUNDLE = randomBytes(12 * 1024).toString('base64');

function renderKubeconfig(token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: demo',
    '  cluster:',
    '    server: https://10.96.0.1:443',
    `    certificate-authority-data: ${CA_BUNDLE}`,
    'users:',
    '- name: refresher',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: demo',
    '  context: {cluster: demo, user: refresher}',
    'current-context: demo',
    '',
  ].join('\n');
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const work = await mkdtemp(join(tmpdir(), 'ridethrough-token-refresher-'));
  const kubeconfigPath = join(work, 'kubeconfig');
  const volumes: KubeletVolume[] = [];
  const watchers: Watcher[] = [];
  const stopReader = new AbortController();
  let reader: Promise<void> | undefined;

  // Everything the refresher wrote: a reader that sees anything else saw a partial file.
  const written = new Set<string>();
  const refreshedAt = new Map<string, number>();
  const waitingFor = new Map<string, () => void>();
  let current: { token: string; expiresAt: number } | undefined;
  const wakes: Record<WakeReason, number> = { start: 0, change: 0, timer: 0, retry: 0, manual: 0 };

  /** The refresher's one job: read the token, write the kubeconfig. Throws if the token is missing. */
  const refresh = async (tokenPath: string, reason: WakeReason): Promise<void> => {
    wakes[reason]++;
    tally.attempt();
    const token = (await readFile(tokenPath, 'utf8')).trim();
    current = { token, expiresAt: expiresAt(token) };
    const content = renderKubeconfig(token);
    written.add(content);
    const { written: changed } = await atomicWriteFile(kubeconfigPath, content, { mode: 0o600, skipIfUnchanged: true });
    if (reason === 'timer') log(`timer run: ${changed ? 'kubeconfig rewritten' : 'token unchanged, kubeconfig left as is (skipIfUnchanged)'}`);
    if (!refreshedAt.has(token)) refreshedAt.set(token, performance.now());
    waitingFor.get(token)?.();
  };
  const refreshed = (token: string): Promise<void> => {
    if (refreshedAt.has(token)) return Promise.resolve();
    const { promise, resolve } = deferred();
    waitingFor.set(token, resolve);
    return promise;
  };

  /**
   * A quarter of the token's remaining life; the watcher adds up to 100% of it at random
   * (`jitter: 1`). Called after every run; after a failed run the retry schedule comes first.
   */
  let explained = false;
  const quarterOfRemainingLife = (): number => {
    const remaining = current === undefined ? 0 : current.expiresAt - Date.now();
    const base = Math.max(100, remaining / 4);
    if (!explained && current !== undefined) {
      log(`timer: a quarter of the token's remaining life (${formatMs(base)}) plus up to 100% jitter`);
      explained = true;
    }
    return base;
  };

  let lastError = '';
  const options = (part: string, modes: WatchMode[], onWatching?: () => void): WatchOptions => ({
    intervalMs: quarterOfRemainingLife,
    jitter: 1,
    debounceMs: 20,
    retry: RETRY,
    ...withSignal(signal),
    onModeChange: ({ mode, previous }) => {
      modes.push(mode);
      if (mode !== 'closed') log(`${part}: watcher ${previous} -> ${mode}`);
      if (mode === 'watching') onWatching?.();
    },
    onError: (error, { source }) => {
      // The same failure again is the same outage: one line for it.
      // Paths relative to the scenario's temp directory: shorter, and the same on every run.
      const text = `${part}: ${source === 'wake' ? 'refresh failed' : 'cannot watch'}: ${messageOf(error).replaceAll(`${work}/`, '')}`;
      if (text !== lastError) log(`${text} (retrying on the timer)`);
      lastError = text;
    },
  });

  try {
    // ---- Part 1: the token directory is there; the kubelet rotates the token.
    tally.state('projecting the first token');
    const volume = await KubeletVolume.create({ token: mintToken(1) });
    volumes.push(volume);
    const first = volume.payload.token as string;
    const modes1: WatchMode[] = [];
    const tokenPath = volume.path('token');
    watchers.push(watchWithFallback(tokenPath, ({ reason }) => refresh(tokenPath, reason), options('part 1', modes1)));
    await within(5_000, 'the first refresh', refreshed(first), signal);
    log('kubeconfig written from token #1');
    tally.state('watching the token');

    // The consumer: reads the kubeconfig as fast as it can and checks each read is a whole version.
    let reads = 0;
    let partialReads = 0;
    reader = (async () => {
      while (!stopReader.signal.aborted) {
        const text = await readFile(kubeconfigPath, 'utf8');
        reads++;
        if (!written.has(text)) {
          partialReads++;
          log(`reader: PARTIAL kubeconfig (${text.length} bytes)`);
        }
        await pause(1, stopReader.signal).catch(() => {});
      }
    })();

    const latencies: number[] = [];
    for (let serial = 2; serial <= ROTATIONS + 1; serial++) {
      await pause(ROTATION_GAP_MS, signal);
      const token = mintToken(serial);
      tally.fault('token rotated by the kubelet');
      tally.state(`kubelet rotated the token (#${serial})`);
      const { renamedAt } = await volume.set('token', token);
      await within(5_000, `the refresh after rotation #${serial}`, refreshed(token), signal);
      const latency = Math.round(refreshedAt.get(token)! - renamedAt);
      latencies.push(latency);
      log(`kubelet swapped ..data to token #${serial}; kubeconfig refreshed ${formatMs(latency)} later`);
    }
    tally.state('waiting for a timer run');
    const timerRunsBefore = wakes.timer;
    const timerWait = performance.now();
    while (wakes.timer === timerRunsBefore && since(timerWait) < 5_000) await pause(20, signal);
    await watchers[0]!.close();

    // ---- Part 2: the token directory is missing at start (the volume is mounted late).
    lastError = '';
    const lateDir = join(work, 'late-volume');
    const lateToken = join(lateDir, 'token');
    const modes2: WatchMode[] = [];
    const watching = deferred();
    current = undefined;
    explained = false;
    tally.fault('token directory missing at start', 'part 2: the refresher starts before its token volume exists');
    tally.state('token directory missing: timer-only');
    const wakesBeforeMissing = { ...wakes };
    const late = watchWithFallback(lateToken, ({ reason }) => refresh(lateToken, reason), options('part 2', modes2, watching.resolve));
    watchers.push(late);
    await late.ready;
    const startedIn = late.mode;
    await pause(MISSING_MS, signal);
    const retriesWhileMissing = wakes.retry - wakesBeforeMissing.retry;
    const appearingToken = mintToken(ROTATIONS + 2);
    const appearedAt = performance.now();
    volumes.push(await KubeletVolume.create({ token: appearingToken }, { dir: lateDir }));
    tally.state('the token volume appeared');
    await within(5_000, 'the refresh after the volume appeared', refreshed(appearingToken), signal);
    // The refresh may have come from a timer run just before the watch was re-armed.
    await within(5_000, 'the watch re-armed', watching.promise, signal);
    tally.state('watching the token again');
    const backAfter = Math.round(refreshedAt.get(appearingToken)! - appearedAt);
    log(`${retriesWhileMissing} refresh runs failed while it was missing (on the retry schedule); the refresher kept going`);
    log(`the volume appeared; kubeconfig refreshed ${formatMs(backAfter)} later, watcher ${late.mode}`);
    const lastToken = mintToken(ROTATIONS + 3);
    tally.fault('token rotated by the kubelet');
    const { renamedAt } = await volumes[1]!.set('token', lastToken);
    await within(5_000, 'the refresh after the last rotation', refreshed(lastToken), signal);
    const lastLatency = Math.round(refreshedAt.get(lastToken)! - renamedAt);
    latencies.push(lastLatency);
    log(`kubelet swapped ..data again; kubeconfig refreshed ${formatMs(lastLatency)} later`);
    const endMode = late.mode;

    stopReader.abort();
    await reader;
    log(`reader: ${reads} reads of the kubeconfig, ${partialReads} partial`);

    const worst = Math.max(...latencies);
    const ok =
      latencies.every((ms) => ms <= REFRESH_BOUND_MS) &&
      wakes.timer > timerRunsBefore &&
      reads > 0 &&
      partialReads === 0 &&
      startedIn === 'timer-only' &&
      retriesWhileMissing > 0 &&
      endMode === 'watching' &&
      modes1[0] === 'watching';
    tally.state(ok ? 'done' : 'unexpected result');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `refreshed within ${formatMs(worst)} of every rotation; no partial kubeconfig in ${reads} reads; timer-only while the directory was missing, then watching`,
      recoveredInMs: Math.max(worst, backAfter),
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: 'the longest time from a token change (or the volume appearing) to a refreshed kubeconfig',
        latencies,
        backAfter,
        wakes,
        reads,
        partialReads,
        startedIn,
        retriesWhileMissing,
        endMode,
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    stopReader.abort();
    await reader?.catch(() => {});
    await Promise.all(watchers.map((w) => w.close()));
    await Promise.all(volumes.map((v) => v.cleanup()));
    await rm(work, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
