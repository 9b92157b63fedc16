/**
 * liveConfig on the real file system: first load, updates through kubelet swaps and atomic
 * writes, rejected versions, and nothing left behind.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnosticsChannels, EmptyFileError, permanent, subscribe } from 'ridethrough';
import { atomicWriteFile, contentHash } from 'ridethrough/files';
import { liveConfig, type ConfigChangeInfo, type ConfigRejectedEvent, type LiveConfig, type LiveConfigErrorContext } from 'ridethrough/watch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeletVolume } from 'ridethrough/testing';
import { pollUntil } from './support/poll.js';
import { failOnLeftoverTimers } from './support/resources.js';

interface Settings {
  logLevel: string;
  replicas?: number;
}

let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-live-config-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A new version, written atomically (temp file + rename). A plain writeFile truncates first, and
 * a read between the truncation and the write sees an empty version, rightly rejected: that is
 * tested on its own below; here each version must arrive whole.
 */
let versions = 0;
async function replace(path: string, text: string): Promise<void> {
  const temp = `${path}.${++versions}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

function parseSettings(text: string): Settings {
  const value = JSON.parse(text) as Settings;
  if (typeof value.logLevel !== 'string') throw new TypeError('logLevel must be a string');
  return value;
}

async function follow(path: string, extra: { allowEmpty?: boolean } = {}) {
  const changes: Array<{ value: Settings; info: ConfigChangeInfo }> = [];
  const errors: Array<{ error: unknown; context: LiveConfigErrorContext }> = [];
  const config: LiveConfig<Settings> = await liveConfig(path, {
    parse: parseSettings,
    debounceMs: 20,
    intervalMs: 3_600_000,
    onChange: (value, info) => void changes.push({ value, info }),
    onError: (error, context) => void errors.push({ error, context }),
    ...extra,
  });
  cleanups.push(() => config.close());
  return { config, changes, errors };
}

describe('liveConfig', () => {
  it('resolves with the first version and follows kubelet updates, calling onChange once each', async () => {
    const volume = await KubeletVolume.create({ 'settings.json': '{"logLevel":"info"}' });
    cleanups.push(() => volume.cleanup());
    const path = volume.path('settings.json');
    const { config, changes, errors } = await follow(path);
    expect(config.current).toEqual({ logLevel: 'info' });
    expect(config.hash).toBe(contentHash('{"logLevel":"info"}'));
    expect(config.path).toBe(path);
    expect(config.mode).toBe('watching');

    for (let i = 1; i <= 5; i++) {
      const previousHash = config.hash;
      const text = `{"logLevel":"info","replicas":${i}}`;
      await volume.set('settings.json', text);
      await pollUntil(() => changes.length === i, `onChange for update ${i}`);
      expect(changes[i - 1]).toEqual({
        value: { logLevel: 'info', replicas: i },
        info: { hash: contentHash(text), previousHash },
      });
      expect(config.current).toEqual({ logLevel: 'info', replicas: i });
    }
    expect(errors).toEqual([]);
  });

  it('reports the same hash as atomicWriteFile for canonical JSON text, and does not call onChange for the same content', async () => {
    const path = join(dir, 'settings.json');
    await atomicWriteFile(path, '{"logLevel":"info"}');
    const { config, changes } = await follow(path);
    const { hash } = await atomicWriteFile(path, '{"logLevel":"warn"}');
    await pollUntil(() => changes.length === 1, 'onChange');
    expect(config.hash).toBe(hash);
    // The same bytes again, written in place twice: events, but no new content (a read caught
    // between truncation and write sees an empty version, which is rejected, not applied).
    await writeFile(path, '{"logLevel":"warn"}');
    await writeFile(path, '{"logLevel":"warn"}');
    await sleep(150);
    expect(changes).toHaveLength(1);
  });

  it('hashes the parsed value: the same JSON in another key order keeps the hash and calls no onChange', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{ "replicas": 2, "logLevel": "info" }');
    let parses = 0;
    const changes: ConfigChangeInfo[] = [];
    const config = await liveConfig(path, {
      parse: (text) => (parses++, parseSettings(text)),
      debounceMs: 20,
      intervalMs: 3_600_000,
      onChange: (_value, info) => void changes.push(info),
    });
    cleanups.push(() => config.close());
    const hash = contentHash({ logLevel: 'info', replicas: 2 });
    expect(config.hash).toBe(hash);
    expect(config.hash).not.toBe(contentHash('{ "replicas": 2, "logLevel": "info" }'));

    // A ConfigMap re-serialised: other key order, other spacing, same configuration.
    const parsed = parses;
    await replace(path, '{"logLevel":"info",\n  "replicas":2}');
    await pollUntil(() => parses > parsed, 'the re-serialised version parsed');
    await sleep(50);
    expect(changes).toEqual([]);
    expect(config.hash).toBe(hash);

    await replace(path, '{"replicas":3,"logLevel":"info"}');
    await pollUntil(() => changes.length === 1, 'onChange for the real change');
    expect(changes[0]).toEqual({ hash: contentHash({ logLevel: 'info', replicas: 3 }), previousHash: hash });
    expect(config.hash).toBe(contentHash(config.current));
  });

  it.each([
    ['a Map', (text: string) => new Map(Object.entries(JSON.parse(text) as object))],
    ['a class instance', (text: string) => Object.assign(new (class Holder {})(), JSON.parse(text) as object)],
    ['a Buffer inside an object', (text: string) => ({ raw: Buffer.from(text) })],
  ])('hashes the text when parse returns what canonical JSON cannot represent (%s)', async (_kind, parse) => {
    const path = join(dir, 'settings.json');
    const first = '{ "replicas": 2, "logLevel": "info" }';
    await writeFile(path, first);
    const changes: ConfigChangeInfo[] = [];
    const config = await liveConfig(path, { parse, debounceMs: 20, intervalMs: 3_600_000, onChange: (_value, info) => void changes.push(info) });
    cleanups.push(() => config.close());
    expect(config.hash).toBe(contentHash(first));
    // Other bytes, so another version, even if the same settings.
    const second = '{"logLevel":"info","replicas":2}';
    await replace(path, second);
    await pollUntil(() => changes.length === 1, 'onChange');
    expect(changes[0]).toEqual({ hash: contentHash(second), previousHash: contentHash(first) });
  });

  it('keeps the last good version when a new one does not parse, and reports it once', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const rejected: unknown[] = [];
    const listener = (message: unknown): void => void rejected.push(message);
    diagnostics_channel.subscribe(diagnosticsChannels.watch.configRejected, listener);
    cleanups.push(() => void diagnostics_channel.unsubscribe(diagnosticsChannels.watch.configRejected, listener));
    const { config, changes, errors } = await follow(path);
    const goodHash = config.hash;

    await replace(path, '{"logLevel": oops');
    await pollUntil(() => errors.length === 1, 'the rejection');
    expect(errors[0]!.error).toBeInstanceOf(SyntaxError);
    expect(errors[0]!.context).toEqual({ source: 'parse', paths: [path], hash: contentHash('{"logLevel": oops') });
    expect(rejected).toEqual([{ path, source: 'parse', hash: contentHash('{"logLevel": oops'), error: errors[0]!.error }]);
    expect(config.current).toEqual({ logLevel: 'info' });
    expect(config.hash).toBe(goodHash);

    // Valid JSON that the parser refuses is a rejected version too.
    await replace(path, '{"logLevel": 3}');
    await pollUntil(() => errors.length === 2, 'the second rejection');
    expect(errors[1]!.error).toBeInstanceOf(TypeError);

    await replace(path, '{"logLevel":"debug"}');
    await pollUntil(() => changes.length === 1, 'the next good version');
    expect(changes[0]!.info.previousHash).toBe(goodHash);
    expect(config.current).toEqual({ logLevel: 'debug' });
    expect(errors).toHaveLength(2);
  });

  it('carries its name in its events, its onError contexts, the retry events of its first read and its watch events', async () => {
    const path = join(dir, 'late.json');
    const seen: Array<[string, unknown]> = [];
    const channels = [
      diagnosticsChannels.retry.retry,
      diagnosticsChannels.watch.configChange,
      diagnosticsChannels.watch.configRejected,
      diagnosticsChannels.watch.hookError,
      diagnosticsChannels.watch.wake, // the watch's own, through watchWithFallback's name
    ];
    const listener = (message: unknown, channel: string | symbol): void => void seen.push([String(channel), message]);
    for (const channel of channels) diagnostics_channel.subscribe(channel, listener);
    cleanups.push(() => void channels.forEach((channel) => diagnostics_channel.unsubscribe(channel, listener)));
    const contexts: LiveConfigErrorContext[] = [];
    setTimeout(() => void replace(path, '{"logLevel":"info"}'), 100);
    const config = await liveConfig(path, {
      name: 'app-settings',
      parse: parseSettings,
      debounceMs: 20,
      intervalMs: 3_600_000,
      onError: (_error, context) => {
        contexts.push(context);
        throw new Error('log sink down');
      },
    });
    cleanups.push(() => config.close());
    await replace(path, '{"logLevel": oops');
    await pollUntil(() => seen.some(([channel]) => channel === diagnosticsChannels.watch.configRejected), 'the rejection');
    await replace(path, '{"logLevel":"warn"}');
    await pollUntil(() => seen.some(([channel]) => channel === diagnosticsChannels.watch.configChange), 'the change');

    const names = (channel: string): unknown[] => seen.filter(([c]) => c === channel).map(([, m]) => (m as { name?: unknown }).name);
    for (const channel of channels) {
      expect(names(channel).length, channel).toBeGreaterThanOrEqual(1);
      expect(new Set(names(channel)), channel).toEqual(new Set(['app-settings']));
    }
    expect(contexts.map((c) => [c.source, c.name])).toEqual([
      ...contexts.filter((c) => c.source === 'load').map(() => ['load', 'app-settings']),
      ['parse', 'app-settings'],
    ]);
    expect(contexts[0]!.source).toBe('load');
  });

  it('publishes what parse refuses on the first read on config-rejected (source load), and empty new versions (source parse)', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel": 7}');
    const rejected: ConfigRejectedEvent[] = [];
    const unsubscribe = subscribe('ridethrough:watch:config-rejected', (event) => void rejected.push(event));
    cleanups.push(unsubscribe);
    setTimeout(() => void replace(path, '{"logLevel":"info"}'), 150);
    const config = await liveConfig(path, { parse: parseSettings, name: 'app', debounceMs: 20, intervalMs: 3_600_000 });
    cleanups.push(() => config.close());
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    for (const event of rejected) {
      expect(event).toEqual({ path, source: 'load', hash: contentHash('{"logLevel": 7}'), error: expect.any(TypeError), name: 'app' });
      expect(Object.isFrozen(event)).toBe(true);
    }
    const atLoad = rejected.length;
    await writeFile(path, '');
    await pollUntil(() => rejected.length > atLoad, 'the empty version rejected');
    expect(rejected[atLoad]).toEqual({ path, source: 'parse', hash: contentHash(''), error: expect.any(EmptyFileError), name: 'app' });
    expect(config.current).toEqual({ logLevel: 'info' });
  });

  it('publishes an onChange failure on the hook-error channel, as well as telling onError', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const failure = new Error('could not apply');
    const hookErrors: unknown[] = [];
    cleanups.push(subscribe('ridethrough:watch:hook-error', (event) => void hookErrors.push(event)));
    const config = await liveConfig(path, {
      name: 'app',
      debounceMs: 20,
      onChange: async () => {
        throw failure;
      },
    });
    cleanups.push(() => config.close());
    await replace(path, '{"logLevel":"warn"}');
    await pollUntil(() => hookErrors.length === 1, 'the hook error');
    expect(hookErrors).toEqual([{ hook: 'onChange', error: failure, name: 'app' }]);
  });

  it('rejects an empty version unless allowEmpty', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const { config, errors } = await follow(path);
    await writeFile(path, '');
    await pollUntil(() => errors.length === 1, 'the rejection of the empty file');
    expect(errors[0]!.error).toBeInstanceOf(EmptyFileError);
    expect(config.current).toEqual({ logLevel: 'info' });

    const raw = await liveConfig(path, { allowEmpty: true, debounceMs: 20 });
    cleanups.push(() => raw.close());
    expect(raw.current).toBe('');
  });

  it('reports an onChange that throws, and keeps the new version', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const errors: Array<[unknown, string]> = [];
    const failure = new Error('could not apply');
    const config = await liveConfig(path, {
      parse: parseSettings,
      debounceMs: 20,
      onChange: () => {
        throw failure;
      },
      onError: (error, { source }) => void errors.push([error, source]),
    });
    cleanups.push(() => config.close());
    await replace(path, '{"logLevel":"warn"}');
    await pollUntil(() => errors.length === 1, 'the onChange failure');
    expect(errors).toEqual([[failure, 'onChange']]);
    expect(config.current).toEqual({ logLevel: 'warn' });
  });

  it('never runs onChange twice at once', async () => {
    const volume = await KubeletVolume.create({ 'settings.json': '{"logLevel":"v0"}' });
    cleanups.push(() => volume.cleanup());
    let active = 0;
    let maxActive = 0;
    const seen: string[] = [];
    const config = await liveConfig(volume.path('settings.json'), {
      parse: parseSettings,
      debounceMs: 5,
      onChange: async (value) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(20);
        seen.push(value.logLevel);
        active--;
      },
    });
    cleanups.push(() => config.close());
    for (let i = 1; i <= 20; i++) await volume.set('settings.json', `{"logLevel":"v${i}"}`);
    await pollUntil(() => seen.at(-1) === 'v20', 'the last version');
    expect(maxActive).toBe(1);
  });

  it('waits for a file that is not there yet, within deadlineMs, saying why', async () => {
    const path = join(dir, 'late.json');
    setTimeout(() => void replace(path, '{"logLevel":"late"}'), 150);
    const loadErrors: Array<[unknown, LiveConfigErrorContext]> = [];
    const config = await liveConfig(path, {
      parse: parseSettings,
      onError: (error, context) => void loadErrors.push([error, context]),
    });
    cleanups.push(() => config.close());
    expect(config.current).toEqual({ logLevel: 'late' });
    expect(loadErrors.length).toBeGreaterThanOrEqual(1);
    expect((loadErrors[0]![0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(loadErrors[0]![1]).toEqual({ source: 'load', paths: [path] });
  });

  it('rejects with the last error when no valid version comes within deadlineMs, leaving nothing behind', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{"logLevel": 7}');
    const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => !r.startsWith('FSReq'));
    const count = (list: string[], kind: string): number => list.filter((r) => r === kind).length;
    const before = handles();
    await expect(liveConfig(path, { parse: parseSettings, deadlineMs: 300 })).rejects.toThrow('logLevel must be a string');
    const after = handles();
    for (const kind of new Set([...after, ...before])) expect(count(after, kind), kind).toBeLessThanOrEqual(count(before, kind));
  });

  it('fails at once on a version marked permanent', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info","replicas":-1}');
    const started = Date.now();
    await expect(
      liveConfig(path, {
        parse: (text) => {
          const value = parseSettings(text);
          if ((value.replicas ?? 0) < 0) throw permanent(new RangeError('replicas must be >= 0'));
          return value;
        },
      }),
    ).rejects.toThrow('replicas must be >= 0');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('rejects with the signal reason when aborted during the first read', async () => {
    const controller = new AbortController();
    const pending = liveConfig(join(dir, 'never.json'), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 50);
    await expect(pending).rejects.toThrow('shutting down');
  });

  it('takes every option given as undefined as if it were absent', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, 'plain');
    const config = await liveConfig(path, {
      parse: undefined, parseTimeoutMs: undefined, name: undefined, onChange: undefined, onError: undefined,
      allowEmpty: undefined, deadlineMs: undefined, intervalMs: undefined, jitter: undefined, debounceMs: undefined,
      retry: undefined, onModeChange: undefined, signal: undefined, clock: undefined, random: undefined,
    });
    cleanups.push(() => config.close());
    expect(config.current).toBe('plain');
    expect(config.mode).toBe('watching');
  });

  it('close() stops following and leaves no handle behind', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => !r.startsWith('FSReq'));
    const count = (list: string[], kind: string): number => list.filter((r) => r === kind).length;
    const before = handles();
    const changes: unknown[] = [];
    const config = await liveConfig(path, { debounceMs: 20, onChange: (value) => void changes.push(value) });
    expect(count(handles(), 'FSEventWrap')).toBeGreaterThan(count(before, 'FSEventWrap'));
    await config.close();
    expect(config.mode).toBe('closed');
    const after = handles();
    for (const kind of new Set([...after, ...before])) expect(count(after, kind), kind).toBeLessThanOrEqual(count(before, kind));
    await writeFile(path, '{"logLevel":"warn"}');
    await sleep(100);
    expect(changes).toEqual([]);
    expect(config.current).toBe('{"logLevel":"info"}');
  });
});

describe('liveConfig parse time limit (parseTimeoutMs)', () => {
  // Each test closes its config itself: this check runs before the file's cleanups.
  failOnLeftoverTimers();

  /** A parse that never settles for texts containing "hang", and records the signals it got. */
  function hangingParse(signals: AbortSignal[]) {
    return (text: string, { signal }: { signal: AbortSignal }): Settings | Promise<Settings> => {
      signals.push(signal);
      return text.includes('hang') ? new Promise<Settings>(() => {}) : parseSettings(text);
    };
  }

  it('counts a parse that never settles as rejected after parseTimeoutMs, and loads the next good version', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const signals: AbortSignal[] = [];
    const errors: Array<{ error: unknown; context: LiveConfigErrorContext }> = [];
    const rejected: unknown[] = [];
    const listener = (message: unknown): void => void rejected.push(message);
    diagnostics_channel.subscribe(diagnosticsChannels.watch.configRejected, listener);
    const config = await liveConfig(path, {
      parse: hangingParse(signals),
      parseTimeoutMs: 200,
      debounceMs: 20,
      intervalMs: 3_600_000,
      onError: (error, context) => void errors.push({ error, context }),
    });
    try {
      await replace(path, '{"logLevel":"hang"}');
      await pollUntil(() => errors.length === 1, 'the timed-out parse reported');
      const { error, context } = errors[0]!;
      expect((error as Error).name).toBe('TimeoutError');
      expect((error as Error).message).toMatch(/parse did not settle within 200 ms/);
      expect(context).toEqual({ source: 'parse', paths: [path], hash: contentHash('{"logLevel":"hang"}') });
      expect(rejected).toEqual([{ path, source: 'parse', hash: contentHash('{"logLevel":"hang"}'), error }]);
      expect(signals.at(-1)!.aborted).toBe(true);
      expect(signals.at(-1)!.reason).toBe(error);
      expect(config.current).toEqual({ logLevel: 'info' });

      await replace(path, '{"logLevel":"debug"}');
      await pollUntil(() => config.current.logLevel === 'debug', 'the next good version');
      expect(signals.at(-1)!.aborted).toBe(false);
      expect(errors).toHaveLength(1);
    } finally {
      diagnostics_channel.unsubscribe(diagnosticsChannels.watch.configRejected, listener);
      await config.close();
    }
  });

  it('close() resolves promptly during a parse that never settles, aborting its signal', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    const signals: AbortSignal[] = [];
    const errors: unknown[] = [];
    // The default limit (10 s): close() must not wait for it.
    const config = await liveConfig(path, { parse: hangingParse(signals), debounceMs: 20, intervalMs: 3_600_000, onError: (e) => void errors.push(e) });
    const before = signals.length;
    await replace(path, '{"logLevel":"hang"}');
    await pollUntil(() => signals.length > before, 'the hanging parse started');
    const started = Date.now();
    await config.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(signals.at(-1)!.aborted).toBe(true);
    expect(config.mode).toBe('closed');
    expect(errors).toEqual([]); // closing is not a rejected version
  });

  it('retries a first parse that never settles, until one does', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"logLevel":"info"}');
    let calls = 0;
    const loadErrors: unknown[] = [];
    const config = await liveConfig(path, {
      parse: (text) => (++calls === 1 ? new Promise<Settings>(() => {}) : parseSettings(text)),
      parseTimeoutMs: 100,
      intervalMs: 3_600_000,
      onError: (error, { source }) => void (source === 'load' && loadErrors.push(error)),
    });
    try {
      expect(config.current).toEqual({ logLevel: 'info' });
      expect(loadErrors).toHaveLength(1);
      expect((loadErrors[0] as Error).name).toBe('TimeoutError');
    } finally {
      await config.close();
    }
  });
});

describe('liveConfig bad input rejects, naming the option', () => {
  it.each([
    ['path', () => liveConfig(5 as never), TypeError, /"path" must be a string, got 5/],
    ['path', () => liveConfig(''), RangeError, /"path" must not be empty/],
    ['path', () => liveConfig('settings\0.json'), TypeError, /"path" must not contain NUL characters/],
    ['parse', () => liveConfig('x', { parse: 'json' as never }), TypeError, /"parse" must be a function/],
    ['onChange', () => liveConfig('x', { onChange: 1 as never }), TypeError, /"onChange" must be a function/],
    ['onError', () => liveConfig('x', { onError: 1 as never }), TypeError, /"onError" must be a function/],
    ['allowEmpty', () => liveConfig('x', { allowEmpty: 1 as never }), TypeError, /"allowEmpty" must be a boolean/],
    ['deadlineMs', () => liveConfig('x', { deadlineMs: 0 }), RangeError, /"deadlineMs" must be a finite number > 0 and <= 2147483647, got 0/],
    ['parseTimeoutMs', () => liveConfig('x', { parseTimeoutMs: 0 }), RangeError, /"parseTimeoutMs" must be a finite number > 0 and <= 2147483647, got 0/],
    ['parseTimeoutMs', () => liveConfig('x', { parseTimeoutMs: '5s' as never }), TypeError, /"parseTimeoutMs" must be a finite number > 0 .*, got "5s"/],
    ['name', () => liveConfig('x', { name: 42 as never }), TypeError, /"name" must be a string, got 42/],
    ['deadlineMs Infinity', () => liveConfig('x', { deadlineMs: Infinity }), RangeError, /"deadlineMs" .*, got Infinity/],
    ['intervalMs', () => liveConfig('x', { intervalMs: -5 }), RangeError, /"intervalMs" must be a finite number > 0, got -5/],
    ['jitter', () => liveConfig('x', { jitter: 2 }), RangeError, /"jitter"/],
    ['runOnStart', () => liveConfig('x', { runOnStart: false } as never), TypeError, /"runOnStart" is not supported/],
    ['options', () => liveConfig('x', [] as never), TypeError, /options must be an object/],
    ['unknown option', () => liveConfig('x', { pasre: JSON.parse } as never), TypeError, /unknown option "pasre"; did you mean "parse"\?/],
    ['unknown option', () => liveConfig('x', { maxRetryTime: 5 } as never), TypeError, /unknown option "maxRetryTime"; did you mean "deadlineMs"\?/],
  ])('%s', async (_name, call, Type, message) => {
    let result: Promise<unknown> | undefined;
    expect(() => (result = call())).not.toThrow(); // never at the call (issue 10)
    const error = await result!.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Type);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/^liveConfig\(\)/);
  });
});
