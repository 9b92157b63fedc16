/**
 * The gate's public types: checks and their outcomes, reports, options, the gate itself,
 * {@link NotReadyError}, and the payloads of the gate's diagnostics channels.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Classifier, Verdict } from '../classify/index.js';
import type { AttemptContext, RetryOptions } from '../retry/index.js';
import type { Clock } from '../shared/clock.js';
import type { HookErrorEvent } from '../shared/hooks.js';

/** What a check is called with besides its subject. */
export interface CheckContext {
  /**
   * Aborts when the check times out (`timeoutMs`), when the caller's signal aborts, when a
   * waiting deadline passes, or when the gate drains. Hand it to `fetch` and friends.
   */
  readonly signal: AbortSignal;
}

/**
 * What a check may answer: `true` or `{ ok: true }` passes; `false`, a string (the reason) or
 * `{ ok: false, detail }` fails with that detail. Anything else is a bug in the check and fails
 * it with a permanent verdict.
 */
export type CheckOutcome =
  | boolean
  | string
  | {
      /** Whether the check passed. */
      readonly ok: boolean;
      /** Why it failed, or a note on a pass; it becomes the result's `detail`. */
      readonly detail?: string;
    };

/** One named readiness check of a subject (a gateway pod, a node). It may be async. */
export type Check<S> = (subject: S, context: CheckContext) => CheckOutcome | PromiseLike<CheckOutcome>;

/** The checks of a gate, by name. Names appear in reports and in the probe's URLs. */
export type Checks<S> = Readonly<Record<string, Check<S>>>;

/** The outcome of one check for one subject. */
export interface CheckResult {
  /** The check's name. */
  readonly name: string;
  /** Whether it passed. */
  readonly ok: boolean;
  /**
   * Why it failed (the string or `detail` it returned, the message of what it threw,
   * `'timed out after N ms'`), or the detail a passing check gave; `''` when there is none.
   */
  readonly detail: string;
  /** From the call to the answer (or to the timeout). */
  readonly durationMs: number;
  /** What it threw, untouched (a `TimeoutError` when it timed out). */
  readonly error?: unknown;
  /** How `error` was classified: a permanent verdict ends a wait at once. */
  readonly verdict?: Verdict;
}

/** Every check's outcome for one subject. */
export interface Report<S> {
  /** True when every check passed (and the gate is not draining). */
  readonly ready: boolean;
  /** The subject the checks ran on (`undefined` for the probe). */
  readonly subject: S;
  /** The subject's name in messages (see the `key` option); `''` when there is no subject. */
  readonly key: string;
  /** One result per check, in the order the checks were declared. */
  readonly results: readonly CheckResult[];
  /** The gate's `name` option; absent when it has none. */
  readonly name?: string | undefined;
}

/** The reports of {@link ReadinessGate.evaluateAll}: one per subject, in the order given. */
export interface ReportSet<S> {
  /** True only when every subject is ready. */
  readonly ready: boolean;
  /** One report per subject, in the order the subjects were given. */
  readonly reports: readonly Report<S>[];
}

/** Options of {@link readinessGate}. Every option is checked at the call. */
export interface GateOptions<S> {
  /** The checks, by name (at least one). The name `'shutdown'` is reserved for {@link ReadinessGate.drain}. */
  checks: Checks<S>;
  /**
   * How long each check may run, in milliseconds (> 0, at most 2147483647, the timer limit); a
   * check still running then fails with `'timed out after N ms'` and its signal aborts.
   * @defaultValue 5000
   */
  timeoutMs?: number | undefined;
  /**
   * Names a subject in reports and messages (`'gw-2'` in `"gw-2: tunnel: status is DOWN"`).
   * Two subjects of one evaluation must not share a key.
   * @defaultValue String(subject), and `''` for `undefined`
   */
  key?: ((subject: S) => string) | undefined;
  /**
   * Classifies what a check throws. A permanent verdict makes
   * {@link ReadinessGate.waitUntilReady} give up at once.
   * @defaultValue classify
   */
  classify?: Classifier | undefined;
  /**
   * The time source for durations, timeouts and the waits' schedule (inject a fake one in tests).
   * @defaultValue realClock
   */
  clock?: Clock | undefined;
  /**
   * A short label for the gate (`'gateways'`), carried in its reports, progress events, channel
   * payloads and trace contexts, so that two gates of one process can be told apart.
   * @defaultValue none
   */
  name?: string | undefined;
}

