/**
 * {@link liveConfig}: a configuration file read once it can be, parsed, and followed by a watcher:
 * the last good version stays current when a new one is empty or does not parse.
 */
import { readFile } from 'node:fs/promises';
import { contentHash, EmptyFileError, readFileWithRetry } from '../files/index.js';
import { TIMER_RANGE } from '../shared/clock.js';
import { callHook, type HookErrorEvent } from '../shared/hooks.js';
import { booleanOption, checkOptionNames, functionOption, numberOption, optionsObject, pathArgument, stringOption } from '../shared/validate.js';
import { parseWithin, versionHash } from './config-version.js';
import { watchSettings, LIVE_CONFIG_OPTIONS } from './options.js';
import { configChangeChannel, configRejectedChannel, hookErrorChannel } from './report.js';
import type { WakeContext, WatchErrorSource, WatchMode, WatchOptions } from './types.js';
import { WatchLoop } from './watcher.js';

/** Published, frozen, on `ridethrough:watch:config-change` when `liveConfig` loads a new version. */
export interface ConfigChangeEvent {
  /** The file, as given. */
  readonly path: string;
  /** The new version's hash, as {@link LiveConfig.hash}. */
  readonly hash: string;
  /** The hash of the version it replaces. */
  readonly previousHash: string;
  /** The `name` option of the `liveConfig` call, when it was given one. */
  readonly name?: string | undefined;
}

/**
 * Published, frozen, on `ridethrough:watch:config-rejected` when `liveConfig` refuses a version:
 * a new one (`source: 'parse'`, the last good version stays current), or, before any was loaded,
 * one the first read got (`source: 'load'`, read again until `deadlineMs`).
 */
export interface ConfigRejectedEvent {
  /** The file, as given. */
  readonly path: string;
  /**
   * `'parse'`: a new version was empty, or `parse` threw, rejected or ran out of `parseTimeoutMs`;
   * it is not parsed again. `'load'`: `parse` refused what the first read got (an empty file
   * there is retried without this event: it is on `ridethrough:retry:retry`).
   */
  readonly source: 'load' | 'parse';
  /** {@link contentHash} of the rejected text (there is no parsed value to hash). */
  readonly hash: string;
  /** Why it was rejected: an `EmptyFileError`, what `parse` threw or rejected with, or a `TimeoutError`. */
  readonly error: unknown;
  /** The `name` option of the `liveConfig` call, when it was given one. */
  readonly name?: string | undefined;
}

/** The second argument of `onChange` (the channel's {@link ConfigChangeEvent} adds `path`). */
export interface ConfigChangeInfo {
  /** The new version's hash, as {@link LiveConfig.hash}. */
  readonly hash: string;
  /** The hash of the version it replaces. */
  readonly previousHash: string;
}

/**
 * Where an error reported by {@link liveConfig} came from: the sources of
 * {@link WatchErrorSource} (`'wake'` is a failed re-read, retried on the retry schedule), plus
 * `'load'` (the first read failed and will be retried until `deadlineMs`), `'parse'` (a new
 * version was rejected: empty, or `parse` threw; the last good one stays) and `'onChange'` (the
 * listener threw; the new version is current all the same).
 */
export type LiveConfigErrorSource = WatchErrorSource | 'load' | 'parse' | 'onChange';

/** The second argument of `onError` in {@link liveConfig}. */
export interface LiveConfigErrorContext {
  /**
   * Where the error came from: `'load'` (a failed first read, retried), `'parse'` (a new version
   * rejected, the last good one kept), `'onChange'` (the listener threw), `'wake'` (a failed
   * re-read), `'watch'` or `'interval'`; see {@link LiveConfigErrorSource}.
   */
  readonly source: LiveConfigErrorSource;
  /** The configuration file, as given. */
  readonly paths: readonly string[];
  /** For `'parse'`: {@link contentHash} of the rejected text. The same text is not parsed again. */
  readonly hash?: string;
  /** The `name` option of the `liveConfig` call, when it was given one. */
  readonly name?: string | undefined;
}

/** The second argument of `parse` in {@link liveConfig}. */
export interface LiveConfigParseContext {
  /**
   * Aborts when this parse has run for `parseTimeoutMs` (its reason a `TimeoutError`) or when the
   * configuration is closed (or its `signal` aborts): pass it on to whatever the parse waits for
   * (a schema fetched, a key unwrapped). Once it aborts, what the parse returns is ignored.
   */
  readonly signal: AbortSignal;
}

/** What `parse` may be: it may ignore the context (`JSON.parse` is accepted too). */
export type LiveConfigParseFunction<T> = (content: string, context: LiveConfigParseContext) => T | PromiseLike<T>;

