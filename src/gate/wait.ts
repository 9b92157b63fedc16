/**
 * Waiting: `waitUntilReady` (re-evaluate the gate until every subject is ready) and `waitFor`
 * (poll one condition), both on retry's schedule with waiting defaults.
 */
import { classify as defaultClassify, type Classifier, type Verdict } from '../classify/index.js';
import { safeClassify } from '../classify/safe-classify.js';
import { retry, type AttemptContext, type RetryOptions } from '../retry/index.js';
import { checkRetryOptions, RETRY_OPTIONS } from '../retry/options.js';
import { clockOption } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { linkedController } from '../shared/signals.js';
import { checkOptionNames, functionOption, optionsObject, requiredFunction, signalOption, stringOption } from '../shared/validate.js';
import { ABORTED, NOT_READY, evaluate, subjectKeys, type GateState } from './evaluate.js';
import { failureLines, label, messageOf, oneLine } from './format.js';
import {
  NotReadyError,
  type CheckResult,
  type ProgressEvent,
  type Report,
  type ReportSet,
  type WaitCondition,
  type WaitForOptions,
  type WaitUntilReadyOptions,
} from './types.js';

const DEFAULT_WAIT_MAX_DELAY_MS = 5_000;
const NOT_YET: Verdict = Object.freeze({ kind: 'transient', reason: NOT_READY });
const CALLBACK_THREW: Verdict = Object.freeze({ kind: 'permanent', reason: 'a callback threw' });
const DRAINED: Verdict = Object.freeze({ kind: 'permanent', reason: 'gate drained' });
const hookErrors = diagnosticsChannel(diagnosticsChannels.gate.hookError);

// retry's own option names: what these functions hand on to it. (The gate's name is the gate's.)
const WAIT_UNTIL_READY_OPTIONS: ReadonlySet<string> = new Set([...[...RETRY_OPTIONS].filter((n) => n !== 'name'), 'key', 'onProgress']);
const WAIT_FOR_OPTIONS: ReadonlySet<string> = RETRY_OPTIONS;

/** Evaluates every subject; the reports and whether all are ready. */
export function evaluateSet<S>(
  gate: GateState<S>,
  subjects: readonly S[],
  keys: readonly string[],
  signal: AbortSignal | undefined,
  rejectSignal: AbortSignal | undefined,
): Promise<ReportSet<S>> {
  return evaluate(gate, { checks: gate.checks, signal, rejectSignal, honorDrain: true }, subjects, keys).then(reportSet);
}

function reportSet<S>(reports: Report<S>[]): ReportSet<S> {
  let ready = true;
  for (const r of reports) if (!r.ready) ready = false;
  return { ready, reports };
}

/** onRetry/onRecovered through callHook: what they throw is published, never steers the wait. */
function reportingHooks(o: Pick<RetryOptions, 'onRetry' | 'onRecovered'>, where: string, name: string | undefined): Pick<RetryOptions, 'onRetry' | 'onRecovered'> {
  const onRetry = functionOption<NonNullable<RetryOptions['onRetry']>>(where, 'onRetry', o.onRetry);
  const onRecovered = functionOption<NonNullable<RetryOptions['onRecovered']>>(where, 'onRecovered', o.onRecovered);
  return {
    ...(onRetry && { onRetry: (event) => callHook(hookErrors, 'onRetry', onRetry, event, name) }),
    ...(onRecovered && { onRecovered: (event) => callHook(hookErrors, 'onRecovered', onRecovered, event, name) }),
  };
}

const WAIT = 'waitUntilReady()';

