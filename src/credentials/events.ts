/**
 * The diagnostics channels of the credentials folder and their payloads. Kept here, not in
 * src/shared, because only this folder publishes on them.
 */
import type { HookErrorEvent } from '../shared/hooks.js';

/**
 * The names of the plain diagnostics channels `liveTlsCredentials` and `liveToken` publish on.
 *
 * @example
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel';
 * import { credentialsChannels, type CredentialsChangeEvent } from 'ridethrough/credentials';
 *
 * diagnostics_channel.subscribe(credentialsChannels.change, (message) => {
 *   const event = message as CredentialsChangeEvent;
 *   console.log(`${event.name ?? event.kind}: new credentials, valid until ${new Date(event.notAfter ?? 0).toISOString()}`);
 * });
 * console.log(credentialsChannels.rejected); // ridethrough:credentials:rejected
 * ```
 */
export const credentialsChannels = Object.freeze({
  /** New credentials were loaded (the first ones included): a {@link CredentialsChangeEvent}. */
  change: 'ridethrough:credentials:change',
  /** A new version was refused and the last good one kept: a {@link CredentialsRejectedEvent}. */
  rejected: 'ridethrough:credentials:rejected',
  /** A hook (`onChange`, `onRejected`) threw or rejected: a `HookErrorEvent`. */
  hookError: 'ridethrough:credentials:hook-error',
});

/** Which function an event comes from. */
export type CredentialsKind = 'tls' | 'token';

/** Given to `onChange` and published on `ridethrough:credentials:change`. Frozen. */
export interface CredentialsChangeEvent {
  /** `'tls'` for `liveTlsCredentials`, `'token'` for `liveToken`. */
  readonly kind: CredentialsKind;
  /** The `name` option, when given. */
  readonly name?: string | undefined;
  /** The files followed, as given. */
  readonly paths: readonly string[];
  /** SHA-256 of what is now served (the certificate and CA bytes; the token). */
  readonly hash: string;
  /** The hash it replaces; `undefined` for the first load. */
  readonly previousHash: string | undefined;
  /** When the new credentials expire (epoch ms); `undefined` for a token that is not a JWT with `exp`. */
  readonly notAfter: number | undefined;
}

/** Given to `onRejected` and published on `ridethrough:credentials:rejected`. Frozen. */
export interface CredentialsRejectedEvent {
  /** `'tls'` or `'token'`. */
  readonly kind: CredentialsKind;
  /** The `name` option, when given. */
  readonly name?: string | undefined;
  /** The files followed, as given. */
  readonly paths: readonly string[];
  /** Why: the read error, the PEM or key-mismatch error, an expired or not-yet-valid certificate, an empty token. */
  readonly error: unknown;
  /** The hash of what is still served. */
  readonly keptHash: string;
}

/**
 * Each plain channel of the credentials folder and its payload, for a typed `subscribe()`.
 */
export interface CredentialsMessages {
  /** See {@link CredentialsChangeEvent}. */
  'ridethrough:credentials:change': CredentialsChangeEvent;
  /** See {@link CredentialsRejectedEvent}. */
  'ridethrough:credentials:rejected': CredentialsRejectedEvent;
  /** A hook threw or rejected. */
  'ridethrough:credentials:hook-error': HookErrorEvent;
}
