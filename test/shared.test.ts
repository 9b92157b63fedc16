/** The shared plumbing every primitive uses: hook calls, option-name checks, abort fan-out. */
import diagnostics_channel from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { callHook, type HookErrorEvent } from '../src/shared/hooks.js';
import { onAbort } from '../src/shared/signals.js';
import { checkOptionNames } from '../src/shared/validate.js';

describe('callHook', () => {
  const channel = diagnostics_channel.channel('ridethrough:test:hook-error');
  const seen: HookErrorEvent[] = [];
  const listener = (message: unknown): void => void seen.push(message as HookErrorEvent);
  afterEach(() => {
    diagnostics_channel.unsubscribe('ridethrough:test:hook-error', listener);
    seen.length = 0;
  });

  it('publishes what a hook throws or rejects with, frozen, and never throws itself', async () => {
    diagnostics_channel.subscribe('ridethrough:test:hook-error', listener);
    const thrown = new Error('sync');
    const rejected = new Error('async');
    expect(() => callHook(channel, 'onRetry', () => { throw thrown; }, {}, 'fetch-pod')).not.toThrow();
    callHook(channel, 'onChange', async () => { throw rejected; }, {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([
      { hook: 'onRetry', error: thrown, name: 'fetch-pod' },
      { hook: 'onChange', error: rejected },
    ]);
    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('leaves no unhandled rejection without a subscriber', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      callHook(channel, 'onError', () => Promise.reject(new Error('log sink down')), {});
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('checkOptionNames', () => {
  const known = new Set(['maxAttempts', 'initialDelayMs', 'maxDelayMs', 'signal']);
  it('accepts known names and refuses others with a suggestion', () => {
    expect(() => checkOptionNames('retry()', { maxAttempts: 2, signal: undefined }, known)).not.toThrow();
    expect(() => checkOptionNames('retry()', { retries: 2 }, known)).toThrow(
      /^retry\(\): unknown option "retries"; did you mean "maxAttempts"\? It counts calls/,
    );
    expect(() => checkOptionNames('retry()', { minTimeout: 5 }, known)).toThrow('did you mean "initialDelayMs"?');
    expect(() => checkOptionNames('retry()', { maxAttemps: 5 }, known)).toThrow('did you mean "maxAttempts"?');
    expect(() => checkOptionNames('retry()', { zzz: 5 }, known)).toThrow(TypeError);
    expect(() => checkOptionNames('retry()', { zzz: 5 }, known)).toThrow('known options: maxAttempts');
  });
});

describe('onAbort', () => {
  it('fans out from one native listener and removes it with the last detach', () => {
    const controller = new AbortController();
    const calls: number[] = [];
    const detach = Array.from({ length: 1000 }, (_, i) => onAbort(controller.signal, () => calls.push(i)));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    for (const d of detach.slice(0, 999)) d();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    detach[999]!();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    onAbort(controller.signal, () => calls.push(-1));
    onAbort(controller.signal, () => calls.push(-2));
    controller.abort();
    expect(calls).toEqual([-1, -2]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('calls one function registered twice twice, and each detach removes its own registration', () => {
    const controller = new AbortController();
    let calls = 0;
    const listener = (): void => void calls++;
    const first = onAbort(controller.signal, listener);
    onAbort(controller.signal, listener);
    const third = onAbort(controller.signal, listener);
    first();
    first();
    third();
    controller.abort();
    expect(calls).toBe(1);
  });
});
