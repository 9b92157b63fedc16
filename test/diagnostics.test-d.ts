import { describe, expectTypeOf, it } from 'vitest';
import { subscribe, type DiagnosticsMessages, type GiveUpEvent, type HookErrorEvent, type RetryEvent } from 'ridethrough';
import type {} from 'ridethrough/kubernetes'; // its channels join DiagnosticsMessages once imported

describe('subscribe() types its handler from the channel name', () => {
  it('gives each channel its payload type', () => {
    subscribe('ridethrough:retry:retry', (event) => {
      expectTypeOf(event).toEqualTypeOf<RetryEvent>();
      expectTypeOf(event.delayMs).toBeNumber();
    });
    subscribe('ridethrough:retry:give-up', (event) => expectTypeOf(event).toEqualTypeOf<GiveUpEvent>());
    subscribe('ridethrough:gate:hook-error', (event) => expectTypeOf(event).toEqualTypeOf<HookErrorEvent>());
    expectTypeOf(subscribe('ridethrough:files:write', () => undefined)).toEqualTypeOf<() => void>();
  });

  it('refuses a misspelled channel name and a field the payload lacks', () => {
    // @ts-expect-error: there is no channel "ridethrough:retry:retries"
    subscribe('ridethrough:retry:retries', () => undefined);
    subscribe('ridethrough:retry:retry', (event) => {
      // @ts-expect-error: a retry event has delayMs, not delay
      void event.delay;
    });
  });

  it('maps every primitive that publishes', () => {
    expectTypeOf<keyof DiagnosticsMessages>().toExtend<`ridethrough:${string}`>();
    expectTypeOf<'ridethrough:kubernetes:throttled'>().toExtend<keyof DiagnosticsMessages>();
    expectTypeOf<'ridethrough:credentials:change'>().toExtend<keyof DiagnosticsMessages>();
  });
});
