/**
 * Scenario 4, log-stream: a client follows a container's logs on a kubelet that has just joined
 * the cluster. Until its serving certificate is approved the kubelet answers every TLS handshake
 * with the alert "internal error" (alert 80); then it answers 503 with Retry-After while the log
 * is not open yet; then it streams. A client that treats the first error as final reports
 * "tlsv1 alert internal error" to its user and gives up on a node that was seconds from ready.
 *
 * With ridethrough: retry with backoff, where classify recognises the TLS alert and the 503 as
 * transient (and honours Retry-After), opens the stream as soon as the kubelet can serve it.
 * Then waitFor polls the pod until its terminated state appears (the kubelet reports it a little
 * after the log ends), and stops at once on a 404 (Kubernetes NotFound): a deleted pod will never
 * reach a final state, so waiting longer is pointless.
 *
 * Run it alone: `node --import tsx examples/log-stream.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { classify } from 'ridethrough/classify';
import { waitFor } from 'ridethrough/gate';
import { retry } from 'ridethrough/retry';
import { kubeStatus, startKubeApiServer, type KubeApiReply, type KubeApiServer } from '../test/support/kube-api-server.js';
import { startTlsAlertServer, type TlsAlertServer } from 'ridethrough/testing';
import { selfSignedPair } from './support/certs.js';
import { fetchJson, openResponse } from './support/http.js';
import { runStandalone } from './support/runner.js';
import { formatMs, isMain, messageOf, pause, since, Tally, withSignal, type Log, type ProgressListener, type ScenarioResult } from './support/scenario.js';

export const name = 'log-stream';
export const title = 'a client follows logs on a kubelet whose serving certificate is not approved yet';

/** How long the kubelet refuses handshakes. A real CSR approval takes seconds to minutes. */
const UNAPPROVED_MS = 1_200;
/** After approval, how long it answers 503 (with Retry-After: 1) before the log is open. */
const UNAVAILABLE_MS = 500;
/** The log lines the container wrote, and the pause between them. */
const LOG_LINES = ['starting job log-job', 'processing batch 1 of 3', 'processing batch 2 of 3', 'processing batch 3 of 3', 'job complete'];
const LINE_GAP_MS = 60;
/** The kubelet reports the terminated state this long after the log ends. */
const STATUS_DELAY_MS = 700;

interface Pod {
  metadata: { name: string };
  status: { phase: string; containerStatuses: Array<{ name: string; state: { running?: object; terminated?: { exitCode: number; reason: string } } }> };
}

