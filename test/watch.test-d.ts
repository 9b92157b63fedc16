import {
  liveConfig,
  watchWithFallback,
  type ConfigChangeInfo,
  type LiveConfig,
  type LiveConfigErrorContext,
  type LiveConfigErrorSource,
  type LiveConfigOptions,
  type LiveConfigParseContext,
  type ModeChangeEvent,
  type WakeContext,
  type WakeReason,
  type WatchErrorContext,
  type WatchErrorSource,
  type Watcher,
  type WatchMode,
  type WatchOptions,
  type WatchRunContext,
} from 'ridethrough/watch';
import { subscribe } from 'ridethrough';
import { describe, expectTypeOf, it } from 'vitest';

describe('watchWithFallback types', () => {
  it('takes a path or paths, a task and options, and returns a Watcher', () => {
    expectTypeOf(watchWithFallback).parameter(0).toEqualTypeOf<string | readonly string[]>();
    expectTypeOf(watchWithFallback).parameter(1).toEqualTypeOf<(context: WakeContext) => unknown>();
    expectTypeOf(watchWithFallback).parameter(2).toEqualTypeOf<WatchOptions | undefined>();
    expectTypeOf(watchWithFallback).returns.toEqualTypeOf<Watcher>();
    // Sync and async tasks alike.
    expectTypeOf(watchWithFallback('a', () => {})).toEqualTypeOf<Watcher>();
    expectTypeOf(watchWithFallback(['a', 'b'] as const, async () => 1)).toEqualTypeOf<Watcher>();
  });

  it('gives the task its reason, paths and signal', () => {
    expectTypeOf<WakeContext>().toEqualTypeOf<{
      readonly reason: WakeReason;
      readonly paths: readonly string[];
      readonly signal: AbortSignal;
    }>();
    expectTypeOf<WakeReason>().toEqualTypeOf<'start' | 'change' | 'timer' | 'retry' | 'manual'>();
  });

  it('exposes mode, paths, ready, wake and close', () => {
    expectTypeOf<Watcher['mode']>().toEqualTypeOf<WatchMode>();
    expectTypeOf<WatchMode>().toEqualTypeOf<'watching' | 'timer-only' | 'closed'>();
    expectTypeOf<Watcher['paths']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<Watcher['ready']>().toEqualTypeOf<Promise<void>>();
    expectTypeOf<Watcher['wake']>().toEqualTypeOf<() => void>();
    expectTypeOf<Watcher['close']>().toEqualTypeOf<() => Promise<void>>();
    // mode is read-only.
    const watcher = watchWithFallback('a', () => {});
    // @ts-expect-error mode cannot be assigned
    watcher.mode = 'closed';
  });

  it('has typed options', () => {
    expectTypeOf<WatchOptions['intervalMs']>().toEqualTypeOf<number | (() => number) | undefined>();
    expectTypeOf<WatchOptions['jitter']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<WatchOptions['debounceMs']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<WatchOptions['runOnStart']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<NonNullable<WatchOptions['onError']>>().toEqualTypeOf<(error: unknown, context: WatchErrorContext) => void>();
    expectTypeOf<WatchErrorContext['source']>().toEqualTypeOf<WatchErrorSource>();
    expectTypeOf<WatchErrorSource>().toEqualTypeOf<'wake' | 'watch' | 'interval'>();
    expectTypeOf<NonNullable<WatchOptions['onModeChange']>>().toEqualTypeOf<(event: ModeChangeEvent) => void>();
    expectTypeOf<ModeChangeEvent['previous']>().toEqualTypeOf<WatchMode>();
    expectTypeOf<ModeChangeEvent['error']>().toEqualTypeOf<unknown>();
    // @ts-expect-error no such option
    watchWithFallback('a', () => {}, { interval: 5 });
    // @ts-expect-error jitter is a fraction, not a strategy name
    watchWithFallback('a', () => {}, { jitter: 'full' });
    watchWithFallback('a', () => {}, { retry: { initialDelayMs: 1000, jitter: 'full' } });
  });
});