/** Options of {@link ReadinessGate.evaluate}. */
export interface EvaluateOptions {
  /** Aborting it aborts the checks' signals and rejects with `signal.reason`. @defaultValue none */
  signal?: AbortSignal | undefined;
}

/** Options of {@link ReadinessGate.evaluateAll}. */
export interface EvaluateAllOptions<S> extends EvaluateOptions {
  /** Overrides the gate's `key` for this call. @defaultValue the gate's `key` */
  key?: ((subject: S) => string) | undefined;
}

/** Given to `onProgress` after every evaluation of {@link ReadinessGate.waitUntilReady}. */
export interface ProgressEvent<S> {
  /** 1 for the first evaluation. */
  readonly attempt: number;
  /** True when this evaluation found every subject ready (the wait then resolves). */
  readonly ready: boolean;
  /** This evaluation's reports, one per subject, in the order given. */
  readonly reports: readonly Report<S>[];
  /** Milliseconds since `waitUntilReady()` was called. */
  readonly elapsedMs: number;
  /** The gate's `name` option; absent when it has none. */
  readonly name?: string | undefined;
}

/**
 * Options of {@link ReadinessGate.waitUntilReady}: the {@link RetryOptions} of the re-evaluation
 * schedule (but `classify` and `clock`, which are the gate's), with defaults for waiting.
 */
export interface WaitUntilReadyOptions<S> extends Omit<RetryOptions, 'classify' | 'clock' | 'maxAttempts' | 'maxDelayMs'> {
  /**
   * Evaluations in all. The wait is meant to be bounded by `deadlineMs` (or `signal`); without
   * any of the three it lasts until ready or until a check fails permanently.
   * @defaultValue Infinity
   */
  maxAttempts?: number | undefined;
  /**
   * The longest pause between evaluations: a subject that becomes ready is noticed within it.
   * @defaultValue 5000
   */
  maxDelayMs?: number | undefined;
  /** Overrides the gate's `key` for this call. @defaultValue the gate's `key` */
  key?: ((subject: S) => string) | undefined;
  /**
   * Called after every evaluation (with a frozen event), for logs and metrics. What it throws or
   * its promise rejects with never changes the wait: it is published on
   * `ridethrough:gate:hook-error` as `{ hook: 'onProgress', error, name? }`.
   * @defaultValue none
   */
  onProgress?: ((event: ProgressEvent<S>) => unknown) | undefined;
}

/** Options of {@link ReadinessGate.handler}. */
export interface HandlerOptions {
  /**
   * Where the probe is served. `<path>/<name>` answers for one check, and the last segment names
   * the final line (`readyz check passed`). Other paths get 404.
   * @defaultValue '/readyz'
   */
  path?: string | undefined;
  /**
   * Whether the aggregate endpoint (`<path>`, `<path>?verbose`) prints why a check failed. By
   * default it prints `[-]name failed: reason withheld`, as kube-apiserver does, because anyone
   * who can reach the port can read it (a failure's detail can hold a connection string);
   * `<path>/<name>` always gives that check's detail. Set it where the port is private.
   * @defaultValue false
   */
  details?: boolean | undefined;
}

