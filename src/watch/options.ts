/**
 * The options of {@link watchWithFallback} (and so of {@link liveConfig}): their names, their
 * defaults, and their checking at the call, into the {@link Settings} the watcher runs on.
 */
import { resolve } from 'node:path';
import type { BackoffOptions } from '../retry/index.js';
import { checkBackoffOptions } from '../retry/options.js';
import { clockOption, type Clock } from '../shared/clock.js';
import { booleanOption, describe, functionOption, numberOption, pathArgument, signalOption, stringOption } from '../shared/validate.js';
import type { WakeContext, WatchOptions } from './types.js';

const DEFAULT_RETRY: BackoffOptions = { initialDelayMs: 2000, multiplier: 2, maxDelayMs: 60_000, jitter: 'equal' };

/** Every option name of {@link WatchOptions}. */
export const WATCH_OPTIONS: ReadonlySet<string> = new Set([
  'name',
  'intervalMs',
  'jitter',
  'debounceMs',
  'runOnStart',
  'retry',
  'onError',
  'onModeChange',
  'signal',
  'clock',
  'random',
]);
/** Every option name of {@link LiveConfigOptions} (`runOnStart` has a message of its own). */
export const LIVE_CONFIG_OPTIONS: ReadonlySet<string> = new Set([
  ...[...WATCH_OPTIONS].filter((name) => name !== 'runOnStart'),
  'parse',
  'onChange',
  'allowEmpty',
  'deadlineMs',
]);

/** Checks the options of the watch (shared by {@link liveConfig}), at the call. */
export function watchSettings(where: string, given: readonly string[], task: Settings['task'], o: Partial<WatchOptions>): Settings {
  const userRandom = functionOption<() => number>(where, 'random', o.random);
  // The schedule must survive a test hook that throws: the timer is the fallback of last resort.
  const random =
    userRandom === undefined
      ? Math.random
      : (): number => {
          try {
            return userRandom();
          } catch {
            return Math.random();
          }
        };
  return {
    where,
    name: stringOption(where, 'name', o.name),
    given,
    task,
    intervalMs: validateInterval(where, o.intervalMs),
    jitter: numberOption(where, 'jitter', o.jitter, 0.1, { min: 0, max: 1 }),
    debounceMs: numberOption(where, 'debounceMs', o.debounceMs, 100, { min: 0 }),
    runOnStart: booleanOption(where, 'runOnStart', o.runOnStart, true),
    onError: functionOption<NonNullable<WatchOptions['onError']>>(where, 'onError', o.onError),
    onModeChange: functionOption<NonNullable<WatchOptions['onModeChange']>>(where, 'onModeChange', o.onModeChange),
    signal: signalOption(where, o.signal),
    clock: clockOption(where, o.clock),
    random,
    retry: validateRetry(where, o.retry, random),
  };
}

export function validatePaths(where: string, paths: unknown): string[] {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (!Array.isArray(list)) {
    throw new TypeError(`${where}: "paths" must be a string or an array of strings, got ${describe(paths)}`);
  }
  if (list.length === 0) throw new RangeError(`${where}: "paths" must not be empty`);
  const byResolved = new Map<string, string>();
  for (const [i, value] of (list as unknown[]).entries()) {
    const path = pathArgument(where, `paths[${i}]`, value);
    const absolute = resolve(path);
    if (!byResolved.has(absolute)) byResolved.set(absolute, path);
  }
  return [...byResolved.values()];
}

function validateInterval(where: string, value: unknown): number | (() => number) {
  if (typeof value === 'function') return value as () => number;
  return numberOption(where, 'intervalMs', value, 60_000, { min: 0, minExclusive: true });
}

function validateRetry(where: string, value: unknown, random: () => number): BackoffOptions {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new TypeError(`${where}: option "retry" must be an object of backoff options, got ${describe(value)}`);
  }
  const merged: BackoffOptions = { ...DEFAULT_RETRY, random, ...(value as BackoffOptions | undefined) };
  // Checked now, at the call, under this function's name: `option "retry.multiplier" must be ...`.
  checkBackoffOptions(merged, where, 'retry');
  return merged;
}

export interface Settings {
  /** The public function's name, for messages. */
  readonly where: string;
  readonly name: string | undefined;
  readonly given: readonly string[];
  readonly task: (context: WakeContext) => unknown;
  readonly intervalMs: number | (() => number);
  readonly jitter: number;
  readonly debounceMs: number;
  readonly runOnStart: boolean;
  readonly onError: WatchOptions['onError'];
  readonly onModeChange: WatchOptions['onModeChange'];
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly retry: BackoffOptions;
}
