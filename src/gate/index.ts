/**
 * `ridethrough/gate`: the readiness gate. Do not start a step until every named check passes for
 * every subject, and when it is not ready, say which check failed for which subject and why
 * ({@link readinessGate}); wait for any condition on the same schedule ({@link waitFor}).
 *
 * ```ts
 * import { readinessGate } from 'ridethrough/gate';
 *
 * let synced = false;
 * const gate = readinessGate({ checks: { informers: () => synced || 'caches not synced yet' } });
 * console.log((await gate.evaluate(undefined)).ready); // false
 * synced = true;
 * console.log((await gate.evaluate(undefined)).ready); // true
 * ```
 *
 * Guide: [Readiness gates](../../docs/guides/readiness-gate.md).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { classify as defaultClassify, type Classifier, type Verdict } from '../classify/index.js';
import { retry, type AttemptContext, type RetryOptions } from '../retry/index.js';
import { MAX_TIMER_MS, realClock, startTimer, type Clock } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { safeClassify } from '../classify/safe-classify.js';
import { abortError, linkedController, timeoutError } from '../shared/signals.js';
import {
  describe,
  functionOption,
  numberOption,
  objectOption,
  optionsObject,
  requiredFunction,
  signalOption,
} from '../shared/validate.js';

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
  timeoutMs?: number;
  /**
   * Names a subject in reports and messages (`'gw-2'` in `"gw-2: tunnel: status is DOWN"`).
   * Two subjects of one evaluation must not share a key.
   * @defaultValue String(subject), and `''` for `undefined`
   */
  key?: (subject: S) => string;
  /**
   * Classifies what a check throws. A permanent verdict makes
   * {@link ReadinessGate.waitUntilReady} give up at once.
   * @defaultValue classify
   */
  classify?: Classifier;
  /**
   * The time source for durations, timeouts and the waits' schedule (inject a fake one in tests).
   * @defaultValue realClock
   */
  clock?: Clock;
}

/** Options of {@link ReadinessGate.evaluate}. */
export interface EvaluateOptions {
  /** Aborting it aborts the checks' signals and rejects with `signal.reason`. @defaultValue none */
  signal?: AbortSignal;
}

/** Options of {@link ReadinessGate.evaluateAll}. */
export interface EvaluateAllOptions<S> extends EvaluateOptions {
  /** Overrides the gate's `key` for this call. @defaultValue the gate's `key` */
  key?: (subject: S) => string;
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
  maxAttempts?: number;
  /**
   * The longest pause between evaluations: a subject that becomes ready is noticed within it.
   * @defaultValue 5000
   */
  maxDelayMs?: number;
  /** Overrides the gate's `key` for this call. @defaultValue the gate's `key` */
  key?: (subject: S) => string;
  /** Called after every evaluation. An exception thrown here ends the wait with that exception. */
  onProgress?: (event: ProgressEvent<S>) => void;
}

