/**
 * The cost of being observed, one subscriber state per Node process: `retry.bench.ts` runs this
 * file once per state (`node --import tsx bench/retry-observed.ts <state>`). The process
 * subscribes as a program would at start-up (a counting handler on every plain channel through
 * `subscribe()`, and/or handlers on every tracing channel), then measures `retry(fn)` beside a
 * bare `await fn()` in interleaved rounds, on the success path and on one failure with a 0 ms
 * wait. It prints one JSON line.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { diagnosticsChannels, retry, subscribe, tracingChannels, type DiagnosticsChannelName, type Verdict } from 'ridethrough';
import { credentialsChannels } from 'ridethrough/credentials';
import { nsPerOpInterleaved } from './harness.js';

/** The states, by command-line name, with the label the bench prints. */
export const observedStates: ReadonlyArray<readonly [string, string]> = [
  ['none', 'nobody subscribed'],
  ['plain', 'subscribe() on every plain channel'],
  ['tracing', 'handlers on every tracing channel'],
  ['both', 'plain and tracing'],
];

/** What one process measured: nanoseconds per call of each path, and of its bare baseline. */
export interface ObservedFigures {
  success: { bareNs: number; retryNs: number };
  oneFailure: { bareNs: number; retryNs: number };
}

let seen = 0;
const count = (): void => void seen++;
const plainNames = [...Object.values(diagnosticsChannels).flatMap((group) => Object.values(group)), ...Object.values(credentialsChannels)];

function subscribeAll(state: string): void {
  if (state === 'plain' || state === 'both') {
    for (const name of plainNames) subscribe(name as DiagnosticsChannelName, count);
  }
  if (state === 'tracing' || state === 'both') {
    const handlers = { start: count, end: count, asyncStart: count, asyncEnd: count, error: count };
    for (const name of Object.values(tracingChannels)) tracingChannel(name).subscribe(handlers);
  }
}

const ok = async (): Promise<number> => 1;
const transient: Verdict = { kind: 'transient', reason: 'test' };
const alwaysTransient = (): Verdict => transient;
function flaky(): () => Promise<number> {
  let calls = 0;
  return async () => {
    if (++calls % 2 === 1) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    return 1;
  };
}

const state = process.argv[2];
if (state !== undefined) {
  if (!observedStates.some(([name]) => name === state)) throw new Error(`unknown state ${state}`);
  subscribeAll(state);
  const [bare, success] = await nsPerOpInterleaved([() => ok(), () => retry(ok)]);
  const bareFlaky = flaky();
  const retried = flaky();
  const [bareTwo, oneFailure] = await nsPerOpInterleaved(
    [async () => bareFlaky().catch(bareFlaky), () => retry(retried, { initialDelayMs: 0, classify: alwaysTransient })],
    { minTimeMs: 50 },
  );
  if (state !== 'none' && seen === 0) throw new Error('no subscriber was called: this state measured nothing');
  const figures: ObservedFigures = { success: { bareNs: bare!, retryNs: success! }, oneFailure: { bareNs: bareTwo!, retryNs: oneFailure! } };
  console.log(JSON.stringify(figures));
}