export function waitUntilReady<S>(
  gate: GateState<S>,
  subjects: readonly S[],
  options: WaitUntilReadyOptions<S> | undefined,
): Promise<Report<S>[]> {
  const o = optionsObject(WAIT, options);
  checkOptionNames(WAIT, o, WAIT_UNTIL_READY_OPTIONS);
  rejectGateOptions(WAIT, o as { classify?: unknown; clock?: unknown });
  const { key, onProgress: progress, ...retryOptions } = o;
  const keys = subjectKeys(WAIT, subjects, functionOption<(subject: S) => string>(WAIT, 'key', key) ?? gate.key);
  // The list is read at every evaluation: a caller changing the array meanwhile must not change it.
  const list = subjects.slice();
  const hooks = reportingHooks(o, WAIT, gate.name);
  const onProgress = functionOption<(event: ProgressEvent<S>) => unknown>(WAIT, 'onProgress', progress);
  const userSignal = signalOption(WAIT, o.signal);
  const startedAt = gate.clock.now();

  let attempts = 0;
  let last: ReportSet<S> | undefined;
  let inFlight: Promise<ReportSet<S>> | undefined;
  let lastThrown: NotReadyError<S> | undefined;
  let lastVerdict: Verdict = NOT_YET;

  const attempt = async ({ attempt: n, signal }: AttemptContext): Promise<Report<S>[]> => {
    attempts = n;
    inFlight = evaluateSet(gate, list, keys, signal, userSignal);
    const set = await inFlight;
    // An evaluation cut short (by the deadline, attemptTimeoutMs or drain()) is no news about the
    // checks it aborted: the last complete one says more. Retry has moved on already.
    if (cutShort(set)) throw new NotReadyError('not ready (evaluation aborted)', set.reports);
    last = set;
    if (onProgress !== undefined) {
      const elapsedMs = gate.clock.now() - startedAt;
      const event: ProgressEvent<S> = Object.freeze(
        gate.name === undefined
          ? { attempt: n, ready: set.ready, reports: set.reports, elapsedMs }
          : { attempt: n, ready: set.ready, reports: set.reports, elapsedMs, name: gate.name },
      );
      callHook(hookErrors, 'onProgress', onProgress, event, gate.name);
    }
    if (set.ready) return set.reports as Report<S>[];
    lastVerdict = waitVerdict(gate, set);
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
      ...hooks,
      signal: wait.signal,
      clock: gate.clock,
      // Only what this wait throws is judged here: the NotReadyError of the last evaluation (its
      // verdict decided above: permanent if a check failed permanently or the gate drained).
      classify: (error) => (error === lastThrown ? lastVerdict : CALLBACK_THREW),
    });
  } catch (error) {
    wait.dispose();
    throw error;
  }
  gate.waits.add(wait.controller);
  const release = (): void => {
    wait.dispose();
    gate.waits.delete(wait.controller);
  };
  return settled.then(
    (reports) => {
      release();
      return reports;
    },
    async (error: unknown) => {
      release();
      if (userSignal?.aborted) throw error;
      // Report the last complete evaluation; when none completed (a check hung until the
      // deadline), the one that was cut short, whose aborted checks say they were still running.
      const interrupted = inFlight === undefined ? undefined : await inFlight.catch(() => undefined);
      last ??= interrupted;
      if (last === undefined) throw error;
      const elapsedMs = Math.round(gate.clock.now() - startedAt);
      const verdict = waitVerdict(gate, last);
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
 * `retry()`, with its options checked as `where` received them, so an error names the function
 * the user called, once: `waitFor(): option "deadlineMs" must be ...`.
 */
function retryNamed<T>(where: string, fn: (context: AttemptContext) => Promise<T>, options: RetryOptions): Promise<T> {
  checkRetryOptions(options, where); // throws: the public functions turn it into their rejection
  return retry(fn, options);
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
function waitVerdict<S>(gate: GateState<S>, set: ReportSet<S>): Verdict {
  if (gate.drained) return DRAINED;
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

/**
 * Waits for one condition: calls `condition` on the retry schedule until it returns a value (not
 * `undefined`, not `false`) and resolves with that value. What the condition throws is
 * classified: a permanent error (a Kubernetes NotFound, say) rejects at once with that error
 * itself; a transient one is retried. When the deadline passes or the attempts run out it rejects
 * with a {@link NotReadyError} (`cause`: the last error thrown, if any); when `signal` aborts, with
 * `signal.reason`. Options are checked at the call.
 *
 * Guide: [Readiness gates](../../docs/guides/readiness-gate.md).
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
  try {
    return waitForChecked(condition, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

function waitForChecked<T>(condition: WaitCondition<T>, options: WaitForOptions | undefined): Promise<T> {
  const where = 'waitFor()';
  requiredFunction(where, 'condition', condition);
  const o = optionsObject(where, options);
  checkOptionNames(where, o, WAIT_FOR_OPTIONS);
  const { name: nameGiven, classify: classifyOption, ...retryOptions } = o;
  const nameOption = stringOption(where, 'name', nameGiven);
  const hooks = reportingHooks(o, where, nameOption);
  const name = nameOption || 'condition';
  const classify = functionOption<Classifier>(where, 'classify', classifyOption) ?? defaultClassify;
  const clock = clockOption(where, o.clock);
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
    ...hooks,
    clock,
    classify: (error) => {
      if (error === notYet) return NOT_YET;
      if (lastThrown !== undefined && error === lastThrown.error) return lastThrown.verdict;
      return CALLBACK_THREW;
    },
  }).catch((error: unknown) => {
    if (userSignal?.aborted) throw error;
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

