/**
 * The readiness probe: `gate.handler()`, a `node:http` handler that answers like
 * kube-apiserver's `/readyz`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { abortError } from '../shared/signals.js';
import { booleanOption, checkOptionNames, describe, optionsObject } from '../shared/validate.js';
import { SHUTDOWN, SHUTDOWN_RESULT, SHUTTING_DOWN, evaluateOne, type GateState, type NamedCheck } from './evaluate.js';
import { escapeUnprintable, oneLine } from './format.js';
import type { CheckResult, HandlerOptions, ProbeHandler, Report } from './types.js';

const HANDLER_OPTIONS: ReadonlySet<string> = new Set(['path', 'details']);
const WITHHELD = 'reason withheld';

/** An evaluation for the probe that concurrent requests share; aborted when all its clients left. */
interface SharedRun<S> {
  readonly report: Promise<Report<S>>;
  readonly hangUp: AbortController;
  clients: number;
}

export function createHandler<S>(gate: GateState<S>, options: HandlerOptions | undefined): ProbeHandler {
  const where = 'handler()';
  const o = optionsObject(where, options);
  checkOptionNames(where, o, HANDLER_OPTIONS);
  const details = booleanOption(where, 'details', o.details, false);
  const runs = new Map<string, SharedRun<S>>();
  const path = o.path ?? '/readyz';
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new TypeError(`${where}: option "path" must be a URL path starting with "/", got ${describe(path)}`);
  }
  const base = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const prefix = base === '/' ? '/' : `${base}/`;
  const endpoint = base.split('/').filter(Boolean).pop() ?? 'readyz';
  const byName = new Map(gate.checks.map((e) => [e.name, e] as const));

  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(request, response, 405, 'method not allowed\n');
      return;
    }
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      send(request, response, 400, 'bad request\n');
      return;
    }
    const pathname = url.pathname;
    if (pathname === base || pathname === prefix) {
      serveAll(gate, runs, details, endpoint, url, request, response);
      return;
    }
    if (!pathname.startsWith(prefix)) {
      send(request, response, 404, '404 page not found\n');
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(pathname.slice(prefix.length));
    } catch {
      name = '';
    }
    if (name === SHUTDOWN) {
      if (gate.drained) send(request, response, 503, `internal server error: ${SHUTTING_DOWN}\n`);
      else send(request, response, 200, 'ok');
      return;
    }
    const entry = byName.get(name);
    if (entry === undefined) {
      send(request, response, 404, '404 page not found\n');
      return;
    }
    // One check, as kube-apiserver's /readyz/<name>: it runs even while draining.
    probe(gate, runs, [entry], false, request, response, (report) => {
      const result = report.results[0]!;
      if (result.ok) send(request, response, 200, 'ok');
      else send(request, response, 503, `internal server error: ${oneLine(result.detail)}\n`);
    });
  };
}

function serveAll<S>(
  gate: GateState<S>,
  runs: Map<string, SharedRun<S>>,
  details: boolean,
  endpoint: string, url: URL, request: IncomingMessage, response: ServerResponse): void {
  const verbose = url.searchParams.has('verbose');
  const excluded = new Set(url.searchParams.getAll('exclude'));
  const known = new Set([...gate.checks.map((e) => e.name), SHUTDOWN]);
  const unmatched = [...excluded].filter((name) => !known.has(name));
  const included = gate.checks.filter((e) => !excluded.has(e.name));
  const shutdownExcluded = excluded.has(SHUTDOWN);

  const warn =
    unmatched.length > 0
      ? [`warn: some health checks cannot be excluded: no matches for ${unmatched.map((n) => escapeUnprintable(JSON.stringify(n))).join(',')}`]
      : [];
  const reply = (ready: boolean, lines: string[]): void => {
    if (ready && !verbose) send(request, response, 200, 'ok');
    else send(request, response, ready ? 200 : 503, `${[...lines, ...warn, `${endpoint} check ${ready ? 'passed' : 'failed'}`].join('\n')}\n`);
  };
  // Draining: answer at once without running the checks; the shutdown line says why.
  if (gate.drained && !shutdownExcluded) {
    reply(false, [probeLine(SHUTDOWN_RESULT, true)]);
    return;
  }
  probe(gate, runs, included, !shutdownExcluded, request, response, (report) => {
    const byName = new Map(report.results.map((r) => [r.name, r] as const));
    const lines = gate.checks.map(({ name }) =>
      excluded.has(name) ? `[+]${escapeUnprintable(name)} excluded: ok` : probeLine(byName.get(name)!, details),
    );
    // drain() may have come while the checks ran; then the report carries the failing shutdown result.
    if (shutdownExcluded) lines.push(`[+]${SHUTDOWN} excluded: ok`);
    else lines.push(byName.has(SHUTDOWN) ? probeLine(SHUTDOWN_RESULT, true) : `[+]${SHUTDOWN} ok`);
    reply(report.ready, lines);
  });
}

/** A check's line; its failure's detail only with `details` (the shutdown line always says why). */
function probeLine(result: CheckResult, details: boolean): string {
  const name = escapeUnprintable(result.name);
  return result.ok ? `[+]${name} ok` : `[-]${name} failed: ${details ? oneLine(result.detail) : WITHHELD}`;
}

/**
 * Evaluates `checks` without a subject for one request. Requests for the same checks that arrive
 * while such an evaluation runs share it: a flood of probes must not multiply the load on what
 * the checks look at. A client that hangs up (a kubelet probe that timed out) leaves; when the
 * last one has left, the checks are aborted: nobody is waiting for the answer.
 */
function probe<S>(
  gate: GateState<S>,
  runs: Map<string, SharedRun<S>>,
  checks: readonly NamedCheck<S>[],
  honorDrain: boolean,
  request: IncomingMessage,
  response: ServerResponse,
  answer: (report: Report<S>) => void,
): void {
  const id = `${honorDrain ? '+' : '-'}${JSON.stringify(checks.map((c) => c.name))}`;
  let run = runs.get(id);
  if (run === undefined) {
    const hangUp = new AbortController();
    const report = evaluateOne(gate, { checks, signal: hangUp.signal, rejectSignal: hangUp.signal, honorDrain }, undefined as S, '');
    const shared: SharedRun<S> = { report, hangUp, clients: 0 };
    runs.set(id, shared);
    const forget = (): void => {
      if (runs.get(id) === shared) runs.delete(id);
    };
    report.then(forget, forget);
    run = shared;
  }
  const joined = run;
  joined.clients++;
  let left = false;
  const onClose = (): void => {
    left = true;
    if (--joined.clients === 0) joined.hangUp.abort(abortError('the client closed the connection'));
  };
  response.once('close', onClose);
  joined.report.then(
    (report) => {
      response.off('close', onClose);
      if (!left) answer(report);
    },
    () => {
      response.off('close', onClose);
      // Aborted because every client left; otherwise a bug in this module: answer, never hang.
      if (!left) send(request, response, 500, 'internal server error\n');
    },
  );
}

function send(request: IncomingMessage, response: ServerResponse, status: number, body: string): void {
  if (response.headersSent || response.destroyed) return;
  response.statusCode = status;
  response.setHeader('Content-Type', 'text/plain; charset=utf-8');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Length', Buffer.byteLength(body));
  response.end(request.method === 'HEAD' ? undefined : body);
}