describe('liveConfig types', () => {
  it('is the text without parse, and what parse returns with it', async () => {
    expectTypeOf(await liveConfig('settings.json')).toEqualTypeOf<LiveConfig<string>>();
    const typed = await liveConfig('settings.json', { parse: (text) => JSON.parse(text) as { logLevel: string } });
    expectTypeOf(typed).toEqualTypeOf<LiveConfig<{ logLevel: string }>>();
    expectTypeOf(typed.current).toEqualTypeOf<{ logLevel: string }>();
    const asyncParsed = await liveConfig('n', { parse: async (text) => Number(text) });
    expectTypeOf(asyncParsed.current).toEqualTypeOf<number>();
  });

  it('gives parse a signal, and still takes a parse of the text alone (JSON.parse)', async () => {
    const withSignal = await liveConfig('settings.json', {
      parse: async (text, context) => {
        expectTypeOf(context).toEqualTypeOf<LiveConfigParseContext>();
        expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
        context.signal.throwIfAborted();
        return { size: text.length };
      },
      parseTimeoutMs: 5_000,
    });
    expectTypeOf(withSignal.current).toEqualTypeOf<{ size: number }>();
    const json = await liveConfig('settings.json', { parse: JSON.parse, parseTimeoutMs: 1_000 });
    expectTypeOf(json.current).toBeAny();
    // An options object held in a variable takes a parse of the text alone too.
    const options: LiveConfigOptions<{ size: number }> = { parse: (text) => ({ size: text.length }), parseTimeoutMs: undefined };
    expectTypeOf((await liveConfig('settings.json', { ...options, parse: options.parse! })).current).toEqualTypeOf<{ size: number }>();
    // @ts-expect-error parseTimeoutMs is a number of milliseconds
    void liveConfig('x', { parseTimeoutMs: '10s' });
  });

  it('types onChange from parse', () => {
    void liveConfig('settings.json', {
      parse: (text) => ({ size: text.length }),
      onChange: (value, info) => {
        expectTypeOf(value).toEqualTypeOf<{ size: number }>();
        expectTypeOf(info).toEqualTypeOf<ConfigChangeInfo>();
      },
    });
    expectTypeOf<ConfigChangeInfo>().toEqualTypeOf<{ readonly hash: string; readonly previousHash: string }>();
  });

  it('exposes current, hash, path, mode and close, read-only', () => {
    expectTypeOf<LiveConfig<number>['hash']>().toEqualTypeOf<string>();
    expectTypeOf<LiveConfig<number>['path']>().toEqualTypeOf<string>();
    expectTypeOf<LiveConfig<number>['mode']>().toEqualTypeOf<WatchMode>();
    expectTypeOf<LiveConfig<number>['close']>().toEqualTypeOf<() => Promise<void>>();
    const config = {} as LiveConfig<number>;
    // @ts-expect-error current is read-only
    config.current = 2;
  });

  it('reports errors with their source', () => {
    expectTypeOf<LiveConfigErrorSource>().toEqualTypeOf<'wake' | 'watch' | 'interval' | 'load' | 'parse' | 'onChange'>();
    expectTypeOf<LiveConfigErrorContext['hash']>().toEqualTypeOf<string | undefined>();
    // @ts-expect-error runOnStart is not an option of liveConfig
    void liveConfig('x', { runOnStart: false });
  });
});

describe('liveConfig options under exactOptionalPropertyTypes (on in tsconfig.json)', () => {
  it('accepts undefined for every optional option, so optional values can be forwarded', () => {
    const load = (path: string, signal?: AbortSignal, name?: string, parseTimeoutMs?: number, onChange?: (value: string) => void, intervalMs?: number) =>
      liveConfig(path, { signal, name, parseTimeoutMs, onChange, intervalMs, debounceMs: undefined, retry: undefined, clock: undefined });
    expectTypeOf(load).returns.toEqualTypeOf<Promise<LiveConfig<string>>>();
    const parsed = (parse?: (text: string) => number) => liveConfig('n', { parse: parse ?? Number, deadlineMs: undefined, allowEmpty: undefined, onError: undefined });
    expectTypeOf(parsed).returns.toEqualTypeOf<Promise<LiveConfig<number>>>();
    // Every key, inherited from the watch or liveConfig's own: `undefined` is in its type even when required.
    type AcceptsUndefined<O> = { [K in keyof O]-?: undefined extends Required<O>[K] ? true : false }[keyof O];
    expectTypeOf<AcceptsUndefined<LiveConfigOptions<unknown>>>().toEqualTypeOf<true>();
    expectTypeOf<keyof LiveConfigOptions<unknown>>().toEqualTypeOf<
      | 'intervalMs' | 'jitter' | 'debounceMs' | 'retry' | 'onModeChange' | 'signal' | 'clock' | 'random'
      | 'parse' | 'parseTimeoutMs' | 'name' | 'onChange' | 'onError' | 'allowEmpty' | 'deadlineMs'
    >();
  });
});

describe('disposal', () => {
  it('watchers and live configs are AsyncDisposable, for `await using`', () => {
    expectTypeOf(watchWithFallback('/etc/app', () => undefined)).toExtend<AsyncDisposable>();
    expectTypeOf<Awaited<ReturnType<typeof liveConfig<unknown>>>>().toExtend<AsyncDisposable>();
  });
});

describe('names, traces and forwarding (issues 10 and 11)', () => {
  it('forwards optional values under exactOptionalPropertyTypes', () => {
    const forward = (signal?: AbortSignal, name?: string, intervalMs?: number, onError?: (error: unknown) => void) =>
      watchWithFallback('/etc/app', () => undefined, { signal, name, intervalMs, onError, jitter: undefined, retry: undefined });
    expectTypeOf(forward).returns.toEqualTypeOf<Watcher>();
  });

  it('carries the name in events and types the run trace context', () => {
    expectTypeOf<WatchOptions['name']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ModeChangeEvent['name']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<WatchErrorContext['name']>().toEqualTypeOf<string | undefined>();
    subscribe('ridethrough:watch:wake', (event) => {
      expectTypeOf(event.name).toEqualTypeOf<string | undefined>();
      expectTypeOf(event.reason).toEqualTypeOf<WakeReason>();
    });
    expectTypeOf<WatchRunContext['trigger']>().toEqualTypeOf<WakeReason>();
    expectTypeOf<WatchRunContext['paths']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<WatchRunContext['outcome']>().toEqualTypeOf<'ok' | 'failed' | 'aborted' | undefined>();
    expectTypeOf<WatchRunContext['durationMs']>().toEqualTypeOf<number | undefined>();
    // @ts-expect-error a misspelled option is a compile error
    void watchWithFallback('/etc/app', () => undefined, { nmae: 'x' });
  });
});
