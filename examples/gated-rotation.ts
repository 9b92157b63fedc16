/**
 * Scenario 5, gated-rotation: an operator rotates the encryption key of a mesh of three
 * gateways. Switching to the new key is safe only once every gateway is reachable, has its tunnel
 * up, has staged the new key, sees all its peers and has completed a handshake with the new key;
 * switch early and traffic through the late gateway breaks. The gateways get there at different
 * times, and a script that sleeps "long enough" is either slow or wrong.
 *
 * With ridethrough: a readinessGate holds the five checks; waitUntilReady re-evaluates them for
 * all three gateways on a backoff schedule, printing the per-gateway report (formatReport) each
 * time it changes, and the rotation proceeds the moment all fifteen pass. The gateways themselves
 * refuse a rotation they are not ready for, so an early switch would show.
 *
 * Run it alone: `node --import tsx examples/gated-rotation.ts`.
 */
import { createServer, type Server } from 'node:http';
import { formatReport, readinessGate, type Report } from 'ridethrough/gate';
import { fetchJson, fetchText } from './support/http.js';
import { runStandalone } from './support/runner.js';
import { formatMs, isMain, messageOf, since, Tally, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'gated-rotation';
export const title = 'a key rotation waits until five checks pass on all three gateways';

/** When each condition is met, in ms from the start (a real mesh takes seconds to minutes). */
interface Timeline {
  readonly name: string;
  /** Until then the gateway resets every connection (it is restarting). */
  readonly acceptsAt: number;
  readonly tunnelUpAt: number;
  readonly keyStagedAt: number;
  readonly peersAt: number;
  readonly handshakeAt: number;
}

const TIMELINES: readonly Timeline[] = [
  { name: 'gw-1', acceptsAt: 0, tunnelUpAt: 0, keyStagedAt: 300, peersAt: 0, handshakeAt: 300 },
  { name: 'gw-2', acceptsAt: 0, tunnelUpAt: 300, keyStagedAt: 1_000, peersAt: 1_000, handshakeAt: 1_000 },
  { name: 'gw-3', acceptsAt: 600, tunnelUpAt: 1_000, keyStagedAt: 1_600, peersAt: 1_600, handshakeAt: 1_600 },
];

const FAULTS: ReadonlyArray<[keyof Timeline, string]> = [
  ['acceptsAt', 'gateway restarting'],
  ['tunnelUpAt', 'tunnel down'],
  ['keyStagedAt', 'new key not staged'],
  ['peersAt', 'peers missing'],
  ['handshakeAt', 'no new-key handshake'],
];

const PEERS = 2;
const OLD_KEY = 'key-2024-11';
const NEW_KEY = 'key-2025-01';

/** What a gateway reports on `GET /status`. */
interface GatewayStatus {
  readonly tunnel: 'UP' | 'DOWN';
  readonly activeKey: string;
  readonly stagedKey: string | null;
  readonly peersConnected: number;
  readonly peersExpected: number;
  readonly handshakeWithStagedKey: boolean;
}

/** A gateway stand-in: an HTTP server on 127.0.0.1 whose state follows its timeline. */
interface Gateway {
  readonly name: string;
  readonly url: string;
  /** Whether every condition held when the rotation arrived (a gateway refuses it otherwise). */
  rotatedWhenReady: boolean | undefined;
  close(): Promise<void>;
}

async function startGateway(timeline: Timeline, start: number): Promise<Gateway> {
  let activeKey = OLD_KEY;
  const at = (ms: number): boolean => performance.now() - start >= ms;
  const status = (): GatewayStatus => ({
    tunnel: at(timeline.tunnelUpAt) ? 'UP' : 'DOWN',
    activeKey,
    stagedKey: at(timeline.keyStagedAt) ? NEW_KEY : null,
    peersConnected: at(timeline.peersAt) ? PEERS : PEERS - 1,
    peersExpected: PEERS,
    handshakeWithStagedKey: at(timeline.handshakeAt),
  });
  const ready = (): boolean => [timeline.tunnelUpAt, timeline.keyStagedAt, timeline.peersAt, timeline.handshakeAt].every(at);

  const gateway: Gateway = { name: timeline.name, url: '', rotatedWhenReady: undefined, close: async () => {} };
  const server: Server = createServer((request, response) => {
    response.setHeader('Content-Type', 'application/json');
    if (request.method === 'POST' && request.url === '/rotate') {
      gateway.rotatedWhenReady = ready();
      if (!gateway.rotatedWhenReady) {
        response.statusCode = 409;
        response.end(JSON.stringify({ error: 'not ready to switch keys' }));
        return;
      }
      activeKey = NEW_KEY;
    }
    if (request.url === '/healthz') return void response.end('"ok"');
    response.end(JSON.stringify(status()));
  });
  // Restarting: accept and reset, so the client sees ECONNRESET ("socket hang up").
  server.on('connection', (socket) => {
    if (!at(timeline.acceptsAt)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(gateway, {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** The report without the durations, so that a change of state, not of timing, prints it again. */
function signature(reports: readonly Report<Gateway>[]): string {
  return reports.map((r) => `${r.key}:${r.results.filter((c) => !c.ok).map((c) => `${c.name}=${c.detail}`).join(',')}`).join(';');
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const start = performance.now();
  const gateways: Gateway[] = [];
  try {
    for (const timeline of TIMELINES) gateways.push(await startGateway(timeline, start));
    for (const timeline of TIMELINES) {
      for (const [field, kind] of FAULTS) if ((timeline[field] as number) > 0) tally.fault(kind);
    }
    log(`3 gateways on 127.0.0.1; rotating ${OLD_KEY} -> ${NEW_KEY} once all are ready`);

    const status = (gw: Gateway, signal: AbortSignal): Promise<GatewayStatus> => fetchJson<GatewayStatus>(`${gw.url}/status`, { signal });
    const gate = readinessGate({
      checks: {
        // A connection reset throws ECONNRESET: classified transient, so the wait goes on.
        reachable: async (gw: Gateway, { signal }) => (await fetchText(`${gw.url}/healthz`, { signal })) === '"ok"',
        tunnel: async (gw: Gateway, { signal }) => {
          const { tunnel } = await status(gw, signal);
          return tunnel === 'UP' || `tunnel is ${tunnel}`;
        },
        newKeyStaged: async (gw: Gateway, { signal }) => {
          const { stagedKey } = await status(gw, signal);
          return stagedKey === NEW_KEY || `staged key is ${stagedKey ?? 'none'}`;
        },
        peers: async (gw: Gateway, { signal }) => {
          const { peersConnected, peersExpected } = await status(gw, signal);
          return peersConnected === peersExpected || `${peersConnected} of ${peersExpected} peers connected`;
        },
        handshake: async (gw: Gateway, { signal }) =>
          (await status(gw, signal)).handshakeWithStagedKey || 'no handshake with the new key yet',
      },
      key: (gw) => gw.name,
      timeoutMs: 1_000,
    });

    tally.state('waiting for all gateways');
    const readyAt = new Map<string, number>();
    let printed = '';
    const waitStarted = performance.now();
    await gate.waitUntilReady(gateways, {
      // Compressed for the demo; a real rotation would pause up to the 5 s default between evaluations.
      initialDelayMs: 100,
      maxDelayMs: 250,
      deadlineMs: 15_000,
      ...withSignal(signal),
      onProgress: ({ attempt, reports, elapsedMs }) => {
        tally.attempt();
        for (const report of reports) if (report.ready && !readyAt.has(report.key)) readyAt.set(report.key, Math.round(elapsedMs));
        tally.state(reports.map((r) => `${r.key} ${r.ready ? 'ready' : `${r.results.filter((c) => !c.ok).length} failing`}`).join(', '));
        const now = signature(reports);
        if (now === printed) return;
        printed = now;
        log(`evaluation ${attempt} at ${formatMs(elapsedMs)}:`);
        for (const line of formatReport(reports).split('\n')) log(`  ${line}`);
      },
    });
    const readyInMs = since(waitStarted);
    log(`all 3 gateways ready after ${formatMs(readyInMs)}: rotating`);

    tally.state('rotating the key');
    const results = await Promise.all(
      gateways.map(async (gw) => {
        try {
          const { activeKey } = await fetchJson<GatewayStatus>(`${gw.url}/rotate`, { method: 'POST', ...withSignal(signal) });
          log(`${gw.name}: now encrypting with ${activeKey}`);
          return activeKey;
        } catch (error) {
          log(`${gw.name}: rotation refused: ${messageOf(error)}`);
          return undefined;
        }
      }),
    );

    const ok = results.every((key) => key === NEW_KEY) && gateways.every((gw) => gw.rotatedWhenReady === true) && readyAt.size === 3;
    tally.state(ok ? 'done' : 'unexpected result');
    const order = [...readyAt].map(([gw, ms]) => `${gw} ${formatMs(ms)}`).join(', ');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `held the rotation until 5 checks passed on all 3 gateways (ready: ${order}), then rotated all three`,
      recoveredInMs: readyInMs,
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: 'from the start of the wait to all three gateways ready',
        readyAt: Object.fromEntries(readyAt),
        evaluations: tally.attempts,
        activeKeys: results,
        rotatedWhenReady: gateways.map((gw) => gw.rotatedWhenReady),
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    await Promise.all(gateways.map((gw) => gw.close()));
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