/** A `node:http` request listener (also usable with express, fastify's raw mode and the like). */
export type ProbeHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** A readiness gate; create one with {@link readinessGate}. */
export interface ReadinessGate<S> {
  /** The check names, in declared order. */
  readonly names: readonly string[];
  /** Whether {@link ReadinessGate.drain} was called. */
  readonly drained: boolean;
  /**
   * Runs every check on `subject` at once, each bounded by `timeoutMs`, and resolves with the
   * report. It never rejects because of a check (what a check throws or rejects with is its
   * failure); only `signal` and bad arguments make it reject.
   */
  evaluate(subject: S, options?: EvaluateOptions): Promise<Report<S>>;
  /**
   * Evaluates every subject at once; ready only when all are. Subjects whose keys collide make
   * it reject with a `TypeError`, as bad options do.
   */
  evaluateAll(subjects: readonly S[], options?: EvaluateAllOptions<S>): Promise<ReportSet<S>>;
  /**
   * Re-evaluates every subject on the retry schedule until all are ready in one evaluation, and
   * resolves with those reports. Rejects with a {@link NotReadyError} when the deadline passes,
   * the attempts run out, a check fails permanently or the gate drains; with `signal.reason` when
   * the signal aborts.
   */
  waitUntilReady(subjects: readonly S[], options?: WaitUntilReadyOptions<S>): Promise<Report<S>[]>;
  /**
   * A readiness probe for this process: a `node:http` handler that evaluates the checks without a
   * subject (so it exists only when `undefined` is a valid subject). It answers 200 `ok` when
   * ready and 503 when not, like kube-apiserver's `/readyz`: `?verbose` lists `[+]name ok` and
   * `[-]name failed: reason withheld` lines and a final `readyz check passed|failed` line (a
   * failure is always verbose; the `details` option prints the reasons instead);
   * `?exclude=name` (repeatable) skips a check, with a `warn:` line for a name that matches
   * nothing; `<path>/<name>` answers for one check with its detail (404 for an unknown name).
   * Only GET and HEAD are answered (405 otherwise). Control characters in names and details are
   * escaped (`\u2028`). Requests that arrive while an evaluation of the same checks is running
   * share it, so a flood of probes runs each check once; when every client of that evaluation has
   * hung up, its checks are aborted.
   *
   * @example
   * ```ts
   * import { createServer } from 'node:http';
   * import { once } from 'node:events';
   * import { readinessGate } from 'ridethrough';
   *
   * let informersSynced = false;
   * const gate = readinessGate({
   *   checks: { informers: () => informersSynced || 'caches not synced yet' },
   * });
   * const server = createServer(gate.handler()).listen(0, '127.0.0.1');
   * await once(server, 'listening');
   * const { port } = server.address() as { port: number };
   * const probe = async (path: string) => {
   *   const response = await fetch(`http://127.0.0.1:${port}${path}`);
   *   return `${response.status} ${await response.text()}`;
   * };
   * console.log(await probe('/readyz')); // 503 [-]informers failed: reason withheld ...
   * console.log(await probe('/readyz/informers')); // 503 internal server error: caches not synced yet
   * informersSynced = true;
   * console.log(await probe('/readyz')); // 200 ok
   * console.log(await probe('/readyz?verbose')); // 200 [+]informers ok [+]shutdown ok readyz check passed
   * gate.drain(); // on SIGTERM: out of the Service's endpoints before the server stops
   * console.log(await probe('/readyz')); // 503 [-]shutdown failed: process is shutting down ...
   * server.close();
   * ```
   */
  readonly handler: undefined extends S ? (options?: HandlerOptions) => ProbeHandler : never;
  /**
   * From now on the gate is not ready: every evaluation, the probe and every wait report a failing
   * `shutdown` pseudo-check (`process is shutting down`) at once, without running the checks, and
   * checks in flight are aborted. Call it on SIGTERM, before the server stops serving, so
   * Kubernetes takes the pod out of its endpoints first. It cannot be undone. The probe still
   * answers for single checks (`/readyz/<name>`), as kube-apiserver does; `?exclude=shutdown`
   * sees past the drain.
   *
   * @example
   * ```ts
   * import { readinessGate } from 'ridethrough';
   *
   * const gate = readinessGate({ checks: { ping: () => true } });
   * const onSigterm = () => {
   *   gate.drain();
   *   // ...keep serving for a few seconds while the endpoints update, then close the server.
   * };
   * process.once('SIGTERM', onSigterm);
   * onSigterm(); // as if the kubelet had sent it
   * process.off('SIGTERM', onSigterm);
   * const report = await gate.evaluate(undefined);
   * console.log(report.ready, report.results[0]?.detail); // false process is shutting down
   * ```
   */
  drain(): void;
}