/** Options of {@link ReadinessGate.handler}. */
export interface HandlerOptions {
  /**
   * Where the probe is served. `<path>/<name>` answers for one check, and the last segment names
   * the final line (`readyz check passed`). Other paths get 404.
   * @defaultValue '/readyz'
   */
  path?: string;
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
   * report. It never rejects because of a check; only `signal` makes it reject.
   */
  evaluate(subject: S, options?: EvaluateOptions): Promise<Report<S>>;
  /**
   * Evaluates every subject at once; ready only when all are. Subjects whose keys collide throw
   * a `TypeError` at the call.
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
   * `[-]name failed: detail` lines and a final `readyz check passed|failed` line (a failure is
   * always verbose); `?exclude=name` (repeatable) skips a check, with a `warn:` line for a name
   * that matches nothing; `<path>/<name>` answers for one check (404 for an unknown name).
   * Only GET and HEAD are answered (405 otherwise). A client that hangs up aborts the checks.
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
   * console.log(await probe('/readyz')); // 503 [-]informers failed: caches not synced yet ...
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

// ---------------------------------------------------------------------------------------------

const WHERE = 'readinessGate()';
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_WAIT_MAX_DELAY_MS = 5_000;
const SHUTDOWN = 'shutdown';
const SHUTTING_DOWN = 'process is shutting down';
const NOT_READY = 'not ready';
const DRAINING = 'the gate is draining';
/** How many failing checks a message lists before it says "and N more". */
const MESSAGE_LINES = 20;
/** Formatted details are cut here: an error message can hold a whole response body. */
const MAX_DETAIL_CHARS = 500;

const TIMED_OUT: Verdict = Object.freeze({ kind: 'transient', reason: 'timed out' });
const ABORTED: Verdict = Object.freeze({ kind: 'transient', reason: 'aborted' });
const INVALID_OUTCOME: Verdict = Object.freeze({ kind: 'permanent', reason: 'invalid check outcome' });
const CALLBACK_THREW: Verdict = Object.freeze({ kind: 'permanent', reason: 'a callback threw' });
const DRAINED: Verdict = Object.freeze({ kind: 'permanent', reason: 'gate drained' });
const NOT_YET: Verdict = Object.freeze({ kind: 'transient', reason: NOT_READY });
const SHUTDOWN_RESULT: CheckResult = Object.freeze({ name: SHUTDOWN, ok: false, detail: SHUTTING_DOWN, durationMs: 0 });

const reportChannel = diagnosticsChannel(diagnosticsChannels.gate.report);
const drainChannel = diagnosticsChannel(diagnosticsChannels.gate.drain);

interface Entry<S> {
  readonly name: string;
  readonly check: Check<S>;
}

/** Everything the evaluations of one gate share. */
interface Core<S> {
  readonly entries: readonly Entry<S>[];
  readonly timeoutMs: number;
  readonly key: (subject: S) => string;
  readonly classify: Classifier;
  readonly clock: Clock;
  drained: boolean;
  /** Evaluations waiting on async checks, so `drain()` can end them. */
  readonly inFlight: Set<Batch<S>>;
  /** The signals of running `waitUntilReady()` calls, so `drain()` can end their pauses. */
  readonly waits: Set<AbortController>;
}

/**
 * Creates a readiness gate over named checks. Options are checked at the call: no checks, a check
 * that is not a function, a reserved or unprintable name, or a bad `timeoutMs` throw here.
 *
 * @typeParam S - The subject the checks examine (a pod, a node, a URL); inferred from the checks.
 *
 * @example
 * ```ts
 * import { formatReport, readinessGate } from 'ridethrough';
 *
 * interface Gateway { name: string; tunnel: 'UP' | 'DOWN'; keyVersion: number }
 * const gate = readinessGate({
 *   checks: {
 *     tunnel: (gw: Gateway) => gw.tunnel === 'UP' || `status is ${gw.tunnel}`,
 *     key: (gw: Gateway) => ({ ok: gw.keyVersion >= 2, detail: `key version ${gw.keyVersion}` }),
 *   },
 *   key: (gw) => gw.name,
 * });
 * const { ready, reports } = await gate.evaluateAll([
 *   { name: 'gw-1', tunnel: 'UP', keyVersion: 2 },
 *   { name: 'gw-2', tunnel: 'DOWN', keyVersion: 2 },
 * ]);
 * console.log(ready); // false
 * console.log(formatReport(reports));
 * ```
 */
export function readinessGate<S>(options: GateOptions<S>): ReadinessGate<S> {
  if (options === undefined) throw new TypeError(`${WHERE}: options with "checks" are required`);
  const o = optionsObject(WHERE, options);
  const core: Core<S> = {
    entries: checkEntries(o.checks),
    timeoutMs: numberOption(WHERE, 'timeoutMs', o.timeoutMs, DEFAULT_TIMEOUT_MS, {
      min: 0,
      minExclusive: true,
      max: MAX_TIMER_MS,
    }),
    key: functionOption<(subject: S) => string>(WHERE, 'key', o.key) ?? defaultKey,
    classify: functionOption<Classifier>(WHERE, 'classify', o.classify) ?? defaultClassify,
    clock: objectOption<Clock>(WHERE, 'clock', o.clock, ['now', 'sleep']) ?? realClock,
    drained: false,
    inFlight: new Set(),
    waits: new Set(),
  };
  const names = Object.freeze(core.entries.map((e) => e.name));
  const gate: ReadinessGate<S> = {
    names,
    get drained() {
      return core.drained;
    },
    evaluate(subject, evaluateOptions) {
      const where = 'evaluate()';
      const eo = optionsObject(where, evaluateOptions);
      const signal = signalOption(where, eo.signal);
      const key = subjectKey(where, core.key, subject, 'the subject');
      const reports = evaluate({ core, entries: core.entries, signal, rejectSignal: signal, honorDrain: true }, [subject], [key]);
      return Array.isArray(reports) ? Promise.resolve(reports[0]!) : reports.then(first);
    },
    evaluateAll(subjects, evaluateOptions) {
      const where = 'evaluateAll()';
      const eo = optionsObject(where, evaluateOptions);
      const signal = signalOption(where, eo.signal);
      const keys = subjectKeys(where, subjects, functionOption<(subject: S) => string>(where, 'key', eo.key) ?? core.key);
      return evaluateMany(core, subjects, keys, signal, signal);
    },
    waitUntilReady(subjects, waitOptions) {
      return waitUntilReady(core, subjects, waitOptions);
    },
    handler: ((handlerOptions?: HandlerOptions) => createHandler(core, handlerOptions)) as unknown as ReadinessGate<S>['handler'],
    drain() {
      if (core.drained) return;
      core.drained = true;
      const inFlight = [...core.inFlight];
      if (drainChannel.hasSubscribers) drainChannel.publish({ inFlight: inFlight.length });
      for (const evaluation of inFlight) evaluation.drain();
      // A wait paused between evaluations would only notice at its next one: end it now.
      for (const wait of [...core.waits]) wait.abort(abortError(DRAINING));
    },
  };
  return gate;
}

function checkEntries<S>(checks: unknown): Entry<S>[] {
  if (checks === null || typeof checks !== 'object' || Array.isArray(checks)) {
    throw new TypeError(`${WHERE}: option "checks" must be an object of named check functions, got ${describe(checks)}`);
  }
  const entries: Entry<S>[] = [];
  for (const [name, check] of Object.entries(checks)) {
    if (typeof check !== 'function') {
      throw new TypeError(`${WHERE}: check "${name}" must be a function, got ${describe(check)}`);
    }
    if (name === SHUTDOWN) {
      throw new TypeError(`${WHERE}: the check name "${SHUTDOWN}" is reserved for drain(); choose another name`);
    }
    if (name === '' || /\p{Cc}/u.test(name)) {
      throw new TypeError(`${WHERE}: check names must be non-empty and printable, got ${JSON.stringify(name)}`);
    }
    entries.push({ name, check: check as Check<S> });
  }
  if (entries.length === 0) throw new TypeError(`${WHERE}: option "checks" must name at least one check`);
  return entries;
}

function defaultKey(subject: unknown): string {
  if (subject === undefined) return '';
  try {
    return String(subject);
  } catch {
    // Objects without a prototype have no toString.
    return Object.prototype.toString.call(subject);
  }
}

function subjectKey<S>(where: string, key: (subject: S) => string, subject: S, which: string): string {
  const value = key(subject);
  if (typeof value !== 'string') {
    throw new TypeError(`${where}: option "key" must return a string, got ${describe(value)} for ${which}`);
  }
  return value;
}

function subjectKeys<S>(where: string, subjects: unknown, key: (subject: S) => string): string[] {
  if (!Array.isArray(subjects)) throw new TypeError(`${where}: "subjects" must be an array, got ${describe(subjects)}`);
  const keys = new Array<string>(subjects.length);
  const seen = new Map<string, number>();
  for (let i = 0; i < subjects.length; i++) {
    const k = subjectKey(where, key, subjects[i] as S, `subject ${i}`);
    const first = seen.get(k);
    if (first !== undefined) {
      throw new TypeError(
        `${where}: subjects ${first} and ${i} have the same key ${JSON.stringify(k)}; pass a "key" option that tells them apart`,
      );
    }
    seen.set(k, i);
    keys[i] = k;
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** How one evaluation runs: which checks, and what stops them. */
interface Run<S> {
  readonly core: Core<S>;
  readonly entries: readonly Entry<S>[];
  /** Aborts the checks still running. */
  readonly signal: AbortSignal | undefined;
  /**
   * The caller's own signal: when it aborts, the evaluation rejects with its reason. Any other
   * abort of `signal` (a wait's deadline) finishes the reports, the checks still running failed
   * as `aborted: <reason>`.
   */
  readonly rejectSignal: AbortSignal | undefined;
  /** Whether drain() applies (it does not to `/readyz/<name>` and `?exclude=shutdown`). */
  readonly honorDrain: boolean;
}

/**
 * The context a check gets. Its AbortController is made on first read of `signal`: creating one
 * costs about a microsecond, and most checks never look at it.
 */
class LazyCheckContext implements CheckContext {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  readonly #calledAt: number;

  constructor(calledAt: number) {
    this.#calledAt = calledAt;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** When the check was called, on the gate's clock. */
  calledAt(): number {
    return this.#calledAt;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * Evaluates every subject, all at once. Synchronous checks answer within this call, and when all
 * do, the reports are returned as they are: no promise, no timer. Checks that answer with a
 * promise are waited for by one {@link Batch} for all the subjects.
 */
function evaluate<S>(run: Run<S>, subjects: readonly S[], keys: readonly string[]): Report<S>[] | Promise<Report<S>[]> {
  if (run.rejectSignal?.aborted) return Promise.reject(run.rejectSignal.reason);
  const batch = new Batch(run, subjects.length);
  for (let slot = 0; slot < subjects.length; slot++) runChecks(batch, subjects[slot]!, keys[slot]!, slot);
  return batch.running ? batch.start() : batch.reports;
}

/** Calls every check of one subject; the synchronous answers are recorded at once. */
function runChecks<S>(batch: Batch<S>, subject: S, key: string, slot: number): void {
  const { core, entries, signal, honorDrain } = batch.run;
  if (honorDrain && core.drained) {
    batch.reports[slot] = publish({ ready: false, subject, key, results: [SHUTDOWN_RESULT] });
    return;
  }
  const results = new Array<CheckResult>(entries.length);
  if (signal?.aborted) {
    for (let i = 0; i < entries.length; i++) results[i] = abortedResult(entries[i]!.name, signal.reason, 0);
    batch.reports[slot] = finish(core, subject, key, results, honorDrain);
    return;
  }
  const clock = core.clock;
  let pending: PendingSubject<S> | undefined;
  let t = clock.now();
  for (let i = 0; i < entries.length; i++) {
    const { name, check } = entries[i]!;
    const start = t;
    const context = new LazyCheckContext(start);
    let outcome: unknown;
    let threw = false;
    try {
      outcome = check(subject, context);
      if (isThenable(outcome)) {
        pending ??= new PendingSubject(slot, subject, key, results);
        batch.track(pending, i, context, outcome);
        // No clock read here: the next check's start is this one's, a call's worth earlier.
        continue;
      }
    } catch (error) {
      outcome = error;
      threw = true;
    }
    t = clock.now();
    results[i] = threw ? thrownResult(core, name, outcome, t - start) : outcomeResult(name, outcome, t - start);
  }
  if (pending === undefined) batch.reports[slot] = finish(core, subject, key, results, honorDrain);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function finish<S>(core: Core<S>, subject: S, key: string, results: CheckResult[], honorDrain: boolean): Report<S> {
  let ready = true;
  for (const r of results) if (!r.ok) ready = false;
  // A check may have called drain(), or drain() came while async checks were running.
  if (honorDrain && core.drained) {
    results.push(SHUTDOWN_RESULT);
    ready = false;
  }
  return publish({ ready, subject, key, results });
}

function publish<S>(report: Report<S>): Report<S> {
  if (reportChannel.hasSubscribers) reportChannel.publish(report);
  return report;
}

/** A subject with checks still running: their contexts by check index, undefined once answered. */
class PendingSubject<S> {
  readonly running: (LazyCheckContext | undefined)[];
  remaining = 0;

  constructor(
    readonly slot: number,
    readonly subject: S,
    readonly key: string,
    readonly results: CheckResult[],
  ) {
    this.running = new Array<LazyCheckContext | undefined>(results.length);
  }
}

/**
 * The async part of one evaluation, for all its subjects together: one promise, one timeout
 * timer, one abort listener, one entry in the gate's in-flight set. (The checks of all subjects
 * are called within microseconds of each other, so one timer bounds them all.)
 */
class Batch<S> {
  readonly run: Run<S>;
  readonly reports: Report<S>[];
  readonly #startedAt: number;
  readonly #pending: PendingSubject<S>[] = [];
  #remaining = 0;
  #cancelTimer: (() => void) | undefined;
  #onAbort: (() => void) | undefined;
  #done = false;
  #resolve!: (reports: Report<S>[]) => void;
  #reject!: (reason: unknown) => void;

  constructor(run: Run<S>, subjects: number) {
    this.run = run;
    this.reports = new Array<Report<S>>(subjects);
    this.#startedAt = run.core.clock.now();
  }

  get running(): boolean {
    return this.#pending.length > 0;
  }

  track(subject: PendingSubject<S>, index: number, context: LazyCheckContext, outcome: PromiseLike<unknown>): void {
    if (subject.remaining++ === 0) {
      this.#pending.push(subject);
      this.#remaining++;
    }
    subject.running[index] = context;
    // Promise.resolve adopts foreign thenables; both handlers are attached, so a check that
    // rejects after its timeout never becomes an unhandled rejection.
    Promise.resolve(outcome).then(
      (value) => this.#settle(subject, index, value, false),
      (error: unknown) => this.#settle(subject, index, error, true),
    );
  }

  start(): Promise<Report<S>[]> {
    const promise = new Promise<Report<S>[]>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const { core, signal, honorDrain } = this.run;
    core.inFlight.add(this);
    if (signal !== undefined) {
      this.#onAbort = () => this.#aborted();
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    // A check may have aborted the signal or drained the gate while the checks were being called.
    if (signal?.aborted) this.#aborted();
    else if (honorDrain && core.drained) this.drain();
    // Checks that answered with an already settled promise settle in the next microtasks; only
    // if some are still running after them is the timeout timer worth its cost.
    else queueMicrotask(() => this.#armTimer());
    return promise;
  }

  #armTimer(): void {
    if (this.#done) return;
    const { clock, timeoutMs } = this.run.core;
    const remaining = timeoutMs - (clock.now() - this.#startedAt);
    this.#cancelTimer = startTimer(clock, Math.max(0, remaining), () => this.#timedOut());
  }

  #settle(subject: PendingSubject<S>, index: number, value: unknown, threw: boolean): void {
    const context = subject.running[index];
    if (this.#done || context === undefined) return;
    subject.running[index] = undefined;
    const { core, entries } = this.run;
    const { name } = entries[index]!;
    const durationMs = core.clock.now() - context.calledAt();
    subject.results[index] = threw ? thrownResult(core, name, value, durationMs) : outcomeResult(name, value, durationMs);
    if (--subject.remaining > 0) return;
    this.reports[subject.slot] = finish(core, subject.subject, subject.key, subject.results, this.run.honorDrain);
    if (--this.#remaining === 0) this.#finish();
  }

  #timedOut(): void {
    if (this.#done) return;
    const { timeoutMs } = this.run.core;
    this.#endRunning((name, context, durationMs) => {
      const error = timeoutError(`check "${name}" timed out after ${timeoutMs} ms`);
      context.abort(error);
      return { name, ok: false, detail: `timed out after ${timeoutMs} ms`, durationMs, error, verdict: TIMED_OUT };
    });
    this.#finish();
  }

  #aborted(): void {
    if (this.#done) return;
    const { signal, rejectSignal } = this.run;
    const reason = signal!.reason;
    this.#endRunning((name, context, durationMs) => {
      context.abort(reason);
      return abortedResult(name, reason, durationMs);
    });
    if (rejectSignal?.aborted) {
      this.#cleanUp();
      this.#reject(rejectSignal.reason);
      return;
    }
    this.#finish();
  }

  /** Called by `drain()`. */
  drain(): void {
    if (this.#done || !this.run.honorDrain) return;
    const reason = abortError(DRAINING);
    this.#endRunning((name, context, durationMs) => {
      context.abort(reason);
      return abortedResult(name, reason, durationMs);
    });
    this.#finish();
  }

  /** Gives every check still running the result `end` makes, and completes the reports. */
  #endRunning(end: (name: string, context: LazyCheckContext, durationMs: number) => CheckResult): void {
    const { core, entries, honorDrain } = this.run;
    const now = core.clock.now();
    for (const subject of this.#pending) {
      if (subject.remaining === 0) continue;
      for (let index = 0; index < subject.running.length; index++) {
        const context = subject.running[index];
        if (context === undefined) continue;
        subject.running[index] = undefined;
        subject.results[index] = end(entries[index]!.name, context, now - context.calledAt());
      }
      subject.remaining = 0;
      this.reports[subject.slot] = finish(core, subject.subject, subject.key, subject.results, honorDrain);
    }
  }

  #finish(): void {
    this.#cleanUp();
    this.#resolve(this.reports);
  }

  #cleanUp(): void {
    this.#done = true;
    this.#cancelTimer?.();
    if (this.#onAbort !== undefined) this.run.signal!.removeEventListener('abort', this.#onAbort);
    this.run.core.inFlight.delete(this);
  }
}

function outcomeResult(name: string, outcome: unknown, durationMs: number): CheckResult {
  if (outcome === true) return { name, ok: true, detail: '', durationMs };
  if (outcome === false) return { name, ok: false, detail: NOT_READY, durationMs };
  if (typeof outcome === 'string') return { name, ok: false, detail: outcome === '' ? NOT_READY : outcome, durationMs };
  try {
    if (outcome !== null && typeof outcome === 'object') {
      const { ok, detail } = outcome as { ok?: unknown; detail?: unknown };
      if (typeof ok === 'boolean' && (detail === undefined || typeof detail === 'string')) {
        return { name, ok, detail: detail || (ok ? '' : NOT_READY), durationMs };
      }
    }
  } catch {
    // A getter that throws: an invalid outcome, reported below.
  }
  const error = new TypeError(
    `check "${name}" returned ${describe(outcome)}; expected true/false, a string reason or { ok: boolean, detail?: string }`,
  );
  return { name, ok: false, detail: error.message, durationMs, error, verdict: INVALID_OUTCOME };
}

function thrownResult<S>(core: Core<S>, name: string, error: unknown, durationMs: number): CheckResult {
  return { name, ok: false, detail: messageOf(error), durationMs, error, verdict: safeClassify(core.classify, error) };
}

function abortedResult(name: string, reason: unknown, durationMs: number): CheckResult {
  return { name, ok: false, detail: `aborted: ${messageOf(reason)}`, durationMs, error: reason, verdict: ABORTED };
}

/** The message of anything thrown, never throwing itself. */
function messageOf(error: unknown): string {
  try {
    if (typeof error === 'string') return error || 'threw an empty string';
    if (error !== null && typeof error === 'object') {
      const { message, name } = error as { message?: unknown; name?: unknown };
      if (typeof message === 'string' && message !== '') return message;
      if (typeof name === 'string' && name !== '') return name;
    }
    return `threw ${describe(error)}`;
  } catch {
    return 'threw a value that cannot be read';
  }
}

function evaluateMany<S>(
  core: Core<S>,
  subjects: readonly S[],
  keys: readonly string[],
  signal: AbortSignal | undefined,
  rejectSignal: AbortSignal | undefined,
): Promise<ReportSet<S>> {
  const reports = evaluate({ core, entries: core.entries, signal, rejectSignal, honorDrain: true }, subjects, keys);
  return Array.isArray(reports) ? Promise.resolve(reportSet(reports)) : reports.then(reportSet);
}

function first<S>(reports: Report<S>[]): Report<S> {
  return reports[0]!;
}

function reportSet<S>(reports: Report<S>[]): ReportSet<S> {
  let ready = true;
  for (const r of reports) if (!r.ready) ready = false;
  return { ready, reports };
}

// ---------------------------------------------------------------------------------------------
// Waiting

const WAIT = 'waitUntilReady()';

function waitUntilReady<S>(
  core: Core<S>,
  subjects: readonly S[],
  options: WaitUntilReadyOptions<S> | undefined,
): Promise<Report<S>[]> {
  const o = optionsObject(WAIT, options);
  rejectGateOptions(WAIT, o as { classify?: unknown; clock?: unknown });
  const { key, onProgress: progress, ...retryOptions } = o;
  const keys = subjectKeys(WAIT, subjects, functionOption<(subject: S) => string>(WAIT, 'key', key) ?? core.key);
  // The list is read at every evaluation: a caller changing the array meanwhile must not change it.
  const list = subjects.slice();
  const callbacks = new CallbackErrors(WAIT, o);
  const onProgress = functionOption<(event: ProgressEvent<S>) => void>(WAIT, 'onProgress', progress);
  const userSignal = signalOption(WAIT, o.signal);
  const startedAt = core.clock.now();

  let attempts = 0;
  let last: ReportSet<S> | undefined;
  let inFlight: Promise<ReportSet<S>> | undefined;
  let lastThrown: NotReadyError<S> | undefined;
  let lastVerdict: Verdict = NOT_YET;

  const attempt = async ({ attempt: n, signal }: AttemptContext): Promise<Report<S>[]> => {
    attempts = n;
    inFlight = evaluateMany(core, list, keys, signal, userSignal);
    const set = await inFlight;
    // An evaluation cut short (by the deadline, attemptTimeoutMs or drain()) is no news about the
    // checks it aborted: the last complete one says more. Retry has moved on already.
    if (cutShort(set)) throw new NotReadyError('not ready (evaluation aborted)', set.reports);
    last = set;
    if (onProgress !== undefined) {
      const event: ProgressEvent<S> = {
        attempt: n,
        ready: set.ready,
        reports: set.reports,
        elapsedMs: core.clock.now() - startedAt,
      };
      callbacks.call(onProgress, event);
    }
    if (set.ready) return set.reports as Report<S>[];
    lastVerdict = waitVerdict(core, set);
    lastThrown = new NotReadyError(`not ready (attempt ${n})${failureLines(set.reports)}`, set.reports, {
      cause: firstError(set.reports),
    });
    throw lastThrown;
  };

  // The retry runs on the caller's signal plus drain(): a drained gate can never become ready.
  const wait = linkedController(userSignal);
  let settled: Promise<Report<S>[]>;
  try {
    settled = retryNamed(WAIT, attempt, {
      ...retryOptions,
      ...waitDefaults(o),
      ...callbacks.wrapped,
      signal: wait.signal,
      clock: core.clock,
      // Only what this wait throws is judged here: the NotReadyError of the last evaluation (its
      // verdict decided above: permanent if a check failed permanently or the gate drained), or
      // the exception of a callback, which ends the wait.
      classify: (error) => (error === lastThrown ? lastVerdict : CALLBACK_THREW),
    });
  } catch (error) {
    wait.dispose();
    throw error;
  }
  core.waits.add(wait.controller);
  const release = (): void => {
    wait.dispose();
    core.waits.delete(wait.controller);
  };
  return settled.then(
    (reports) => {
      release();
      return reports;
    },
    async (error: unknown) => {
      release();
      if (userSignal?.aborted || callbacks.threw(error)) throw error;
      // Report the last complete evaluation; when none completed (a check hung until the
      // deadline), the one that was cut short, whose aborted checks say they were still running.
      const interrupted = inFlight === undefined ? undefined : await inFlight.catch(() => undefined);
      last ??= interrupted;
      if (last === undefined) throw error;
      const elapsedMs = Math.round(core.clock.now() - startedAt);
      const verdict = waitVerdict(core, last);
      const because = verdict.kind === 'permanent' ? `; gave up at once: ${verdict.reason}` : '';
      const plural = attempts === 1 ? 'attempt' : 'attempts';
      throw new NotReadyError(
        `not ready after ${elapsedMs} ms and ${attempts} ${plural}${because}${failureLines(last.reports)}`,
        last.reports,
        { cause: firstError(last.reports) },
      );
    },
  );
}

/**
 * The caller's onRetry/onRecovered (and onProgress), wrapped to remember what they throw: such an
 * exception ends the wait and must reach the caller as it is, not as a NotReadyError.
 */
class CallbackErrors {
  readonly #thrown = new Set<unknown>();
  readonly wrapped: Pick<RetryOptions, 'onRetry' | 'onRecovered'>;

  constructor(where: string, o: Pick<RetryOptions, 'onRetry' | 'onRecovered'>) {
    const onRetry = functionOption<NonNullable<RetryOptions['onRetry']>>(where, 'onRetry', o.onRetry);
    const onRecovered = functionOption<NonNullable<RetryOptions['onRecovered']>>(where, 'onRecovered', o.onRecovered);
    this.wrapped = {
      ...(onRetry && { onRetry: (event) => this.call(onRetry, event) }),
      ...(onRecovered && { onRecovered: (event) => this.call(onRecovered, event) }),
    };
  }

  call<E>(callback: (event: E) => void, event: E): void {
    try {
      callback(event);
    } catch (error) {
      this.#thrown.add(error);
      throw error;
    }
  }

  threw(error: unknown): boolean {
    return this.#thrown.has(error);
  }
}

/** `retry()`, with its option errors naming the function the user called. */
function retryNamed<T>(where: string, fn: (context: AttemptContext) => Promise<T>, options: RetryOptions): Promise<T> {
  try {
    return retry(fn, options);
  } catch (error) {
    if ((error instanceof TypeError || error instanceof RangeError) && error.message.startsWith('retry():')) {
      const Type = error instanceof RangeError ? RangeError : TypeError;
      throw new Type(`${where}${error.message.slice('retry()'.length)}`);
    }
    throw error;
  }
}

/**
 * Waiting defaults: attempts bounded by the deadline rather than counted, and pauses short enough
 * to notice readiness soon (but never shorter than a longer `initialDelayMs` asked for).
 */
function waitDefaults(o: { maxAttempts?: unknown; maxDelayMs?: unknown; initialDelayMs?: unknown }): {
  maxAttempts: number;
  maxDelayMs: number;
} {
  const initial = o.initialDelayMs;
  return {
    maxAttempts: (o.maxAttempts ?? Infinity) as number,
    maxDelayMs: (o.maxDelayMs ??
      (typeof initial === 'number' && initial > DEFAULT_WAIT_MAX_DELAY_MS ? initial : DEFAULT_WAIT_MAX_DELAY_MS)) as number,
  };
}

function cutShort<S>(set: ReportSet<S>): boolean {
  return set.reports.some((report) => report.results.some((result) => result.verdict === ABORTED));
}

function rejectGateOptions(where: string, o: { classify?: unknown; clock?: unknown }): void {
  for (const name of ['classify', 'clock'] as const) {
    if (o[name] !== undefined) {
      throw new TypeError(`${where}: option "${name}" belongs to readinessGate(), which uses it for every evaluation`);
    }
  }
}

/** Transient unless a check failed permanently or the gate drained; keeps the longest Retry-After. */
function waitVerdict<S>(core: Core<S>, set: ReportSet<S>): Verdict {
  if (core.drained) return DRAINED;
  let retryAfterMs: number | undefined;
  for (const report of set.reports) {
    for (const result of report.results) {
      if (result.ok || result.verdict === undefined) continue;
      if (result.verdict.kind === 'permanent') {
        return { kind: 'permanent', reason: `${label(report.key, result.name)}: ${result.verdict.reason}` };
      }
      const after = result.verdict.retryAfterMs;
      if (after !== undefined && (retryAfterMs === undefined || after > retryAfterMs)) retryAfterMs = after;
    }
  }
  return retryAfterMs === undefined ? NOT_YET : { kind: 'transient', reason: NOT_READY, retryAfterMs };
}

function firstError<S>(reports: readonly Report<S>[]): unknown {
  let first: unknown;
  for (const report of reports) {
    for (const result of report.results) {
      if (result.ok || result.error === undefined) continue;
      if (result.verdict?.kind === 'permanent') return result.error;
      first ??= result.error;
    }
  }
  return first;
}

/** `:\n  gw-2: tunnel: status is DOWN` lines for a message, at most {@link MESSAGE_LINES}. */
function failureLines<S>(reports: readonly Report<S>[]): string {
  const lines: string[] = [];
  let more = 0;
  for (const report of reports) {
    for (const result of report.results) {
      if (result.ok) continue;
      if (lines.length === MESSAGE_LINES) {
        more++;
        continue;
      }
      const permanent = result.verdict?.kind === 'permanent' ? ' (permanent)' : '';
      lines.push(`  ${label(report.key, result.name)}: ${oneLine(result.detail)}${permanent}`);
    }
  }
  if (more > 0) lines.push(`  ... and ${more} more (see error.reports)`);
  return lines.length === 0 ? '' : `:\n${lines.join('\n')}`;
}

function label(key: string, name: string): string {
  return key === '' ? name : `${key}: ${name}`;
}

/** Keeps line-oriented output (messages, the probe's lines) to one line per check. */
function oneLine(detail: string): string {
  const flat = detail.replace(/\s*[\r\n]+\s*/g, ' ');
  return flat.length > MAX_DETAIL_CHARS ? `${flat.slice(0, MAX_DETAIL_CHARS - 3)}...` : flat;
}

// ---------------------------------------------------------------------------------------------
// waitFor

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
  maxAttempts?: number;
  /**
   * The longest pause between calls: a condition that comes true is noticed within it.
   * @defaultValue 5000
   */
  maxDelayMs?: number;
  /**
   * What is awaited, for the messages: `'terminated state: not met after 2000 ms'`.
   * @defaultValue 'condition'
   */
  name?: string;
}

/**
 * Waits for one condition: calls `condition` on the retry schedule until it returns a value (not
 * `undefined`, not `false`) and resolves with that value. What the condition throws is
 * classified: a permanent error (a Kubernetes NotFound, say) rejects at once with that error
 * itself; a transient one is retried. When the deadline passes or the attempts run out it rejects
 * with a {@link NotReadyError} (`cause`: the last error thrown, if any); when `signal` aborts, with
 * `signal.reason`. Options are checked at the call.
 *
 * @example
 * ```ts
 * import { waitFor } from 'ridethrough';
 *
 * // The kubelet reports a container's phase before its terminated state: wait for the state.
 * const pod: { phase: string; terminated?: { exitCode: number } } = { phase: 'Succeeded' };
 * setTimeout(() => (pod.terminated = { exitCode: 0 }), 50);
 * const terminated = await waitFor(() => pod.terminated, {
 *   name: 'terminated state',
 *   initialDelayMs: 10,
 *   deadlineMs: 2_000,
 * });
 * console.log(terminated.exitCode); // 0
 * ```
 */
export function waitFor<T>(condition: WaitCondition<T>, options?: WaitForOptions): Promise<T> {
  const where = 'waitFor()';
  requiredFunction(where, 'condition', condition);
  const o = optionsObject(where, options);
  const { name: nameOption, classify: classifyOption, ...retryOptions } = o;
  const callbacks = new CallbackErrors(where, o);
  if (nameOption !== undefined && typeof nameOption !== 'string') {
    throw new TypeError(`${where}: option "name" must be a string, got ${describe(nameOption)}`);
  }
  const name = nameOption || 'condition';
  const classify = functionOption<Classifier>(where, 'classify', classifyOption) ?? defaultClassify;
  const clock = objectOption<Clock>(where, 'clock', o.clock, ['now', 'sleep']) ?? realClock;
  const userSignal = signalOption(where, o.signal);
  const startedAt = clock.now();

  let attempts = 0;
  let notYet: NotReadyError | undefined;
  let lastDetail = 'not called';
  let lastDurationMs = 0;
  let lastThrown: { error: unknown; verdict: Verdict } | undefined;

  let running = false;

  const call = async (context: AttemptContext): Promise<T> => {
    attempts = context.attempt;
    const start = clock.now();
    let value: T | undefined | false;
    try {
      value = await condition(context);
    } catch (error) {
      lastDurationMs = clock.now() - start;
      lastDetail = messageOf(error);
      lastThrown = { error, verdict: safeClassify(classify, error) };
      throw error;
    }
    lastDurationMs = clock.now() - start;
    if (value !== undefined && value !== false) return value;
    lastDetail = `returned ${String(value)}`;
    lastThrown = undefined;
    notYet = new NotReadyError(`${name}: not met yet (attempt ${context.attempt}, ${lastDetail})`, [
      conditionReport(name, lastDetail, lastDurationMs),
    ]);
    throw notYet;
  };
  const attempt = async (context: AttemptContext): Promise<T> => {
    running = true;
    try {
      return await call(context);
    } finally {
      running = false;
    }
  };

  return retryNamed(where, attempt, {
    ...retryOptions,
    ...waitDefaults(o),
    ...callbacks.wrapped,
    clock,
    classify: (error) => {
      if (error === notYet) return NOT_YET;
      if (lastThrown !== undefined && error === lastThrown.error) return lastThrown.verdict;
      return CALLBACK_THREW;
    },
  }).catch((error: unknown) => {
    if (userSignal?.aborted || callbacks.threw(error)) throw error;
    if (lastThrown !== undefined && error === lastThrown.error && lastThrown.verdict.kind === 'permanent') throw error;
    const elapsedMs = Math.round(clock.now() - startedAt);
    if (running) {
      // The deadline (or attemptTimeoutMs) passed during a call: retry's TimeoutError.
      lastDetail = `aborted: ${messageOf(error)}`;
    }
    const plural = attempts === 1 ? 'attempt' : 'attempts';
    throw new NotReadyError(
      `${name}: not met after ${elapsedMs} ms and ${attempts} ${plural} (last: ${oneLine(lastDetail)})`,
      [conditionReport(name, lastDetail, lastDurationMs, lastThrown)],
      { cause: lastThrown?.error ?? (running ? error : undefined) },
    );
  });
}

function conditionReport(
  name: string,
  detail: string,
  durationMs: number,
  thrown?: { error: unknown; verdict: Verdict },
): Report<undefined> {
  const result: CheckResult =
    thrown === undefined
      ? { name, ok: false, detail, durationMs }
      : { name, ok: false, detail, durationMs, error: thrown.error, verdict: thrown.verdict };
  return { ready: false, subject: undefined, key: '', results: [result] };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * The human summary of a report, of a {@link ReportSet} or of a list of reports (what
 * `waitUntilReady` resolves with and `NotReadyError.reports` holds). One report lists every check
 * (`[+]name ok`, `[-]name failed: detail`, with durations); several list each subject on one line
 * and only the failing checks under it.
 *
 * @example
 * ```ts
 * import { formatReport, readinessGate } from 'ridethrough';
 * const gate = readinessGate({
 *   checks: { dns: () => true, tunnel: (gw: string) => gw !== 'gw-2' || 'status is DOWN' },
 * });
 * console.log(formatReport(await gate.evaluate('gw-2')));
 * // gw-2: not ready, 1 of 2 checks failed
 * //   [+]dns ok (0 ms)
 * //   [-]tunnel failed: status is DOWN (0 ms)
 * ```
 */
export function formatReport<S>(report: Report<S> | ReportSet<S> | readonly Report<S>[]): string {
  if (isReportList(report)) return formatMany(report);
  if (report === null || typeof report !== 'object') {
    throw new TypeError(`formatReport(): expected a report, a report set or an array of reports, got ${describe(report)}`);
  }
  if ('reports' in report) return formatMany(report.reports);
  return [headline(report), ...report.results.map(checkLine)].join('\n');
}

function isReportList<S>(value: Report<S> | ReportSet<S> | readonly Report<S>[]): value is readonly Report<S>[] {
  return Array.isArray(value);
}

function formatMany<S>(reports: readonly Report<S>[]): string {
  const failing = reports.filter((r) => !r.ready).length;
  const lines = [
    failing === 0
      ? `ready: all ${reports.length} subjects ready`
      : `not ready: ${failing} of ${reports.length} subjects not ready`,
  ];
  for (const report of reports) {
    lines.push(headline(report));
    for (const result of report.results) if (!result.ok) lines.push(checkLine(result));
  }
  return lines.join('\n');
}

function headline<S>(report: Report<S>): string {
  const failed = report.results.filter((r) => !r.ok).length;
  const total = report.results.length;
  const state = report.ready
    ? `ready, ${total === 1 ? 'the check' : `all ${total} checks`} passed`
    : `not ready, ${failed} of ${total} ${total === 1 ? 'check' : 'checks'} failed`;
  return report.key === '' ? state : `${report.key}: ${state}`;
}

function checkLine(result: CheckResult): string {
  const ms = `${Math.round(result.durationMs)} ms`;
  if (result.ok) return `  [+]${result.name} ok${result.detail ? `: ${oneLine(result.detail)}` : ''} (${ms})`;
  const kind = result.error !== undefined && result.verdict !== undefined ? `, ${result.verdict.kind} error` : '';
  return `  [-]${result.name} failed: ${oneLine(result.detail)} (${ms}${kind})`;
}

// ---------------------------------------------------------------------------------------------
// The probe handler

function createHandler<S>(core: Core<S>, options: HandlerOptions | undefined): ProbeHandler {
  const where = 'handler()';
  const o = optionsObject(where, options);
  const path = o.path ?? '/readyz';
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new TypeError(`${where}: option "path" must be a URL path starting with "/", got ${describe(path)}`);
  }
  const base = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const prefix = base === '/' ? '/' : `${base}/`;
  const endpoint = base.split('/').filter(Boolean).pop() ?? 'readyz';
  const byName = new Map(core.entries.map((e) => [e.name, e] as const));

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
      serveAll(core, endpoint, url, request, response);
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
      if (core.drained) send(request, response, 503, `internal server error: ${SHUTTING_DOWN}\n`);
      else send(request, response, 200, 'ok');
      return;
    }
    const entry = byName.get(name);
    if (entry === undefined) {
      send(request, response, 404, '404 page not found\n');
      return;
    }
    // One check, as kube-apiserver's /readyz/<name>: it runs even while draining.
    probe(core, [entry], false, request, response, (report) => {
      const result = report.results[0]!;
      if (result.ok) send(request, response, 200, 'ok');
      else send(request, response, 503, `internal server error: ${oneLine(result.detail)}\n`);
    });
  };
}

function serveAll<S>(core: Core<S>, endpoint: string, url: URL, request: IncomingMessage, response: ServerResponse): void {
  const verbose = url.searchParams.has('verbose');
  const excluded = new Set(url.searchParams.getAll('exclude'));
  const known = new Set([...core.entries.map((e) => e.name), SHUTDOWN]);
  const unmatched = [...excluded].filter((name) => !known.has(name));
  const included = core.entries.filter((e) => !excluded.has(e.name));
  const shutdownExcluded = excluded.has(SHUTDOWN);

  const warn =
    unmatched.length > 0
      ? [`warn: some health checks cannot be excluded: no matches for ${unmatched.map((n) => JSON.stringify(n)).join(',')}`]
      : [];
  const reply = (ready: boolean, lines: string[]): void => {
    if (ready && !verbose) send(request, response, 200, 'ok');
    else send(request, response, ready ? 200 : 503, `${[...lines, ...warn, `${endpoint} check ${ready ? 'passed' : 'failed'}`].join('\n')}\n`);
  };
  // Draining: answer at once without running the checks; the shutdown line says why.
  if (core.drained && !shutdownExcluded) {
    reply(false, [probeLine(SHUTDOWN_RESULT)]);
    return;
  }
  probe(core, included, !shutdownExcluded, request, response, (report) => {
    const byName = new Map(report.results.map((r) => [r.name, r] as const));
    const lines = core.entries.map(({ name }) =>
      excluded.has(name) ? `[+]${name} excluded: ok` : probeLine(byName.get(name)!),
    );
    // drain() may have come while the checks ran; then the report carries the failing shutdown result.
    if (shutdownExcluded) lines.push(`[+]${SHUTDOWN} excluded: ok`);
    else lines.push(byName.has(SHUTDOWN) ? probeLine(SHUTDOWN_RESULT) : `[+]${SHUTDOWN} ok`);
    reply(report.ready, lines);
  });
}

function probeLine(result: CheckResult): string {
  return result.ok ? `[+]${result.name} ok` : `[-]${result.name} failed: ${oneLine(result.detail)}`;
}

/**
 * Evaluates `entries` without a subject for one request. A client that hangs up (a kubelet probe
 * that timed out) aborts the checks: nobody is waiting for the answer.
 */
function probe<S>(
  core: Core<S>,
  entries: readonly Entry<S>[],
  honorDrain: boolean,
  request: IncomingMessage,
  response: ServerResponse,
  answer: (report: Report<S>) => void,
): void {
  const hangUp = new AbortController();
  const onClose = (): void => hangUp.abort(abortError('the client closed the connection'));
  response.once('close', onClose);
  let outcome: Report<S>[] | Promise<Report<S>[]>;
  try {
    const run: Run<S> = { core, entries, signal: hangUp.signal, rejectSignal: hangUp.signal, honorDrain };
    outcome = evaluate(run, [undefined as S], ['']);
  } catch (error) {
    outcome = Promise.reject(error);
  }
  Promise.resolve(outcome).then(
    ([report]) => {
      response.off('close', onClose);
      answer(report!);
    },
    () => {
      response.off('close', onClose);
      // Aborted because the client left; otherwise a bug in this module: answer, never hang.
      if (!hangUp.signal.aborted) send(request, response, 500, 'internal server error\n');
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