/**
 * Options of {@link liveConfig}: how to parse the file, who to tell, and the options of
 * {@link watchWithFallback} that decide how it is followed (`runOnStart` excepted: the file is
 * always re-read once the watch is armed, so that no update between the first read and the
 * watch is missed).
 *
 * @typeParam T - What `parse` returns.
 */
export interface LiveConfigOptions<T> extends Omit<WatchOptions, 'onError' | 'runOnStart' | 'name'> {
  /**
   * Turns the file's text into the configuration (`JSON.parse`, a YAML parser, a schema check).
   * When it throws on a new version, that version is rejected and the last good one stays
   * current. On the first read it is retried (the file may be mid-rotation) until `deadlineMs`.
   * Its second argument carries a `signal` ({@link LiveConfigParseContext}); a parse that has not
   * settled after `parseTimeoutMs` counts as failed.
   * @defaultValue none: the text itself
   */
  parse?: LiveConfigParseFunction<T> | undefined;
  /**
   * How long one call of `parse` may take. Past it, that version counts as rejected, as if `parse`
   * had thrown a `TimeoutError` (reported to `onError`, source `'parse'`, and on
   * `ridethrough:watch:config-rejected`; on the first read, retried until `deadlineMs`), its
   * signal aborts, and what it settles with later is ignored: the last good version stays, and
   * the next change is parsed as usual. A parse that blocks the event loop cannot be cut short.
   * @defaultValue 10000
   */
  parseTimeoutMs?: number | undefined;
  /**
   * A short label for this configuration ("app-settings", "ca-bundle"), carried in the events it
   * publishes (`config-change`, `config-rejected`, `hook-error`), in the context `onError` gets,
   * in the retry events of the first read (as `readFileWithRetry`'s `name`) and in the events of
   * the watch that follows the file (as {@link WatchOptions.name}: `wake`, `error`, `mode`, the
   * `watch:run` trace).
   * @defaultValue none
   */
  name?: string | undefined;
  /**
   * Called with each new valid version, only when `hash` changes (so not for the same JSON in
   * another key order; see {@link LiveConfig.hash}), never twice at once.
   * What it throws or rejects with goes to `onError` (source `'onChange'`) and is published on
   * `ridethrough:watch:hook-error` (hook `'onChange'`); the version is current all the same.
   * @defaultValue none
   */
  onChange?: ((value: T, info: ConfigChangeInfo) => void | PromiseLike<void>) | undefined;
  /**
   * Told about failed first reads (before each retry), rejected versions, failed re-reads and
   * watch problems; see {@link LiveConfigErrorSource}.
   * @defaultValue none: errors are only published on the diagnostics channels
   */
  onError?: ((error: unknown, context: LiveConfigErrorContext) => void) | undefined;
  /**
   * Accept an empty file as a version. By default it is rejected: a file rewritten in place is
   * briefly empty.
   * @defaultValue false
   */
  allowEmpty?: boolean | undefined;
  /**
   * How long the first read may keep retrying (missing, empty or unparsable file) before
   * `liveConfig` rejects with the last error.
   * @defaultValue 120000
   */
  deadlineMs?: number | undefined;
}

