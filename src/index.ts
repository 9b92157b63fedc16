/**
 * The root import `ridethrough`: the five primitives in one import, for code that uses several.
 *
 * ```ts
 * import { classify, retry, atomicWriteFile, watchWithFallback, readinessGate } from 'ridethrough';
 * ```
 *
 * Every name here is also exported from its own subpath, and documented once, on that subpath's
 * page; this page lists only what exists nowhere else (the clock and the diagnostics channels).
 * - `ridethrough/classify`: is this error worth retrying? ({@link classify!classify})
 * - `ridethrough/retry`: backoff retry inside a deadline ({@link retry!retry})
 * - `ridethrough/files`: atomic writes and rotation-tolerant reads ({@link files!atomicWriteFile}, {@link files!readFileWithRetry})
 * - `ridethrough/watch`: a file watcher with a timer fallback ({@link watch!watchWithFallback}, {@link watch!liveConfig})
 * - `ridethrough/gate`: readiness gates and waits ({@link gate!readinessGate}, {@link gate!waitFor})
 *
 * `ridethrough/kubernetes`, `ridethrough/credentials` and `ridethrough/testing` are subpaths
 * only: import them by name.
 *
 * @packageDocumentation
 */
export * from './classify/index.js';
export * from './retry/index.js';
export * from './files/index.js';
export * from './watch/index.js';
export * from './gate/index.js';
export { realClock, type Clock } from './shared/clock.js';
export { diagnosticsChannels, tracingChannels } from './shared/diagnostics.js';
export type { HookErrorEvent } from './shared/hooks.js';
export { subscribe, type DiagnosticsChannelName, type DiagnosticsMessages } from './diagnostics.js';
