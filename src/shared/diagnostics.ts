/**
 * Diagnostics channels (`node:diagnostics_channel`). Every primitive publishes its events here,
 * named `ridethrough:<primitive>:<event>`. Publishing is guarded by `hasSubscribers`, so an
 * event nobody listens to costs one property read and builds no message.
 */
import { channel, type Channel } from 'node:diagnostics_channel';

/**
 * The name of every diagnostics channel ridethrough publishes on. Subscribe with
 * `diagnostics_channel.subscribe(name, listener)`; the message types are documented with each
 * primitive's event types.
 *
 * @example
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel';
 * import { diagnosticsChannels } from 'ridethrough';
 * diagnostics_channel.subscribe(diagnosticsChannels.retry.retry, (message) => {
 *   console.log('retrying', message);
 * });
 * ```
 */
export const diagnosticsChannels = Object.freeze({
  /** Published by `retry()`, and so also by `readFileWithRetry`, `waitFor` and `waitUntilReady`, which retry through it. */
  retry: Object.freeze({
    /** Before each wait: a {@link RetryEvent}. */
    retry: 'ridethrough:retry:retry',
    /** A success that followed failures: a {@link RecoveredEvent}. */
    recovered: 'ridethrough:retry:recovered',
    /** `retry()` gave up: a {@link GiveUpEvent}. */
    giveUp: 'ridethrough:retry:give-up',
  }),
  /** Published by `atomicWriteFile()`. */
  files: Object.freeze({
    /** An `atomicWriteFile()` call finished. */
    write: 'ridethrough:files:write',
  }),
  /** Published by `watchWithFallback()` and `liveConfig()`. */
  watch: Object.freeze({
    /** `onWake` is about to run. */
    wake: 'ridethrough:watch:wake',
    /** An error was reported to `onError`. */
    error: 'ridethrough:watch:error',
    /** The watcher changed mode (`watching`, `timer-only`, `closed`). */
    mode: 'ridethrough:watch:mode',
    /** `liveConfig` loaded a new version. */
    configChange: 'ridethrough:watch:config-change',
    /** `liveConfig` rejected a new version and kept the last good one. */
    configRejected: 'ridethrough:watch:config-rejected',
  }),
  /** Published by the gates `readinessGate()` returns. */
  gate: Object.freeze({
    /** A subject was evaluated: a readiness report. */
    report: 'ridethrough:gate:report',
    /** `drain()` was called. */
    drain: 'ridethrough:gate:drain',
  }),
});

/** The channel object for one of the {@link diagnosticsChannels} names. */
export function diagnosticsChannel(name: string): Channel {
  return channel(name);
}
