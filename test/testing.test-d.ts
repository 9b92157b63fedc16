/** The public types of ridethrough/testing. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from 'ridethrough';
import {
  FakeClock,
  flush,
  KubeletVolume,
  projectVolume,
  startFaultServer,
  startTlsAlertServer,
  TLS_ALERT_INTERNAL_ERROR,
  type Fault,
  type FakeClockOptions,
  type FaultRequest,
  type FaultServer,
  type FaultServerOptions,
  type KubeletVolumeOptions,
  type SleepLog,
  type SwapResult,
  type SwapStep,
  type TlsAlertServer,
  type TlsApproval,
  type VolumePayload,
} from 'ridethrough/testing';
import { describe, expectTypeOf, it } from 'vitest';

describe('ridethrough/testing types', () => {
  it('FakeClock is a Clock', () => {
    expectTypeOf(new FakeClock()).toExtend<Clock>();
    expectTypeOf<ConstructorParameters<typeof FakeClock>>().toEqualTypeOf<[(FakeClockOptions | undefined)?]>();
    expectTypeOf<{ start: undefined }>().toExtend<FakeClockOptions>();
    expectTypeOf(new FakeClock().sleeps).toEqualTypeOf<SleepLog[]>();
    expectTypeOf(new FakeClock().advance).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(flush).returns.toEqualTypeOf<Promise<void>>();
  });

  it('volumes', () => {
    expectTypeOf(projectVolume).parameters.toEqualTypeOf<[VolumePayload, (KubeletVolumeOptions | undefined)?]>();
    expectTypeOf(projectVolume).returns.toEqualTypeOf<Promise<KubeletVolume>>();
    expectTypeOf(KubeletVolume.create).toEqualTypeOf(projectVolume);
    expectTypeOf<KubeletVolume['update']>().returns.toEqualTypeOf<Promise<SwapResult>>();
    expectTypeOf<KubeletVolume>().toExtend<AsyncDisposable>();
    expectTypeOf<Parameters<NonNullable<KubeletVolumeOptions['onStep']>>[0]>().toEqualTypeOf<SwapStep>();
    // exactOptionalPropertyTypes: every option accepts undefined explicitly.
    expectTypeOf<{ dir: undefined; fileMode: undefined; onStep: undefined }>().toExtend<KubeletVolumeOptions>();
    // @ts-expect-error: a payload holds strings or bytes
    void projectVolume({ token: 1 });
  });

  it('servers are async-disposable', () => {
    expectTypeOf(startTlsAlertServer).returns.toEqualTypeOf<Promise<TlsAlertServer>>();
    expectTypeOf(startFaultServer).returns.toEqualTypeOf<Promise<FaultServer>>();
    expectTypeOf<TlsAlertServer>().toExtend<AsyncDisposable>();
    expectTypeOf<FaultServer>().toExtend<AsyncDisposable>();
    expectTypeOf(TLS_ALERT_INTERNAL_ERROR).toEqualTypeOf<Buffer>();
    expectTypeOf<TlsApproval['handler']>().toEqualTypeOf<(request: IncomingMessage, response: ServerResponse) => void>();
    expectTypeOf<FaultServer['requests']>().toEqualTypeOf<readonly FaultRequest[]>();
    expectTypeOf<{ handler: undefined; faults: undefined }>().toExtend<FaultServerOptions>();
    expectTypeOf<{ delayMs: undefined; status: undefined; retryAfter: undefined; body: undefined; reset: undefined }>().toExtend<Fault>();
    expectTypeOf<{ status: 503; retryAfter: 'Wed, 21 Oct 2026 07:28:00 GMT' }>().toExtend<Fault>();
    // @ts-expect-error: readonly
    void ((null as unknown as FaultServer).port = 1);
  });
});
