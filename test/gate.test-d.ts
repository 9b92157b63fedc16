import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expectTypeOf, it } from 'vitest';
import {
  NotReadyError,
  formatReport,
  readinessGate,
  waitFor,
  type Check,
  type CheckContext,
  type CheckOutcome,
  type CheckResult,
  type ProbeHandler,
  type ReadinessGate,
  type Report,
  type ReportSet,
} from 'ridethrough/gate';

interface Gateway {
  name: string;
  tunnel: 'UP' | 'DOWN';
}

describe('gate types', () => {
  it('infers the subject type from the checks and carries it into evaluate, evaluateAll and the reports', () => {
    const gate = readinessGate({
      checks: {
        tunnel: (gw: Gateway) => gw.tunnel === 'UP' || `status is ${gw.tunnel}`,
        // A check that ignores its subject still takes the gate's subject type.
        dns: async (_gw, { signal }) => !signal.aborted,
      },
      key: (gw) => {
        expectTypeOf(gw).toEqualTypeOf<Gateway>();
        return gw.name;
      },
    });
    expectTypeOf(gate).toEqualTypeOf<ReadinessGate<Gateway>>();
    expectTypeOf(gate.evaluate).parameter(0).toEqualTypeOf<Gateway>();
    expectTypeOf(gate.evaluate).returns.resolves.toEqualTypeOf<Report<Gateway>>();
    expectTypeOf(gate.evaluateAll).parameter(0).toEqualTypeOf<readonly Gateway[]>();
    expectTypeOf(gate.evaluateAll).returns.resolves.toEqualTypeOf<ReportSet<Gateway>>();
    expectTypeOf(gate.waitUntilReady).returns.resolves.toEqualTypeOf<Report<Gateway>[]>();
    expectTypeOf<Report<Gateway>['subject']>().toEqualTypeOf<Gateway>();

    // @ts-expect-error: a string is not a Gateway
    void gate.evaluate('gw-1');
    // @ts-expect-error: subjects are an array of Gateway
    void gate.evaluateAll([{ name: 'gw-1' }]);
    void gate.waitUntilReady([{ name: 'gw-1', tunnel: 'UP' }], {
      deadlineMs: 1000,
      key: (gw) => gw.name,
      onProgress: (event) => {
        expectTypeOf(event.reports).toEqualTypeOf<readonly Report<Gateway>[]>();
        expectTypeOf(event.attempt).toEqualTypeOf<number>();
      },
    });
  });

  it('types check results and outcomes', () => {
    expectTypeOf<CheckResult['detail']>().toEqualTypeOf<string>();
    expectTypeOf<CheckResult['error']>().toEqualTypeOf<unknown>();
    expectTypeOf<CheckContext['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<true>().toMatchTypeOf<CheckOutcome>();
    expectTypeOf<{ ok: false; detail: string }>().toMatchTypeOf<CheckOutcome>();
    expectTypeOf<Check<number>>().parameter(0).toEqualTypeOf<number>();
    // @ts-expect-error: a number is not an outcome
    readinessGate({ checks: { bad: () => 1 } });
    // @ts-expect-error: ok must be a boolean
    readinessGate({ checks: { bad: () => ({ ok: 'yes' }) } });
  });

  it('offers handler() only when the checks accept an undefined subject', () => {
    const probe = readinessGate({ checks: { ping: () => true } });
    expectTypeOf(probe.handler).toBeFunction();
    expectTypeOf(probe.handler()).toEqualTypeOf<ProbeHandler>();
    expectTypeOf<ProbeHandler>().parameters.toEqualTypeOf<[IncomingMessage, ServerResponse]>();
    const optional = readinessGate({ checks: { ping: (gw: Gateway | undefined) => gw === undefined } });
    expectTypeOf(optional.handler).toBeFunction();

    const gateways = readinessGate({ checks: { tunnel: (gw: Gateway) => gw.tunnel === 'UP' } });
    expectTypeOf(gateways.handler).toEqualTypeOf<never>();
  });

  it('waitFor resolves with what the condition returns, minus undefined and false', () => {
    expectTypeOf(waitFor(() => ({ exitCode: 0 }) as { exitCode: number } | undefined)).resolves.toEqualTypeOf<{
      exitCode: number;
    }>();
    expectTypeOf(waitFor(async () => (Math.random() > 0.5 ? 'done' : false))).resolves.toEqualTypeOf<'done'>();
    expectTypeOf(waitFor(({ attempt, signal }) => (signal.aborted ? undefined : attempt))).resolves.toEqualTypeOf<number>();
    // @ts-expect-error: the condition is a function
    void waitFor(true);
  });

  it('NotReadyError is an Error with typed reports; formatReport takes every report shape', () => {
    const error = new NotReadyError<Gateway>('not ready', []);
    expectTypeOf(error).toMatchTypeOf<Error>();
    expectTypeOf(error.reports).toEqualTypeOf<readonly Report<Gateway>[]>();
    expectTypeOf(error.name).toEqualTypeOf<'NotReadyError'>();
    expectTypeOf(formatReport).returns.toEqualTypeOf<string>();
    expectTypeOf(formatReport<Gateway>).parameter(0).toEqualTypeOf<Report<Gateway> | ReportSet<Gateway> | readonly Report<Gateway>[]>();
  });
});