/** A configuration file, loaded and followed by {@link liveConfig}. */
export interface LiveConfig<T> {
  /** The file, as given. */
  readonly path: string;
  /** The last valid version, parsed. */
  readonly current: T;
  /**
   * The version's hash, 64 hex digits: {@link contentHash} of `current` itself when it is a
   * string (so without `parse`, the hash of the text, equal to the hash `atomicWriteFile` returned
   * for it), bytes, or JSON data (plain objects, arrays, strings, finite numbers, booleans, `null`,
   * `Date`s): the same configuration rewritten in another key order or spacing keeps its hash
   * and calls no `onChange`, so a hash stamped on a pod template rolls pods only for a real change.
   * When `parse` returns anything else (a class instance such as an `X509Certificate` or a
   * `KeyObject`, a `Map`, a `Buffer` inside an object, `undefined`), it is {@link contentHash} of
   * the file's text instead: any change of the bytes is then a new version.
   */
  readonly hash: string;
  /** The mode of the underlying watch; see {@link WatchMode}. */
  readonly mode: WatchMode;
  /** Stops following the file; resolves once nothing is left (as {@link Watcher.close}). */
  close(): Promise<void>;
  /** {@link LiveConfig.close}, for `await using config = await liveConfig(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Loads a local configuration file (a mounted ConfigMap, a file an agent writes) and follows its
 * updates: resolves once a first valid version is loaded, then re-reads it whenever it changes
 * (and on the timer, as {@link watchWithFallback} does), calling `onChange` when its `hash`
 * changes ({@link LiveConfig.hash}: of the parsed value when it is JSON data, else of the text). A new version that is empty or that `parse` rejects is reported to `onError`
 * (and `diagnosticsChannels.watch.configRejected`) and the last good one stays in `current`.
 *
 * The first read uses {@link readFileWithRetry}: a file missing, empty or half-written is retried
 * until `deadlineMs`; then `liveConfig` rejects with the last error. If `signal` aborts before it
 * resolves, it rejects with `signal.reason` and leaves nothing running. A process should start from a
 * configuration it can read locally, never from a remote call that fails while the network does.
 *
 * Invalid arguments reject with a `TypeError` or `RangeError` naming the option (unknown option names
 * included); nothing is thrown at the call.
 *
 * Guide: [Watching files](../../docs/guides/watching-files.md).
 *
 * @param path - The configuration file.
 * @param options - See {@link LiveConfigOptions}.
 * @returns The live configuration; `close()` it when done.
 *
 * @example
 * ```ts
 * import { mkdtemp, rm, writeFile } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { liveConfig } from 'ridethrough';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'config-example-'));
 * const file = join(dir, 'settings.json');
 * await writeFile(file, '{"logLevel":"info"}');
 * let changed!: () => void;
 * const updated = new Promise<void>((resolve) => (changed = resolve));
 * const config = await liveConfig(file, {
 *   parse: (text) => JSON.parse(text) as { logLevel: string },
 *   debounceMs: 20,
 *   onChange: (value, { hash }) => {
 *     console.log('now', value.logLevel, hash.slice(0, 12));
 *     changed();
 *   },
 *   onError: (error, { source }) => console.log('kept the last good version:', source, String(error)),
 * });
 * console.log(config.current.logLevel); // info
 * await writeFile(file, '{"logLevel": oops'); // rejected: current stays 'info'
 * await new Promise((resolve) => setTimeout(resolve, 100));
 * await writeFile(file, '{"logLevel":"debug"}');
 * await updated;
 * console.log(config.current.logLevel); // debug
 * await config.close();
 * await rm(dir, { recursive: true });
 * ```
 */
export function liveConfig(path: string, options?: LiveConfigOptions<string> & { parse?: undefined }): Promise<LiveConfig<string>>;
export function liveConfig<T>(path: string, options: LiveConfigOptions<T> & { parse: LiveConfigParseFunction<T> }): Promise<LiveConfig<T>>;
/**
 * A `parse` whose second parameter is something else (`JSON.parse` and its `reviver`), called with the text only in mind.
 *
 * Guide: [Watching files](../../docs/guides/watching-files.md).
 */
export function liveConfig<T>(
  path: string,
  options: Omit<LiveConfigOptions<T>, 'parse'> & { parse: (content: string) => T | PromiseLike<T> },
): Promise<LiveConfig<T>>;
export function liveConfig(path: string, options?: object): Promise<LiveConfig<unknown>> {
  // Bad arguments reject, as fs/promises does: `.catch()` and `await` see the same thing.
  try {
    return startLiveConfig(path, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Every option name of {@link LiveConfigOptions}: the watch's (from watcher.ts) and liveConfig's own. */
const OPTION_NAMES: ReadonlySet<string> = new Set([...LIVE_CONFIG_OPTIONS, 'parseTimeoutMs', 'name']);

function startLiveConfig(path: string, options: object | undefined): Promise<LiveConfig<unknown>> {
  const where = 'liveConfig()';
  const given = pathArgument(where, 'path', path);
  const o = optionsObject(where, options as LiveConfigOptions<unknown> | undefined);
  if ('runOnStart' in o) throw new TypeError(`${where}: option "runOnStart" is not supported; the file is always re-read once watched`);
  checkOptionNames(where, o, OPTION_NAMES);
  const {
    parse: parseValue,
    parseTimeoutMs: parseTimeoutValue,
    onChange: onChangeValue,
    onError: onErrorValue,
    allowEmpty: allowEmptyValue,
    deadlineMs: deadlineValue,
    name: nameValue,
    ...watchOptions
  } = o;
  const name = stringOption(where, 'name', nameValue);
  // Added to every event and context, only when given.
  const named = name === undefined ? {} : { name };
  const userParse = functionOption<LiveConfigParseFunction<unknown>>(where, 'parse', parseValue);
  const parseTimeoutMs = numberOption(where, 'parseTimeoutMs', parseTimeoutValue, 10_000, TIMER_RANGE);
  const onChange = functionOption<(value: unknown, info: ConfigChangeInfo) => unknown>(where, 'onChange', onChangeValue);
  const onError = functionOption<NonNullable<LiveConfigOptions<unknown>['onError']>>(where, 'onError', onErrorValue);
  const allowEmpty = booleanOption(where, 'allowEmpty', allowEmptyValue, false);
  const deadlineMs = numberOption(where, 'deadlineMs', deadlineValue, 120_000, TIMER_RANGE);

  // `textHash` is the hash of the text of `value` (a re-read of the same bytes is not parsed
  // again), `hash` the public one (of the value when it is JSON data, see versionHash).
  let state: { value: unknown; hash: string; textHash: string; rejectedHash?: string | undefined } | undefined;
  const report = (error: unknown, context: LiveConfigErrorContext): void => {
    // A hook reports: what it throws or rejects with goes to the hook-error channel, never stops the watch.
    callHook(hookErrorChannel, 'onError', onError && ((c: LiveConfigErrorContext) => onError(error, c)), Object.freeze({ ...context, ...named }), name);
  };

  const publishRejected = (source: ConfigRejectedEvent['source'], hash: string, error: unknown): void => {
    if (configRejectedChannel.hasSubscribers) configRejectedChannel.publish(Object.freeze<ConfigRejectedEvent>({ path: given, source, hash, error, ...named }));
  };

  const reread = async ({ signal }: WakeContext): Promise<void> => {
    const current = state!;
    const content = await readFile(given, { encoding: 'utf8', signal }); // a failure is retried by the watch
    const textHash = contentHash(content);
    if (textHash === current.textHash || textHash === current.rejectedHash) return;
    let value: unknown;
    try {
      if (content.length === 0 && !allowEmpty) throw new EmptyFileError(given);
      value = await parse(content, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason; // closed meanwhile: nothing to report
      current.rejectedHash = textHash;
      publishRejected('parse', textHash, error);
      report(error, { source: 'parse', paths: [given], hash: textHash });
      return;
    }
    const hash = versionHash(value, textHash);
    if (hash === current.hash) {
      // The same configuration spelt differently (keys reordered, spaces): no new version.
      current.textHash = textHash;
      return;
    }
    const previousHash = current.hash;
    state = { value, hash, textHash };
    if (configChangeChannel.hasSubscribers) configChangeChannel.publish(Object.freeze<ConfigChangeEvent>({ path: given, hash, previousHash, ...named }));
    try {
      await onChange?.(value, { hash, previousHash });
    } catch (error) {
      // A hook's failure is on the hook-error channel, as every hook's, and told to onError.
      if (hookErrorChannel.hasSubscribers) hookErrorChannel.publish(Object.freeze<HookErrorEvent>({ hook: 'onChange', error, ...named }));
      report(error, { source: 'onChange', paths: [given] });
    }
  };
  const settings = watchSettings(where, [given], reread, {
    // An option given as undefined takes its default there, as if absent.
    ...(watchOptions as Partial<WatchOptions>),
    runOnStart: true,
    // The watch's own events (wake, error, mode, the watch:run trace) carry it too.
    ...named,
    // Watch errors go to the same listener; their context has no hash.
    onError: (error, context) => report(error, context),
  });
  // Used by reread and the first read, both after this point.
  const parse = (content: string, signal: AbortSignal | undefined): Promise<unknown> =>
    userParse === undefined ? Promise.resolve(content) : parseWithin(userParse, content, signal, parseTimeoutMs, settings.clock);

  return (async () => {
    const first = await readFileWithRetry(given, {
      parse: async (content: string) => {
        try {
          return { content, value: await parse(content, settings.signal) };
        } catch (error) {
          if (!settings.signal?.aborted) publishRejected('load', contentHash(content), error);
          throw error;
        }
      },
      allowEmpty,
      deadlineMs,
      // Tell before each wait, so that a process waiting for its configuration says why.
      onRetry: ({ error }) => report(error, { source: 'load', paths: [given] }),
      clock: settings.clock,
      random: settings.random,
      ...named,
      ...(settings.signal === undefined ? {} : { signal: settings.signal }),
    });
    if (settings.signal?.aborted) throw settings.signal.reason;
    const textHash = contentHash(first.content);
    state = { value: first.value, hash: versionHash(first.value, textHash), textHash };
    const { watcher } = new WatchLoop(settings);
    await watcher.ready;
    // Aborted while the watch was being armed: the watcher closed itself; a closed config is no answer.
    if (settings.signal?.aborted) {
      await watcher.close();
      throw settings.signal.reason;
    }
    return Object.freeze({
      path: given,
      get current() {
        return state!.value;
      },
      get hash() {
        return state!.hash;
      },
      get mode() {
        return watcher.mode;
      },
      close: () => watcher.close(),
      [Symbol.asyncDispose]: () => watcher.close(),
    });
  })();
}
