/**
 * What liveTlsCredentials and liveToken share: the options both accept (their type, their
 * checks, what the first read gets), event publishing, the wake schedule before expiry, and how
 * the follow is armed and closed.
 */
import { channel } from 'node:diagnostics_channel';
import { clockOption, type Clock } from '../shared/clock.js';
import { callHook } from '../shared/hooks.js';
import { onAbort } from '../shared/signals.js';
import { checkOptionNames, functionOption, numberOption, optionsObject, signalOption, stringOption } from '../shared/validate.js';
import type { Watcher } from '../watch/index.js';
import { credentialsChannels, type CredentialsChangeEvent, type CredentialsRejectedEvent } from './events.js';

/**
 * The options `liveTlsCredentials` and `liveToken` both take (`liveTlsCredentials` adds
 * `secureContextOptions`).
 */
export interface CredentialsOptions {
  /** A short label carried in every event, the retry events of the reads included. @defaultValue none */
  name?: string | undefined;
  /**
   * Told about every new version (a certificate pair, a token), the first one included. The event
   * is frozen and carries hashes, never the key or the token. What the hook throws is published on
   * `ridethrough:credentials:hook-error`.
   * @defaultValue none
   */
  onChange?: ((event: CredentialsChangeEvent) => unknown) | undefined;
  /**
   * Told when a new version is refused and the last good one kept: files that cannot be read, a
   * key that does not match its certificate, a certificate expired or not yet valid, an empty
   * token file.
   * @defaultValue none
   */
  onRejected?: ((event: CredentialsRejectedEvent) => unknown) | undefined;
  /**
   * Longest time between two re-reads when no change is seen (client-go re-reads its token every
   * minute; controller-runtime's certwatcher polls every 10 s); re-reads come sooner at a change,
   * at `lifetimeShare` of the lifetime and close to its end.
   * @defaultValue 60000
   */
  intervalMs?: number | undefined;
  /**
   * Share of the lifetime (a certificate's notBefore to notAfter; a JWT's `iat` to `exp`) at
   * which the files are re-read even if no change was seen (kubelet renews certificates at
   * 70-90%; kubernetes#68164 asks ~80% for tokens).
   * @defaultValue 0.8
   */
  lifetimeShare?: number | undefined;
  /** How long the first load may retry (files missing, empty, half-written, mismatched) before rejecting. @defaultValue 120000 */
  deadlineMs?: number | undefined;
  /** Change events are gathered this long before a re-read (see `watchWithFallback`). @defaultValue 100 */
  debounceMs?: number | undefined;
  /** Up to this fraction of each wait is added at random (see `watchWithFallback`). @defaultValue 0.1 */
  jitter?: number | undefined;
  /** Aborting it closes the credentials; before the first load it rejects the call. @defaultValue none */
  signal?: AbortSignal | undefined;
  /** Time source for every wait. @defaultValue realClock */
  clock?: Clock | undefined;
  /** Wall-clock time in epoch ms, for validity checks and the lifetime schedule. @defaultValue Date.now */
  now?: (() => number) | undefined;
  /** Random numbers in [0, 1) for the jitter. @defaultValue Math.random */
  random?: (() => number) | undefined;
}

/**
 * The option names a function accepts: those of {@link CredentialsOptions} with `extra` after
 * `deadlineMs`, in the order an unknown-option message lists them.
 */
export function optionNames(extra: readonly string[] = []): ReadonlySet<string> {
  return new Set(['name', 'onChange', 'onRejected', 'intervalMs', 'lifetimeShare', 'deadlineMs', ...extra, 'debounceMs', 'jitter', 'signal', 'clock', 'now', 'random']);
}

/** The options object, checked to be one and to hold only `known` names. */
export function optionsRecord(where: string, options: object | undefined, known: ReadonlySet<string>): Record<string, unknown> {
  const o = optionsObject(where, options) as Record<string, unknown>;
  checkOptionNames(where, o, known);
  return o;
}