/** What a log line needs to say about a failure: `EPROTO: tlsv1 alert internal error`, `HTTP 503: ...`. */
function shortError(error: unknown): string {
  const message = messageOf(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return message;
  const alert = /tlsv1 alert [a-z ]+/.exec(message)?.[0];
  return `${code}: ${alert ?? message}`;
}

export async function run(log: Log, signal?: AbortSignal, onProgress?: ProgressListener): Promise<ScenarioResult> {
  const tally = new Tally(log, onProgress);
  const dir = await mkdtemp(join(tmpdir(), 'ridethrough-log-stream-'));
  const stopServers = new AbortController();
  const serverSignal = signal === undefined ? stopServers.signal : AbortSignal.any([signal, stopServers.signal]);
  let kubelet: TlsAlertServer | undefined;
  let api: KubeApiServer | undefined;
  let approval: Promise<void> | undefined;
  try {
    tally.state('generating the kubelet serving certificate');
    const serving = await selfSignedPair(dir, 'kubelet', { commonName: 'system:node:worker-7', subjectAltName: 'IP:127.0.0.1', ...withSignal(signal) });

    // ---- The kubelet: alert 80 until approved, then 503 for a moment, then the log.
    kubelet = await startTlsAlertServer();
    let unavailable = 0;
    let approvedAt = Number.POSITIVE_INFINITY;
    const streamLog = async (response: ServerResponse): Promise<void> => {
      response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      for (const [i, line] of LOG_LINES.entries()) {
        if (response.destroyed) return;
        response.write(`2025-01-01T00:00:0${i}Z ${line}\n`);
        await pause(LINE_GAP_MS, serverSignal).catch(() => {});
      }
      response.end();
    };
    const server = kubelet;
    approval = pause(UNAPPROVED_MS, serverSignal).then(() => {
      approvedAt = performance.now();
      server.approve({
        key: serving.keyPem,
        cert: serving.certPem,
        handler: (_request, response) => {
          // At least one 503, whatever the timing of the client's retries.
          if (unavailable === 0 || performance.now() - approvedAt < UNAVAILABLE_MS) {
            unavailable++;
            response.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain' });
            response.end('container log not available yet\n');
            return;
          }
          void streamLog(response);
        },
      });
    });
    approval.catch(() => {});

    // ---- The client: retry opening the stream; every failure is classified.
    const url = `${kubelet.url}containerLogs/demo/log-job/app?follow=true`;
    tally.state('opening the log stream');
    let lastReason = '';
    const started = performance.now();
    const response = await retry(({ signal: attemptSignal }) => openResponse(url, { ca: serving.certPem, signal: attemptSignal }), {
      // Compressed for the demo: the default (100 ms doubling to 30 s) fits a real approval.
      initialDelayMs: 100,
      maxDelayMs: 400,
      // The deadline is the budget, not a count of attempts.
      maxAttempts: Infinity,
      deadlineMs: 30_000,
      ...withSignal(signal),
      onRetry: ({ attempt, error, verdict, delayMs }) => {
        tally.attempt();
        const kind = verdict.reason === 'TLS alert internal error' ? 'TLS alert 80' : verdict.reason;
        tally.fault(kind);
        tally.state(`retrying: ${verdict.reason}`);
        if (verdict.reason !== lastReason) {
          const after = verdict.retryAfterMs === undefined ? '' : ` (the server asked for ${verdict.retryAfterMs} ms)`;
          log(`attempt ${attempt}: ${shortError(error)} -> ${verdict.kind} "${verdict.reason}"; next in ${delayMs} ms${after}`);
        }
        lastReason = verdict.reason;
      },
      onRecovered: ({ attempts }) => log(`stream open after ${attempts} attempts (${formatMs(since(started))})`),
    });
    tally.attempt();
    const openedInMs = since(started);
    tally.state('streaming the log');
    const lines: string[] = [];
    for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
      lines.push(line);
      log(`log | ${line}`);
    }

    // ---- The pod's final state comes a little after the log ends; a deleted pod never gets one.
    let finalAt = Number.POSITIVE_INFINITY;
    const podUrl = (pod: string): string => `/api/v1/namespaces/demo/pods/${pod}`;
    const respond = (request: { url: string }): KubeApiReply => {
      if (request.url === podUrl('log-job')) {
        const final = performance.now() >= finalAt;
        const state = final ? { terminated: { exitCode: 0, reason: 'Completed' } } : { running: { startedAt: '2025-01-01T00:00:00Z' } };
        const pod: Pod = { metadata: { name: 'log-job' }, status: { phase: final ? 'Succeeded' : 'Running', containerStatuses: [{ name: 'app', state }] } };
        return { status: 200, body: { kind: 'Pod', apiVersion: 'v1', ...pod } };
      }
      return kubeStatus('NotFound', { message: `pods "${request.url.split('/').pop()}" not found`, details: { kind: 'pods' } });
    };
    api = await startKubeApiServer({ respond });
    // The status turns final a fixed time after the API stand-in is up.
    finalAt = performance.now() + STATUS_DELAY_MS;
    const apiUrl = api.url;
    const getPod = async (pod: string, attemptSignal: AbortSignal): Promise<Pod> => {
      tally.attempt();
      return fetchJson<Pod>(`${apiUrl}${podUrl(pod)}`, { signal: attemptSignal });
    };

    tally.state('waiting for the terminated state');
    let notFinal = 0;
    const waitStarted = performance.now();
    const terminated = await waitFor(
      async ({ signal: attemptSignal }) => {
        const state = (await getPod('log-job', attemptSignal)).status.containerStatuses[0]?.state.terminated;
        if (state === undefined) {
          notFinal++;
          tally.fault('status not final yet');
        }
        return state;
      },
      { name: 'terminated state of log-job', initialDelayMs: 100, maxDelayMs: 300, deadlineMs: 10_000, ...withSignal(signal) },
    );
    log(`log-job terminated: exit code ${terminated.exitCode} (${terminated.reason}), after ${notFinal} polls that were not final (${formatMs(since(waitStarted))})`);

    tally.state('waiting on a pod that was deleted');
    tally.fault('pod deleted (404 NotFound)');
    let goneAttempts = 0;
    let goneError: unknown;
    try {
      await waitFor(
        async ({ attempt, signal: attemptSignal }) => {
          goneAttempts = attempt;
          return (await getPod('evicted-job', attemptSignal)).status.containerStatuses[0]?.state.terminated;
        },
        { name: 'terminated state of evicted-job', initialDelayMs: 100, maxDelayMs: 300, deadlineMs: 10_000, ...withSignal(signal) },
      );
    } catch (error) {
      goneError = error;
    }
    const goneVerdict = classify(goneError);
    log(`evicted-job: ${shortError(goneError)} -> ${goneVerdict.kind} "${goneVerdict.reason}" after ${goneAttempts} attempt: final`);

    const alerts = kubelet.alertsSent;
    const ok =
      alerts > 0 &&
      unavailable > 0 &&
      lines.length === LOG_LINES.length &&
      terminated.exitCode === 0 &&
      notFinal > 0 &&
      goneAttempts === 1 &&
      goneVerdict.kind === 'permanent' &&
      goneVerdict.reason === 'Kubernetes NotFound';
    tally.state(ok ? 'done' : 'unexpected result');
    return {
      name,
      faultsInjected: tally.faultsInjected,
      faultList: tally.faultList,
      whatTheLibraryDid: `retried the TLS alert and the 503 as transient (honouring Retry-After), streamed ${lines.length} lines; waited for the final status; stopped at once on NotFound`,
      recoveredInMs: openedInMs,
      outcome: ok ? 'ok' : 'failed',
      details: {
        recovered: 'from the first connection to an open log stream',
        alerts,
        unavailable,
        lines,
        notFinal,
        goneAttempts,
        goneVerdict,
      },
    };
  } catch (error) {
    // Aborted: reject with the caller's reason, whichever operation noticed it first.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    stopServers.abort();
    await approval?.catch(() => {});
    await kubelet?.close();
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runStandalone({ name, title, run });
