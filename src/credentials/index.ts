/**
 * `ridethrough/credentials`: TLS certificates, keys and bearer tokens that rotate under a
 * running server or client. {@link liveTlsCredentials} loads a matching certificate and key as
 * one generation and follows them (`attach(server)` re-keys new handshakes); {@link liveToken}
 * keeps a projected service-account token fresh. Both keep the last good value when a new one
 * is bad, wake on their own before expiry, and give a readiness `check` for `readinessGate`.
 *
 * Built on `ridethrough/files` (readFilesWithRetry) and `ridethrough/watch` (watchWithFallback).
 *
 * ```ts
 * import { liveToken } from 'ridethrough/credentials';
 *
 * const token = await liveToken('/var/run/secrets/kubernetes.io/serviceaccount/token');
 * const response = await fetch('https://kubernetes.default.svc/version', {
 *   headers: { authorization: `Bearer ${token.current}` }, // always the newest good token
 * });
 * console.log(response.status);
 * await token.close();
 * ```
 *
 * Guides: [Rotating credentials](../../docs/guides/credentials.md),
 * [Scenario: a server whose certificate rotates](../../docs/guides/scenario-serving-cert-rotation.md),
 * [Scenario: a certificate that rotates](../../docs/guides/scenario-cert-rotation.md),
 * [Scenario: a refresher that follows a rotated token](../../docs/guides/scenario-token-refresher.md).
 *
 * @packageDocumentation
 */
export {
  liveTlsCredentials,
  type LiveTlsCredentialsOptions,
  type SecureContextServer,
  type TlsCredentialFiles,
  type TlsCredentials,
} from './tls.js';
export { liveToken, type LiveToken, type LiveTokenOptions } from './token.js';
export type { CredentialsOptions } from './common.js';
export {
  credentialsChannels,
  type CredentialsChangeEvent,
  type CredentialsKind,
  type CredentialsMessages,
  type CredentialsRejectedEvent,
} from './events.js';
