/**
 * One evaluation: every check called on every subject at once, the synchronous answers recorded
 * as they come, and whatever answers later waited for by one object with one timeout timer and
 * one abort listener, however many subjects and checks there are.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { Classifier, Verdict } from '../classify/index.js';
import { safeClassify } from '../classify/safe-classify.js';
import { startTimer, type Clock } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels, tracingChannels } from '../shared/diagnostics.js';
import { abortError, onAbort, timeoutError } from '../shared/signals.js';
import { describe } from '../shared/validate.js';
import { messageOf } from './format.js';
import type { Check, CheckContext, CheckResult, GateEvaluateContext, Report } from './types.js';

export const SHUTDOWN = 'shutdown';
export const SHUTTING_DOWN = 'process is shutting down';
export const NOT_READY = 'not ready';
export const DRAINING = 'the gate is draining';

export const ABORTED: Verdict = Object.freeze({ kind: 'transient', reason: 'aborted' });
const TIMED_OUT: Verdict = Object.freeze({ kind: 'transient', reason: 'timed out' });
const INVALID_OUTCOME: Verdict = Object.freeze({ kind: 'permanent', reason: 'invalid check outcome' });
export const SHUTDOWN_RESULT: CheckResult = Object.freeze({ name: SHUTDOWN, ok: false, detail: SHUTTING_DOWN, durationMs: 0 });

const reportChannel = diagnosticsChannel(diagnosticsChannels.gate.report);
const evaluateTrace = tracingChannel<unknown, GateEvaluateContext>(tracingChannels.gateEvaluate);

export interface NamedCheck<S> {
  readonly name: string;
  readonly check: Check<S>;
}

/** What every evaluation of one gate shares; `drain()` flips `drained` and ends `running`. */
export interface GateState<S> {
  readonly checks: readonly NamedCheck<S>[];
  readonly timeoutMs: number;
  readonly key: (subject: S) => string;
  readonly classify: Classifier;
  readonly clock: Clock;
  readonly name: string | undefined;
  drained: boolean;
  /** Evaluations waiting on async checks, so `drain()` can end them. */
  readonly running: Set<Evaluation<S>>;
  /** The signals of running `waitUntilReady()` calls, so `drain()` can end their pauses. */
  readonly waits: Set<AbortController>;
}

/** Which checks one evaluation runs, and what stops them. */
export interface EvaluationScope<S> {
  readonly checks: readonly NamedCheck<S>[];
  /** Aborts the checks still running. */
  readonly signal: AbortSignal | undefined;
  /**
   * The caller's own signal: when it aborts, the evaluation rejects with its reason. Any other
   * abort of `signal` (a wait's deadline) completes the reports, the checks still running failed
   * as `aborted: <reason>`.
   */
  readonly rejectSignal: AbortSignal | undefined;
  /** Whether drain() applies (it does not to `/readyz/<name>` and `?exclude=shutdown`). */
  readonly honorDrain: boolean;
}

/**
 * Evaluates every subject (keys already computed) and resolves with one report per subject. It
 * rejects only when `scope.rejectSignal` aborts. Traced on `ridethrough:gate:evaluate` when
 * someone listens.
 */
export function evaluate<S>(
  gate: GateState<S>,
  scope: EvaluationScope<S>,
  subjects: readonly S[],
  keys: readonly string[],
): Promise<Report<S>[]> {
  if (!evaluateTrace.hasSubscribers) return new Evaluation(gate, scope).run(subjects, keys);
  return traced(gate, subjects.length, () => new Evaluation(gate, scope).run(subjects, keys), (reports) => reports.every((r) => r.ready));
}

/**
 * {@link evaluate} of one subject, resolving with its report: `gate.evaluate()` and the probe.
 * Not `evaluate(...).then((reports) => reports[0])`: that extra promise was a third of the cost
 * of a one-check evaluation (bench/gate.bench.ts).
 */
export function evaluateOne<S>(gate: GateState<S>, scope: EvaluationScope<S>, subject: S, key: string): Promise<Report<S>> {
  if (!evaluateTrace.hasSubscribers) return new Evaluation(gate, scope).runOne(subject, key);
  return traced(gate, 1, () => new Evaluation(gate, scope).runOne(subject, key), (report) => report.ready);
}

function traced<S, R>(gate: GateState<S>, subjects: number, run: () => Promise<R>, ready: (result: R) => boolean): Promise<R> {
  const context: GateEvaluateContext = { name: gate.name, subjects };
  return evaluateTrace.tracePromise(
    () =>
      run().then((result) => {
        context.ready = ready(result);
        return result;
      }),
    context,
  );
}

/**
 * The context one check call gets. Its AbortController is made on first read of `signal`:
 * creating one costs about a microsecond, and most checks never look at it.
 */
