/**
 * The seven scenarios of examples/, end to end with real timers, real files, real sockets and
 * real TLS: each must end as expected and leave nothing behind. Then `npm run demo` itself, as a
 * child process: an unknown name exits 2 with the list, and a run exits 0 by itself with the
 * summary table. Timing is bounded only where the scenario's own promise is (a refresh within a
 * second of a rotation); everything else is about order and outcome.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as apiOutage from '../examples/api-outage.js';
import * as certRotation from '../examples/cert-rotation.js';
import * as gatedRotation from '../examples/gated-rotation.js';
import * as logStream from '../examples/log-stream.js';
import * as offlineStartup from '../examples/offline-startup.js';
import * as servingCertRotation from '../examples/serving-cert-rotation.js';
import type { ScenarioProgress, ScenarioResult, ScenarioRun } from '../examples/support/scenario.js';
import * as tokenRefresher from '../examples/token-refresher.js';
import { leftovers } from './support/leftovers.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

/**
 * Each test gets a temp directory of its own as `TMPDIR` (os.tmpdir() reads it on every call), so
 * that "the scenario removed every directory it made" can be checked even when other tests run.
 */
let scratch: string;
const savedTmpdir = process.env.TMPDIR;
beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ridethrough-examples-test-'));
  process.env.TMPDIR = scratch;
});
afterEach(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await rm(scratch, { recursive: true, force: true });
});
const leftBehindInTmpdir = (): Promise<string[]> => readdir(scratch);


interface Observed {
  result: ScenarioResult;
  lines: string[];
  progress: ScenarioProgress[];
}

/** Runs a scenario the way the demo does, and checks what every scenario must do. */
async function runScenario(run: ScenarioRun, name: string): Promise<Observed> {
  const baseline = process.getActiveResourcesInfo();
  const lines: string[] = [];
  const progress: ScenarioProgress[] = [];
  const result = await run(
    (line) => lines.push(line),
    undefined,
    (p) => progress.push(p),
  );
  // The log in the failure message says what went wrong.
  expect(result.outcome, `${name} log:\n${lines.join('\n')}\ndetails: ${JSON.stringify(result.details)}`).toBe('ok');
  expect(result.name).toBe(name);
  expect(result.faultsInjected).toBeGreaterThan(0);
  expect(result.faultList.length).toBeGreaterThan(0);
  expect(result.whatTheLibraryDid).not.toBe('');
  expect(result.recoveredInMs).toBeGreaterThanOrEqual(0);
  // The live progress line and the summary cannot disagree.
  expect(progress.at(-1)).toMatchObject({ faults: result.faultsInjected, state: 'done' });
  expect(await leftovers(baseline)).toEqual([]);
  expect(await leftBehindInTmpdir()).toEqual([]);
  return { result, lines, progress };
}

