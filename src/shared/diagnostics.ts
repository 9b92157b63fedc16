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
    /** Before each wait: a {@link retry!RetryEvent}. */
    retry: 'ridethrough:retry:retry',
    /** A success that followed failures: a {@link retry!RecoveredEvent}. */
    recovered: 'ridethrough:retry:recovered',
    /** `retry()` gave up: a {@link retry!GiveUpEvent}. */
    giveUp: 'ridethrough:retry:give-up',
    /** An `onRetry`/`onRecovered` hook threw or rejected: a `HookErrorEvent`. */
    hookError: 'ridethrough:retry:hook-error',
  }),
  /** Published by `atomicWriteFile()`. */
  files: Object.freeze({
    /** An `atomicWriteFile()` call finished. */
    write: 'ridethrough:files:write',
    /** A hook of a files function threw or rejected: a `HookErrorEvent`. */
    hookError: 'ridethrough:files:hook-error',
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
    /** A hook (`onError`, `onModeChange`, `onChange`) threw or rejected: a `HookErrorEvent`. */
    hookError: 'ridethrough:watch:hook-error',
  }),
  /** Published by the gates `readinessGate()` returns. */
  gate: Object.freeze({
    /** A subject was evaluated: a readiness report. */
    report: 'ridethrough:gate:report',
    /** `drain()` was called. */
    drain: 'ridethrough:gate:drain',
    /** A hook (`onProgress`, `onRetry`, ...) threw or rejected: a `HookErrorEvent`. */
    hookError: 'ridethrough:gate:hook-error',
  }),
});

/**
 * The names of ridethrough's tracing channels (`diagnostics_channel.tracingChannel(name)`): each
 * publishes on `tracing:<name>:start`, `:end`, `:asyncStart`, `:asyncEnd` and `:error`, the
 * quintet OpenTelemetry and other APMs consume. They do not collide with the plain channels above.
 */
export const tracingChannels = Object.freeze({
  /** Around a whole `retry()` call. */
  retry: 'ridethrough:retry',
  /** Around each attempt of a `retry()` call. */
  retryAttempt: 'ridethrough:retry:attempt',
  /** Around each `atomicWriteFile()`. */
  filesWrite: 'ridethrough:files:write',
  /** Around each run of a watcher's task. */
  watchRun: 'ridethrough:watch:run',
  /** Around each evaluation of a readiness gate. */
  gateEvaluate: 'ridethrough:gate:evaluate',
});

/** The channel object for one of the {@link diagnosticsChannels} names. */
export function diagnosticsChannel(name: string): Channel {
  return channel(name);
}