class CheckCall implements CheckContext {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(readonly calledAt: number) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * One evaluation of some subjects. Checks that answer synchronously are recorded during `run()`;
 * when all do, no timer, listener or extra promise is made. The checks still running are
 * tracked by a flat index (subject * checks + check) into `calls`.
 */
export class Evaluation<S> {
  readonly #gate: GateState<S>;
  readonly #scope: EvaluationScope<S>;
  #reports: Report<S>[] = [];
  #subjects: readonly S[] = [];
  #keys: readonly string[] = [];
  /** Per subject, its results so far. */
  #results: CheckResult[][] = [];
  /** Per subject, how many of its checks are still running. */
  #remaining: number[] = [];
  /** The running checks' contexts, by flat index; undefined once answered. */
  readonly #calls: (CheckCall | undefined)[] = [];
  /** How many subjects have checks still running. */
  #pendingSubjects = 0;
  #startedAt = 0;
  #done = false;
  #cancelTimer: (() => void) | undefined;
  #detachAbort: (() => void) | undefined;
  #one = false;
  #resolve!: (outcome: Report<S>[] | Report<S>) => void;
  #reject!: (reason: unknown) => void;

  constructor(gate: GateState<S>, scope: EvaluationScope<S>) {
    this.#gate = gate;
    this.#scope = scope;
  }

  /** Resolves with one report per subject. */
  run(subjects: readonly S[], keys: readonly string[]): Promise<Report<S>[]> {
    return this.#start(subjects, keys) as Promise<Report<S>[]>;
  }

  /** Resolves with the one subject's report. */
  runOne(subject: S, key: string): Promise<Report<S>> {
    this.#one = true;
    return this.#start([subject], [key]) as Promise<Report<S>>;
  }

  /** What the evaluation resolves with: the reports, or the one report of {@link runOne}. */
  #outcome(): Report<S>[] | Report<S> {
    return this.#one ? this.#reports[0]! : this.#reports;
  }

  #start(subjects: readonly S[], keys: readonly string[]): Promise<Report<S>[] | Report<S>> {
    const { signal, rejectSignal } = this.#scope;
    if (rejectSignal?.aborted) return Promise.reject(rejectSignal.reason);
    this.#subjects = subjects;
    this.#keys = keys;
    this.#startedAt = this.#gate.clock.now();
    // One clock read per check answered: each check's end is the next one's start.
    let now = this.#startedAt;
    for (let slot = 0; slot < subjects.length; slot++) now = this.#callChecks(slot, now);
    if (this.#pendingSubjects === 0) return Promise.resolve(this.#outcome());

    const promise = new Promise<Report<S>[] | Report<S>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#gate.running.add(this);
    // A check may have aborted the signal or drained the gate while the checks were being called.
    if (signal?.aborted) this.#aborted();
    else if (this.#scope.honorDrain && this.#gate.drained) this.drain();
    else {
      if (signal !== undefined) this.#detachAbort = onAbort(signal, () => this.#aborted());
      // Checks that answered with an already settled promise settle in the next microtasks; only
      // if some are still running after them is the timeout timer worth its cost.
      queueMicrotask(() => this.#armTimer());
    }
    return promise;
  }

  /**
   * Calls every check of one subject, the first at `now`; the synchronous answers are recorded
   * at once. Returns the clock's reading after the last.
   */
  #callChecks(slot: number, now: number): number {
    const gate = this.#gate;
    const { checks, signal, honorDrain } = this.#scope;
    if (honorDrain && gate.drained) {
      this.#reports[slot] = this.#report(slot, [SHUTDOWN_RESULT]);
      return now;
    }
    const results = new Array<CheckResult>(checks.length);
    this.#results[slot] = results;
    if (signal?.aborted) {
      for (let i = 0; i < checks.length; i++) results[i] = abortedResult(checks[i]!.name, signal.reason, 0);
      this.#complete(slot);
      return now;
    }
    const subject = this.#subjects[slot]!;
    let remaining = 0;
    let t = now;
    for (let i = 0; i < checks.length; i++) {
      const { name, check } = checks[i]!;
      const start = t;
      const call = new CheckCall(start);
      let outcome: unknown;
      let threw = false;
      try {
        outcome = check(subject, call);
        if (isThenable(outcome)) {
          remaining++;
          this.#track(slot * checks.length + i, call, outcome);
          // No clock read here: the next check's start is this one's, a call's worth earlier.
          continue;
        }
      } catch (error) {
        outcome = error;
        threw = true;
      }
      t = gate.clock.now();
      results[i] = threw ? thrownResult(gate.classify, name, outcome, t - start) : outcomeResult(name, outcome, t - start);
    }
    this.#remaining[slot] = remaining;
    if (remaining === 0) this.#complete(slot);
    else this.#pendingSubjects++;
    return t;
  }

  #track(index: number, call: CheckCall, outcome: PromiseLike<unknown>): void {
    this.#calls[index] = call;
    // Promise.resolve adopts foreign thenables (one whose `then` throws rejects it); both handlers
    // are attached, so a check that rejects after its timeout is never an unhandled rejection.
    Promise.resolve(outcome).then(
      (value) => this.#settle(index, value, false),
      (error: unknown) => this.#settle(index, error, true),
    );
  }

