/**
 * What liveTlsCredentials and liveToken share: event publishing, the wake schedule before expiry,
 * and the options both accept.
 */
import { channel } from 'node:diagnostics_channel';
import { callHook } from '../shared/hooks.js';
import { describe, functionOption, numberOption } from '../shared/validate.js';
import { credentialsChannels, type CredentialsChangeEvent, type CredentialsRejectedEvent } from './events.js';

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
    name: nameOption(where, o.name),
    onChange: functionOption<(event: CredentialsChangeEvent) => unknown>(where, 'onChange', o.onChange),
    onRejected: functionOption<(event: CredentialsRejectedEvent) => unknown>(where, 'onRejected', o.onRejected),
  };
}

export function nameOption(where: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new TypeError(`${where}: option "name" must be a string, got ${describe(value)}`);
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

/** The options both pass on to `watchWithFallback`, checked here so errors name our function. */
export function watchOptionsFrom(where: string, o: Record<string, unknown>): { debounceMs?: number; jitter?: number; random?: () => number } {
  const options: { debounceMs?: number; jitter?: number; random?: () => number } = {};
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
