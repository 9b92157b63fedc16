/**
 * What a watcher tells observers (issue 11): its `name` in every event, and the
 * `ridethrough:watch:run` tracing channel around each run, on a real watcher.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribe, tracingChannels } from 'ridethrough';
import { watchWithFallback, type WatchRunContext } from 'ridethrough/watch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pollUntil } from './support/poll.js';

const HOUR = 3_600_000;
let base: string;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ridethrough-watch-obs-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(base, { recursive: true, force: true });
});

describe('the name option', () => {
  it('is carried in wake, error, mode and hook-error events', async () => {
    const file = join(base, 'token');
    await writeFile(file, 'v1');
    const names: Record<string, Array<string | undefined>> = { wake: [], error: [], mode: [], hookError: [] };
    cleanups.push(
      subscribe('ridethrough:watch:wake', (event) => names.wake!.push(event.name)),
      subscribe('ridethrough:watch:error', (event) => names.error!.push(event.name)),
      subscribe('ridethrough:watch:mode', (event) => names.mode!.push(event.name)),
      subscribe('ridethrough:watch:hook-error', (event) => names.hookError!.push(event.name)),
    );
    let runs = 0;
    const watcher = watchWithFallback(
      file,
      () => {
        runs++;
        throw new Error('refresh failed');
      },
      {
        name: 'token',
        intervalMs: HOUR,
        retry: { initialDelayMs: HOUR, maxDelayMs: HOUR },
        onError: () => {
          throw new Error('log sink down');
        },
      },
    );
    cleanups.push(() => watcher.close());
    await watcher.ready;
    await pollUntil(() => runs === 1 && names.hookError!.length === 1, 'the failed start run and its onError');
    expect(names.wake).toEqual(['token']);
    expect(names.error).toEqual(['token']);
    expect(names.mode).toEqual(['token']); // timer-only -> watching
    expect(names.hookError).toEqual(['token']);
  });

  it('is refused when it is not a string', () => {
    expect(() => watchWithFallback(base, () => {}, { name: 42 as unknown as string })).toThrow(
      'watchWithFallback(): option "name" must be a string, got 42',
    );
  });
});

describe('the ridethrough:watch:run tracing channel', () => {
  it('wraps each run: name, trigger and paths at start; outcome and duration at the end', async () => {
    const file = join(base, 'ca.crt');
    await writeFile(file, 'ca');
    const events: Array<{ kind: string; context: WatchRunContext }> = [];
    const trace = tracingChannel<unknown, WatchRunContext>(tracingChannels.watchRun);
    const handlers = {
      start: (context: WatchRunContext) => void events.push({ kind: 'start', context: { ...context } }),
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (context: WatchRunContext) => void events.push({ kind: 'asyncEnd', context: { ...context } }),
      error: (context: WatchRunContext) => void events.push({ kind: 'error', context: { ...context } }),
    };
    trace.subscribe(handlers);
    cleanups.push(() => trace.unsubscribe(handlers));
    let fail = false;
    const watcher = watchWithFallback(
      file,
      () => {
        if (fail) throw new Error('bad bundle');
      },
      { name: 'ca-bundle', intervalMs: HOUR, retry: { initialDelayMs: HOUR, maxDelayMs: HOUR } },
    );
    cleanups.push(() => watcher.close());
    await watcher.ready;
    await pollUntil(() => events.filter((e) => e.kind === 'asyncEnd').length === 1, 'the end of the start run');
    fail = true;
    watcher.wake();
    await pollUntil(() => events.some((e) => e.kind === 'error'), 'the error of the failed run');

    expect(events.map((e) => e.kind)).toEqual(['start', 'asyncEnd', 'start', 'error', 'asyncEnd']);
    expect(events[0]!.context).toEqual({ name: 'ca-bundle', trigger: 'start', paths: [file] });
    expect(events[1]!.context).toMatchObject({ name: 'ca-bundle', trigger: 'start', outcome: 'ok' });
    expect(events[1]!.context.durationMs).toBeGreaterThanOrEqual(0);
    expect(events[2]!.context).toEqual({ name: 'ca-bundle', trigger: 'manual', paths: [file] });
    expect(events[3]!.context).toMatchObject({ trigger: 'manual', outcome: 'failed' });
    expect((events[3]!.context.error as Error).message).toBe('bad bundle');
  });
});