  #settle(index: number, value: unknown, threw: boolean): void {
    const call = this.#calls[index];
    if (this.#done || call === undefined) return;
    this.#calls[index] = undefined;
    const gate = this.#gate;
    const count = this.#scope.checks.length;
    const slot = Math.floor(index / count);
    const { name } = this.#scope.checks[index - slot * count]!;
    const durationMs = gate.clock.now() - call.calledAt;
    this.#results[slot]![index - slot * count] = threw
      ? thrownResult(gate.classify, name, value, durationMs)
      : outcomeResult(name, value, durationMs);
    if (--this.#remaining[slot]! > 0) return;
    this.#complete(slot);
    if (--this.#pendingSubjects === 0) this.#finish();
  }

  #armTimer(): void {
    if (this.#done) return;
    const { clock, timeoutMs } = this.#gate;
    const remaining = timeoutMs - (clock.now() - this.#startedAt);
    this.#cancelTimer = startTimer(clock, Math.max(0, remaining), () => this.#timedOut());
  }

  #timedOut(): void {
    if (this.#done) return;
    const { timeoutMs } = this.#gate;
    this.#endRunning((name, call, durationMs) => {
      const error = timeoutError(`check "${name}" timed out after ${timeoutMs} ms`);
      call.abort(error);
      return { name, ok: false, detail: `timed out after ${timeoutMs} ms`, durationMs, error, verdict: TIMED_OUT };
    });
    this.#finish();
  }

  #aborted(): void {
    if (this.#done) return;
    const reason = this.#scope.signal!.reason;
    this.#endRunning((name, call, durationMs) => {
      call.abort(reason);
      return abortedResult(name, reason, durationMs);
    });
    const { rejectSignal } = this.#scope;
    if (rejectSignal?.aborted) {
      this.#cleanUp();
      this.#reject(rejectSignal.reason);
      return;
    }
    this.#finish();
  }

  /** Called by `drain()`: the checks still running fail as aborted. */
  drain(): void {
    if (this.#done || !this.#scope.honorDrain) return;
    const reason = abortError(DRAINING);
    this.#endRunning((name, call, durationMs) => {
      call.abort(reason);
      return abortedResult(name, reason, durationMs);
    });
    this.#finish();
  }

  /** Gives every check still running the result `end` makes, and completes the reports. */
  #endRunning(end: (name: string, call: CheckCall, durationMs: number) => CheckResult): void {
    const { checks } = this.#scope;
    const now = this.#gate.clock.now();
    for (let index = 0; index < this.#calls.length; index++) {
      const call = this.#calls[index];
      if (call === undefined) continue;
      this.#calls[index] = undefined;
      const slot = Math.floor(index / checks.length);
      const i = index - slot * checks.length;
      this.#results[slot]![i] = end(checks[i]!.name, call, now - call.calledAt);
      if (--this.#remaining[slot]! === 0) this.#complete(slot);
    }
  }

  /** The subject's results are all in: its report. */
  #complete(slot: number): void {
    const results = this.#results[slot]!;
    // A check may have called drain(), or drain() came while async checks were running.
    if (this.#scope.honorDrain && this.#gate.drained) results.push(SHUTDOWN_RESULT);
    this.#reports[slot] = this.#report(slot, results);
  }

  #report(slot: number, results: CheckResult[]): Report<S> {
    let ready = true;
    for (const result of results) {
      if (!result.ok) ready = false;
      Object.freeze(result);
    }
    const subject = this.#subjects[slot]!;
    const key = this.#keys[slot]!;
    const name = this.#gate.name;
    const report: Report<S> = Object.freeze(
      name === undefined
        ? { ready, subject, key, results: Object.freeze(results) }
        : { ready, subject, key, results: Object.freeze(results), name },
    );
    if (reportChannel.hasSubscribers) reportChannel.publish(report);
    return report;
  }

  #finish(): void {
    this.#cleanUp();
    this.#resolve(this.#outcome());
  }

  #cleanUp(): void {
    this.#done = true;
    this.#cancelTimer?.();
    this.#detachAbort?.();
    this.#gate.running.delete(this);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
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

function thrownResult(classify: Classifier, name: string, error: unknown, durationMs: number): CheckResult {
  return { name, ok: false, detail: messageOf(error), durationMs, error, verdict: safeClassify(classify, error) };
}

function abortedResult(name: string, reason: unknown, durationMs: number): CheckResult {
  return { name, ok: false, detail: `aborted: ${messageOf(reason)}`, durationMs, error: reason, verdict: ABORTED };
}

export function subjectKey<S>(where: string, key: (subject: S) => string, subject: S, which: string): string {
  const value = key(subject);
  if (typeof value !== 'string') {
    throw new TypeError(`${where}: option "key" must return a string, got ${describe(value)} for ${which}`);
  }
  return value;
}

export function subjectKeys<S>(where: string, subjects: unknown, key: (subject: S) => string): string[] {
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