/** The options of {@link CredentialsOptions}, checked. */
export interface Settings {
  readonly hooks: Hooks;
  readonly schedule: Schedule;
  readonly deadlineMs: number;
  readonly watchOptions: WatchPassOptions;
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
}

/** Checks the options of {@link CredentialsOptions}, always in this order (of several bad ones, the same is named). */
export function settingsFrom(where: string, o: Record<string, unknown>): Settings {
  const watchOptions = watchOptionsFrom(where, o);
  return {
    hooks: hooksFrom(where, o),
    schedule: scheduleFrom(where, o, 60_000),
    deadlineMs: numberOption(where, 'deadlineMs', o.deadlineMs, 120_000, { min: 0, minExclusive: true, max: 2_147_483_647 }),
    watchOptions,
    signal: signalOption(where, o.signal),
    clock: clockOption(where, o.clock),
  };
}

/** What every read passes on to readFile(s)WithRetry: the clock, and the name when given. */
export function readOptions(s: Settings): { clock: Clock; name?: string } {
  return s.hooks.name === undefined ? { clock: s.clock } : { clock: s.clock, name: s.hooks.name };
}

/** What the first read passes on: {@link readOptions}, the first load's budget, and the caller's signal. */
export function firstReadOptions(s: Settings): { clock: Clock; name?: string; deadlineMs: number; signal?: AbortSignal } {
  return { ...readOptions(s), deadlineMs: s.deadlineMs, ...(s.signal === undefined ? {} : { signal: s.signal }) };
}

/**
 * Waits for `watcher` to be armed, and resolves with the `close` of the credentials: it aborts
 * `lifetime`, stops following the caller's signal, calls `letGo` (attached servers), then closes
 * the watcher. The caller's signal aborting closes too; if it aborted while the watch was being
 * armed, nothing is left behind and this rejects with its reason.
 */
export async function armed(watcher: Watcher, lifetime: AbortController, signal: AbortSignal | undefined, letGo?: () => void): Promise<() => Promise<void>> {
  const close = async (): Promise<void> => {
    lifetime.abort();
    stopFollowingSignal();
    letGo?.();
    await watcher.close();
  };
  const stopFollowingSignal = signal === undefined ? () => {} : onAbort(signal, () => void close());
  await watcher.ready;
  if (signal?.aborted) {
    await close();
    signal.throwIfAborted();
  }
  return close;
}

export const changeChannel = channel(credentialsChannels.change);
export const rejectedChannel = channel(credentialsChannels.rejected);
export const hookErrorChannel = channel(credentialsChannels.hookError);

/** The hooks both functions take. */
export interface Hooks {
  readonly name: string | undefined;
  readonly onChange: ((event: CredentialsChangeEvent) => unknown) | undefined;
  readonly onRejected: ((event: CredentialsRejectedEvent) => unknown) | undefined;
}

export function hooksFrom(where: string, o: Record<string, unknown>): Hooks {
  return {
    name: stringOption(where, 'name', o.name),
    onChange: functionOption<(event: CredentialsChangeEvent) => unknown>(where, 'onChange', o.onChange),
    onRejected: functionOption<(event: CredentialsRejectedEvent) => unknown>(where, 'onRejected', o.onRejected),
  };
}


/** Publishes (when someone listens) and tells the hook, with one frozen event. */
export function announceChange(hooks: Hooks, fields: Omit<CredentialsChangeEvent, 'name'>): void {
  if (hooks.onChange === undefined && !changeChannel.hasSubscribers) return;
  const event: CredentialsChangeEvent = Object.freeze(hooks.name === undefined ? { ...fields } : { ...fields, name: hooks.name });
  if (changeChannel.hasSubscribers) changeChannel.publish(event);
  callHook(hookErrorChannel, 'onChange', hooks.onChange, event, hooks.name);
}