/**
 * The gate was not ready in time: the deadline passed, the attempts ran out, a check failed
 * permanently or the gate drained. `reports` holds the last complete evaluation (one report per
 * subject); the message lists each failing check as `subject: check: detail` (at most 20 lines).
 * `cause` is the error a failing check threw, a permanent one first, if any did.
 *
 * Guide: [Readiness gates](../../docs/guides/readiness-gate.md).
 *
 * @example
 * ```ts
 * import { NotReadyError, readinessGate } from 'ridethrough';
 *
 * const gate = readinessGate({ checks: { tunnel: (gw: string) => gw !== 'gw-2' || 'status is DOWN' } });
 * try {
 *   await gate.waitUntilReady(['gw-1', 'gw-2'], { deadlineMs: 200, initialDelayMs: 20 });
 * } catch (error) {
 *   if (!(error instanceof NotReadyError)) throw error;
 *   console.log(error.message);
 *   // not ready after 1xx ms and N attempts (no wait past the deadline is started):
 *   //   gw-2: tunnel: status is DOWN
 *   console.log(error.reports.filter((r) => !r.ready).map((r) => r.key)); // [ 'gw-2' ]
 * }
 * ```
 */
export class NotReadyError<S = unknown> extends Error {
  /** Always `'NotReadyError'`. */
  override readonly name = 'NotReadyError' as const;
  /** The last evaluation, one report per subject. */
  readonly reports: readonly Report<S>[];

  constructor(message: string, reports: readonly Report<S>[], options?: ErrorOptions) {
    super(message, options);
    this.reports = reports;
  }
}
/**
 * The condition of {@link waitFor}: a value means done; `undefined` or `false` means not yet.
 * (`null`, `0` and `''` are values.)
 */
export type WaitCondition<T> = (
  context: AttemptContext,
) => T | undefined | false | PromiseLike<T | undefined | false>;

/** Options of {@link waitFor}: the {@link RetryOptions} of the polling schedule, with defaults for waiting. */
export interface WaitForOptions extends Omit<RetryOptions, 'maxAttempts' | 'maxDelayMs'> {
  /**
   * Calls in all. The wait is meant to be bounded by `deadlineMs` (or `signal`).
   * @defaultValue Infinity
   */
  maxAttempts?: number | undefined;
  /**
   * The longest pause between calls: a condition that comes true is noticed within it.
   * @defaultValue 5000
   */
  maxDelayMs?: number | undefined;
  /**
   * What is awaited, for the messages (`'terminated state: not met after 2000 ms'`), the
   * `hook-error` events and the trace contexts.
   * @defaultValue 'condition'
   */
  name?: string | undefined;
}

/** Published on `ridethrough:gate:report` after each subject's evaluation: its frozen report. */
export type GateReportEvent = Report<unknown>;

/** Published on `ridethrough:gate:drain` when {@link ReadinessGate.drain} is first called. */
export interface GateDrainEvent {
  /** How many evaluations were still running (their checks are aborted). */
  readonly inFlight: number;
  /** The gate's `name` option; absent when it has none. */
  readonly name?: string | undefined;
}

/**
 * The context of the `ridethrough:gate:evaluate` tracing channel (one per evaluation: a call of
 * `evaluate`, `evaluateAll`, one evaluation of `waitUntilReady`, one probe run). It belongs to
 * the tracing subscriber and stays mutable.
 */
export interface GateEvaluateContext {
  /** The gate's `name` option, when it has one. */
  name?: string | undefined;
  /** How many subjects are evaluated. */
  subjects: number;
  /** Set by the time of `asyncEnd`: whether every subject was ready. */
  ready?: boolean;
}

/** Every plain diagnostics channel of the gate, by name, with the payload it publishes. */
export interface GateMessages {
  /** A subject was evaluated: its report. */
  'ridethrough:gate:report': GateReportEvent;
  /** `drain()` was called. */
  'ridethrough:gate:drain': GateDrainEvent;
  /** An `onProgress`/`onRetry`/`onRecovered` hook threw or rejected. */
  'ridethrough:gate:hook-error': HookErrorEvent;
}
