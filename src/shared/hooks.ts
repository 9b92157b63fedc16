/**
 * Calling the caller's hooks (`onRetry`, `onChange`, `onError`, ...). Hooks report; they never
 * steer. What one throws, or the promise it returns rejects with, is caught and published on the
 * primitive's `hook-error` channel instead of changing the call's outcome or reaching the host as
 * an unhandled rejection.
 */
import type { Channel } from 'node:diagnostics_channel';

/** Published on `ridethrough:<primitive>:hook-error` when a hook throws or rejects. */
export interface HookErrorEvent {
  /** The option's name: `'onRetry'`, `'onChange'`, ... */
  readonly hook: string;
  /** What the hook threw, or what its promise rejected with, untouched. */
  readonly error: unknown;
  /** The operation's `name` option, when it was given one. */
  readonly name?: string | undefined;
}

/**
 * Calls `fn(event)` and never throws: a synchronous throw or an asynchronous rejection is
 * published on `channel` as a frozen {@link HookErrorEvent}.
 */
export function callHook<E>(
  channel: Channel,
  hook: string,
  fn: ((event: E) => unknown) | undefined,
  event: E,
  name?: string,
): void {
  if (fn === undefined) return;
  try {
    const result = fn(event);
    // Only a thenable needs a catch; most hooks return undefined.
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      Promise.resolve(result).then(undefined, (error: unknown) => publishHookError(channel, hook, error, name));
    }
  } catch (error) {
    publishHookError(channel, hook, error, name);
  }
}

function publishHookError(channel: Channel, hook: string, error: unknown, name: string | undefined): void {
  if (!channel.hasSubscribers) return;
  const event: HookErrorEvent = name === undefined ? { hook, error } : { hook, error, name };
  // publish() itself never throws: Node reports a throwing subscriber on its own.
  channel.publish(Object.freeze(event));
}