export function announceRejected(hooks: Hooks, fields: Omit<CredentialsRejectedEvent, 'name'>): void {
  if (hooks.onRejected === undefined && !rejectedChannel.hasSubscribers) return;
  const event: CredentialsRejectedEvent = Object.freeze(hooks.name === undefined ? { ...fields } : { ...fields, name: hooks.name });
  if (rejectedChannel.hasSubscribers) rejectedChannel.publish(event);
  callHook(hookErrorChannel, 'onRejected', hooks.onRejected, event, hooks.name);
}

/** Options about when to wake before expiry. */
export interface Schedule {
  readonly intervalMs: number;
  readonly lifetimeShare: number;
  readonly now: () => number;
}

export function scheduleFrom(where: string, o: Record<string, unknown>, defaultIntervalMs: number): Schedule {
  const userNow = functionOption<() => unknown>(where, 'now', o.now);
  return {
    intervalMs: numberOption(where, 'intervalMs', o.intervalMs, defaultIntervalMs, { min: 0, minExclusive: true, max: 2_147_483_647 }),
    lifetimeShare: numberOption(where, 'lifetimeShare', o.lifetimeShare, 0.8, { min: 0, minExclusive: true, max: 1 }),
    // A `now` that fails must not break the schedule: fall back to the system clock.
    now: userNow === undefined ? Date.now : guardedNumber(userNow, Date.now),
  };
}

/**
 * `fn` made safe for a schedule: what it throws, a non-finite result, or a promise (whose
 * rejection would otherwise be unhandled) gives `fallback()` instead.
 */
export function guardedNumber(fn: () => unknown, fallback: () => number): () => number {
  return () => {
    try {
      const value = fn();
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
        Promise.resolve(value).catch(() => {});
      }
    } catch {
      // fall through
    }
    return fallback();
  };
}

/** The options both pass on to `watchWithFallback`. */
export interface WatchPassOptions {
  debounceMs?: number;
  jitter?: number;
  random?: () => number;
}

/** The options both pass on to `watchWithFallback`, checked here so errors name our function. */
export function watchOptionsFrom(where: string, o: Record<string, unknown>): WatchPassOptions {
  const options: WatchPassOptions = {};
  if (o.debounceMs !== undefined) options.debounceMs = numberOption(where, 'debounceMs', o.debounceMs, 100, { min: 0 });
  if (o.jitter !== undefined) options.jitter = numberOption(where, 'jitter', o.jitter, 0.1, { min: 0, max: 1 });
  const random = functionOption<() => unknown>(where, 'random', o.random);
  if (random !== undefined) options.random = guardedNumber(random, Math.random);
  return options;
}

/** Longest wait near expiry: the last wake comes this long (at most) before `notAfter`. */
const LAST_WAKE_MARGIN_MS = 60_000;

/**
 * Milliseconds until the next wake the lifetime asks for: at `lifetimeShare` of it, again close
 * to the end (a tenth of the lifetime or a minute before, whichever is shorter), and at the end
 * itself; `undefined` once all of them are past (the interval alone then applies).
 */
export function untilLifetimeWake(notBefore: number, notAfter: number, share: number, now: number): number | undefined {
  const lifetime = notAfter - notBefore;
  if (!(lifetime > 0)) return notAfter > now ? notAfter - now : undefined;
  const points = [notBefore + share * lifetime, notAfter - Math.min(LAST_WAKE_MARGIN_MS, lifetime / 10), notAfter];
  let next: number | undefined;
  for (const at of points) if (at > now && (next === undefined || at < next)) next = at;
  return next === undefined ? undefined : next - now;
}

/** The wait until the next re-read: the interval, sooner when the lifetime or a failure asks. */
export function nextWaitMs(schedule: Schedule, lifetimeWake: number | undefined, failures: number): number {
  let wait = schedule.intervalMs;
  if (lifetimeWake !== undefined) wait = Math.min(wait, lifetimeWake);
  // After a refused version, look again soon (1 s, 2 s, 4 s, ... up to the interval): the
  // rotation may not be finished.
  if (failures > 0) wait = Math.min(wait, 1_000 * 2 ** Math.min(failures - 1, 20));
  return Math.max(1, wait);
}
