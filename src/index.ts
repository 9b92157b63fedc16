/**
 * ridethrough: ride through transient infrastructure faults.
 *
 * Every primitive is also its own subpath export (`ridethrough/retry`, ...).
 *
 * @packageDocumentation
 */
export * from './classify.js';
export * from './retry.js';
export { realClock, type Clock } from './shared/clock.js';
export { diagnosticsChannels } from './shared/diagnostics.js';
