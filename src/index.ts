/**
 * ridethrough: ride through transient infrastructure faults instead of crash-looping.
 *
 * Five small primitives, each also its own subpath export:
 * - `ridethrough/classify`: is this error worth retrying? ({@link classify})
 * - `ridethrough/retry`: backoff retry inside a deadline ({@link retry})
 * - `ridethrough/files`: atomic writes and rotation-tolerant reads ({@link atomicWriteFile}, {@link readFileWithRetry})
 * - `ridethrough/watch`: a file watcher with a timer fallback ({@link watchWithFallback}, {@link liveConfig})
 * - `ridethrough/gate`: readiness gates and waits ({@link readinessGate}, {@link waitFor})
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