describe('the scenarios, end to end', () => {
  it('cert-rotation: retries the rotation with backoff, fails the key-less file at once', async () => {
    const { result, lines } = await runScenario(certRotation.run, 'cert-rotation');
    const d = result.details as { attempts: number; fingerprint: string; expectedFingerprint: string; keylessAttempts: number; keylessVerdict: unknown };
    expect(d.attempts).toBeGreaterThan(1);
    expect(d.fingerprint).toBe(d.expectedFingerprint);
    expect(d.keylessAttempts).toBe(1);
    expect(d.keylessVerdict).toEqual({ kind: 'permanent', reason: 'marked permanent' });
    expect(lines).toContainEqual(expect.stringMatching(/^recovered after \d+ attempts/));
    expect(lines).toContainEqual(expect.stringMatching(/ENOENT \(transient\)/));
    expect(result.faultList).toEqual(['files missing', 'files empty', 'certificate half-written', 'key file without a private key']);
  });

  it('token-refresher: follows every rotation, never shows a partial kubeconfig, survives a missing directory', async () => {
    const { result } = await runScenario(tokenRefresher.run, 'token-refresher');
    const d = result.details as {
      latencies: number[];
      reads: number;
      partialReads: number;
      startedIn: string;
      endMode: string;
      retriesWhileMissing: number;
      wakes: Record<string, number>;
    };
    expect(d.latencies).toHaveLength(4);
    // The scenario's own promise: a refresh within a second of each kubelet swap.
    for (const ms of d.latencies) expect(ms).toBeLessThanOrEqual(1_000);
    expect(d.reads).toBeGreaterThan(0);
    expect(d.partialReads).toBe(0);
    expect(d.startedIn).toBe('timer-only');
    expect(d.retriesWhileMissing).toBeGreaterThan(0);
    expect(d.endMode).toBe('watching');
    expect(d.wakes.change).toBeGreaterThanOrEqual(4);
    expect(d.wakes.timer).toBeGreaterThanOrEqual(1);
  });

  it('offline-startup: serves from the mounted config with the API down, keeps the last good version', async () => {
    const { result, lines } = await runScenario(offlineStartup.run, 'offline-startup');
    const d = result.details as { refused: number; served: string[]; hash: string; operatorHash: string };
    expect(d.refused).toBeGreaterThan(0);
    expect(d.served).toEqual(['info', 'debug', 'debug', 'warn']);
    expect(d.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(d.hash).toBe(d.operatorHash);
    expect(lines).toContainEqual(expect.stringContaining(`example.com/config-hash: "${d.hash}"`));
  });

  it('log-stream: rides through TLS alert 80 and 503, waits for the final status, stops on NotFound', async () => {
    const { result } = await runScenario(logStream.run, 'log-stream');
    const d = result.details as { alerts: number; unavailable: number; lines: string[]; notFinal: number; goneAttempts: number; goneVerdict: unknown };
    expect(d.alerts).toBeGreaterThan(0);
    expect(d.unavailable).toBeGreaterThan(0);
    expect(d.lines).toHaveLength(5);
    expect(d.lines.at(-1)).toMatch(/job complete$/);
    expect(d.notFinal).toBeGreaterThan(0);
    expect(d.goneAttempts).toBe(1);
    expect(d.goneVerdict).toEqual({ kind: 'permanent', reason: 'Kubernetes NotFound' });
    // Every refused handshake the client saw is one the stand-in sent.
    expect(result.faultList).toContain(`TLS alert 80${d.alerts > 1 ? ` x${d.alerts}` : ''}`);
  });

  it('gated-rotation: rotates only once all five checks pass on all three gateways', async () => {
    const { result, lines } = await runScenario(gatedRotation.run, 'gated-rotation');
    const d = result.details as { readyAt: Record<string, number>; activeKeys: unknown[]; rotatedWhenReady: unknown[] };
    expect(d.rotatedWhenReady).toEqual([true, true, true]);
    expect(new Set(d.activeKeys)).toEqual(new Set(['key-2025-01']));
    expect(d.readyAt['gw-1']).toBeLessThanOrEqual(d.readyAt['gw-2']!);
    expect(d.readyAt['gw-2']).toBeLessThanOrEqual(d.readyAt['gw-3']!);
    // The per-gateway report was printed while waiting, and the last one said all ready.
    expect(lines).toContainEqual(expect.stringMatching(/gw-3: not ready, \d of 5 checks failed/));
    expect(lines).toContainEqual('  ready: all 3 subjects ready');
  });

  it('api-outage: the informer resumes, relists on 410 and ends equal to the server; the API calls are retried', async () => {
    const { result, lines } = await runScenario(apiOutage.run, 'api-outage');
    const d = result.details as {
      retries: Record<string, number>;
      resumes: number;
      relists: number;
      relistDiffs: string[];
      outOfOrder: string[];
      check: unknown;
      writes: number;
      events: number;
      plainStopped: string | undefined;
      plainWrong: number;
    };
    expect(d.check).toBe(true);
    expect(d.outOfOrder).toEqual([]);
    expect(d.retries['HTTP 429']).toBeGreaterThanOrEqual(1);
    expect(d.retries['HTTP 503']).toBeGreaterThanOrEqual(2);
    expect(d.retries.ECONNREFUSED).toBeGreaterThanOrEqual(1);
    expect(d.resumes).toBeGreaterThanOrEqual(1);
    // One relist after the compaction, one after the restart: each with only the real differences.
    expect(d.relists).toBeGreaterThanOrEqual(2);
    expect(d.relistDiffs).toHaveLength(d.relists);
    expect(d.writes).toBeGreaterThan(3);
    expect(d.events).toBeGreaterThan(d.writes);
    // client-node's own informer, on the same server, stopped at the first dropped watch.
    expect(d.plainStopped).toEqual(expect.any(String));
    expect(d.plainWrong).toBeGreaterThan(0);
    expect(lines).toContainEqual(expect.stringMatching(/^makeApiClient: \w+ met HTTP 429 .*the server asked for 1000 ms/));
    expect(lines).toContainEqual(expect.stringMatching(/^informer: resuming from resourceVersion \d+ got 410 Expired: relisted/));
    expect(lines).toContainEqual(expect.stringMatching(/^informer: cache equals the server's \d+ pods/));
  });

  it('serving-cert-rotation: serves each new certificate, fails no handshake, holds back a mismatched pair, refuses an expired one', async () => {
    const { result, lines } = await runScenario(servingCertRotation.run, 'serving-cert-rotation');
    const d = result.details as {
      latencies: number[];
      calls: number;
      failures: string[];
      served: string[];
      heldBack: number;
      mismatchServed: boolean;
      staleAfterSwap: number;
      expiredServed: boolean;
      refusedBeforeExpired: number;
      rejections: number;
      stillServed: string;
      naiveServed: string;
      ready: boolean;
      readyDetail: string;
    };
    expect(d.failures).toEqual([]);
    expect(d.calls).toBeGreaterThan(20);
    // Every generation reached new handshakes, in order, and nothing else did.
    expect(d.served).toEqual(['#1', '#2', '#3', '#4', '#5']);
    expect(d.latencies).toHaveLength(4);
    // The scenario's own promise: a new certificate served within a second of its swap.
    for (const ms of d.latencies) expect(ms).toBeLessThanOrEqual(1_000);
    expect(d.heldBack).toBeGreaterThan(0);
    expect(d.mismatchServed).toBe(false);
    expect(d.staleAfterSwap).toBe(0);
    expect(d.expiredServed).toBe(false);
    // The mismatched pair was held back within the re-read's budget, not refused; the expired one was.
    expect(d.refusedBeforeExpired).toBe(0);
    expect(d.rejections).toBeGreaterThan(0);
    expect(d.stillServed).toBe('#4');
    expect(d.naiveServed).toBe('#1');
    expect(d.ready).toBe(true);
    expect(d.readyDetail).toMatch(/^valid until /);
    expect(result.faultList).toEqual(['certificate renewed x3', 'new certificate beside the old key', 'expired certificate restored']);
    expect(lines).toContainEqual(expect.stringMatching(/^refused \(liveTlsCredentials\(\): the certificate expired at .*\); still serving #4$/));
  });
});

describe('aborting a scenario', () => {
  it.each([
    ['token-refresher', tokenRefresher.run],
    ['log-stream', logStream.run],
    ['api-outage', apiOutage.run],
    ['serving-cert-rotation', servingCertRotation.run],
  ] as const)('%s stops at once on abort and leaves nothing behind', async (_name, run) => {
    const baseline = process.getActiveResourcesInfo();
    const controller = new AbortController();
    const reason = new Error('stop the scenario');
    setTimeout(() => controller.abort(reason), 700);
    const started = Date.now();
    await expect(run(() => {}, controller.signal)).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await leftovers(baseline)).toEqual([]);
    expect(await leftBehindInTmpdir()).toEqual([]);
  });
});

/** Runs `npm run demo`'s command with arguments; resolves with what it printed and how it exited. */
function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // The real temp directory, so that tsx finds its compile cache there.
    const env = { ...process.env };
    if (savedTmpdir === undefined) delete env.TMPDIR;
    else env.TMPDIR = savedTmpdir;
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A demo that does not exit by itself is a failure: kill it rather than hang the suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run demo', () => {
  it('exits 2 with the list of scenarios for an unknown name', async () => {
    const { code, stdout, stderr } = await demo(['no-such-scenario']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('unknown scenario: no-such-scenario');
    for (const name of ['cert-rotation', 'token-refresher', 'offline-startup', 'log-stream', 'gated-rotation', 'api-outage', 'serving-cert-rotation']) {
      expect(stderr).toContain(name);
    }
  });

  it('runs one scenario, prints plain lines and the summary table when piped, and exits 0 by itself', async () => {
    const { code, stdout, stderr } = await demo(['offline-startup']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toContain('\x1b['); // no cursor movement or colour when piped
    expect(stdout).toContain('[1/1] offline-startup: ');
    expect(stdout).toMatch(/ {2}> faults \d+, attempts \d+: /);
    expect(stdout).toMatch(/\| scenario +\| faults injected +\| what the library did +\| time to recover \| outcome \|/);
    expect(stdout).toMatch(/\| offline-startup \|.*\| ok +\|/);
    expect(stdout).toContain('1 of 1 scenarios ended as expected');
  });
});
