/**
 * Typed access to ridethrough's diagnostics channels: the one module above every primitive, since
 * it maps each primitive's channel names to their payload types. Subscribing through
 * {@link subscribe} is a thin layer over `diagnostics_channel.subscribe`; subscribing with
 * `node:diagnostics_channel` directly works the same, untyped.
 *
 * @module
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { CredentialsMessages } from './credentials/index.js';
import type { FilesMessages } from './files/index.js';
import type { GateMessages } from './gate/index.js';
import type { RetryMessages } from './retry/index.js';
import { describe } from './shared/validate.js';
import type { WatchMessages } from './watch/index.js';

/**
 * Every plain channel ridethrough publishes on, by name, with the type of its messages. Each
 * message is frozen. `ridethrough/kubernetes`, once imported, adds its channels here (its types
 * need `@kubernetes/client-node`, which the root import must not require). The tracing channels
 * (`tracingChannels`) are not listed: their contexts belong to the platform's tracing protocol.
 */
export interface DiagnosticsMessages
  extends RetryMessages,
    FilesMessages,
    WatchMessages,
    GateMessages,
    CredentialsMessages {}

/** The name of a plain diagnostics channel: a key of {@link DiagnosticsMessages}. */
export type DiagnosticsChannelName = keyof DiagnosticsMessages;

/**
 * Subscribes `handler` to one of ridethrough's channels, with the message typed from the channel
 * name (a misspelled name does not compile). Returns the function that unsubscribes it.
 *
 * What `handler` throws is reported by Node as an uncaught exception on the next tick, as for any
 * diagnostics_channel subscriber: keep handlers small (count, log, set a gauge).
 *
 * @example
 * ```ts
 * import { retry, subscribe } from 'ridethrough';
 * const unsubscribe = subscribe('ridethrough:retry:retry', (event) => {
 *   console.log(`attempt ${event.attempt} failed (${event.verdict.reason}); next in ${event.delayMs} ms`);
 * });
 * let calls = 0;
 * await retry(async () => {
 *   if (++calls < 2) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
 * }, { initialDelayMs: 0 });
 * unsubscribe();
 * ```
 */
export function subscribe<K extends DiagnosticsChannelName>(
  channel: K,
  handler: (message: DiagnosticsMessages[K], channel: K) => void,
): () => void {
  if (typeof channel !== 'string' || !channel.startsWith('ridethrough:')) {
    throw new TypeError(`subscribe(): "channel" must be a ridethrough channel name, got ${describe(channel)}`);
  }
  if (typeof handler !== 'function') {
    throw new TypeError(`subscribe(): "handler" must be a function, got ${describe(handler)}`);
  }
  const listener = (message: unknown, name: string | symbol): void => handler(message as DiagnosticsMessages[K], name as K);
  diagnostics_channel.subscribe(channel, listener);
  return () => {
    diagnostics_channel.unsubscribe(channel, listener);
  };
}
