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
 * This file holds `readinessGate` itself; the public types and {@link NotReadyError} are in
 * types.ts, one evaluation in evaluate.ts, the waits in wait.ts, the `/readyz` probe in probe.ts
 * and the text in format.ts.
 *
 * @module
 */
import { classify as defaultClassify, type Classifier } from '../classify/index.js';
import { MAX_TIMER_MS, clockOption } from '../shared/clock.js';
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { abortError } from '../shared/signals.js';
import { checkOptionNames, describe, functionOption, numberOption, optionsObject, signalOption, stringOption } from '../shared/validate.js';
import { DRAINING, SHUTDOWN, evaluateOne, subjectKey, subjectKeys, type GateState, type NamedCheck } from './evaluate.js';
import { createHandler } from './probe.js';
import type { Check, GateOptions, HandlerOptions, ReadinessGate } from './types.js';
import { evaluateSet, waitUntilReady } from './wait.js';

export { formatReport } from './format.js';
export { waitFor } from './wait.js';
export {
  NotReadyError,
  type Check,
  type CheckContext,
  type CheckOutcome,
  type CheckResult,
  type Checks,
  type EvaluateAllOptions,
  type EvaluateOptions,
  type GateDrainEvent,
  type GateEvaluateContext,
  type GateMessages,
  type GateOptions,
  type GateReportEvent,
  type HandlerOptions,
  type ProbeHandler,
  type ProgressEvent,
  type ReadinessGate,
  type Report,
  type ReportSet,
  type WaitCondition,
  type WaitForOptions,
  type WaitUntilReadyOptions,
} from './types.js';
export type { HookErrorEvent } from '../shared/hooks.js';

const WHERE = 'readinessGate()';
const DEFAULT_TIMEOUT_MS = 5_000;
const GATE_OPTIONS: ReadonlySet<string> = new Set(['checks', 'timeoutMs', 'key', 'classify', 'clock', 'name']);
const EVALUATE_OPTIONS: ReadonlySet<string> = new Set(['signal']);
const EVALUATE_ALL_OPTIONS: ReadonlySet<string> = new Set(['signal', 'key']);
const drainChannel = diagnosticsChannel(diagnosticsChannels.gate.drain);

/** A promise-returning function reports bad arguments by rejecting, never by throwing. */
function rejecting<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}


/**
 * Creates a readiness gate over named checks. Options are checked at the call: no checks, a check
 * that is not a function, a reserved or unprintable name, or a bad `timeoutMs` throw here.
 *
 * Guide: [Readiness gates](../../docs/guides/readiness-gate.md).
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
  checkOptionNames(WHERE, o, GATE_OPTIONS);
  const name = stringOption(WHERE, 'name', o.name);
  const gate: GateState<S> = {
    checks: namedChecks(o.checks),
    timeoutMs: numberOption(WHERE, 'timeoutMs', o.timeoutMs, DEFAULT_TIMEOUT_MS, {
      min: 0,
      minExclusive: true,
      max: MAX_TIMER_MS,
    }),
    key: functionOption<(subject: S) => string>(WHERE, 'key', o.key) ?? defaultKey,
    classify: functionOption<Classifier>(WHERE, 'classify', o.classify) ?? defaultClassify,
    clock: clockOption(WHERE, o.clock),
    name,
    drained: false,
    running: new Set(),
    waits: new Set(),
  };
  const names = Object.freeze(gate.checks.map((c) => c.name));
  return {
    names,
    get drained() {
      return gate.drained;
    },
    evaluate(subject, evaluateOptions) {
      return rejecting(() => {
        const where = 'evaluate()';
        const eo = optionsObject(where, evaluateOptions);
        checkOptionNames(where, eo, EVALUATE_OPTIONS);
        const signal = signalOption(where, eo.signal);
        const key = subjectKey(where, gate.key, subject, 'the subject');
        const scope = { checks: gate.checks, signal, rejectSignal: signal, honorDrain: true };
        return evaluateOne(gate, scope, subject, key);
      });
    },
    evaluateAll(subjects, evaluateOptions) {
      return rejecting(() => {
        const where = 'evaluateAll()';
        const eo = optionsObject(where, evaluateOptions);
        checkOptionNames(where, eo, EVALUATE_ALL_OPTIONS);
        const signal = signalOption(where, eo.signal);
        const keys = subjectKeys(where, subjects, functionOption<(subject: S) => string>(where, 'key', eo.key) ?? gate.key);
        return evaluateSet(gate, subjects, keys, signal, signal);
      });
    },
    waitUntilReady(subjects, waitOptions) {
      return rejecting(() => waitUntilReady(gate, subjects, waitOptions));
    },
    handler: ((handlerOptions?: HandlerOptions) => createHandler(gate, handlerOptions)) as unknown as ReadinessGate<S>['handler'],
    drain() {
      if (gate.drained) return;
      gate.drained = true;
      const running = [...gate.running];
      if (drainChannel.hasSubscribers) {
        const inFlight = running.length;
        drainChannel.publish(Object.freeze(gate.name === undefined ? { inFlight } : { inFlight, name: gate.name }));
      }
      for (const evaluation of running) evaluation.drain();
      // A wait paused between evaluations would only notice at its next one: end it now.
      for (const wait of [...gate.waits]) wait.abort(abortError(DRAINING));
    },
  };
}

function namedChecks<S>(checks: unknown): NamedCheck<S>[] {
  if (checks === null || typeof checks !== 'object' || Array.isArray(checks)) {
    throw new TypeError(`${WHERE}: option "checks" must be an object of named check functions, got ${describe(checks)}`);
  }
  const entries: NamedCheck<S>[] = [];
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


