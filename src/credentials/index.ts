/**
 * `ridethrough/credentials`: TLS certificates, keys and bearer tokens that rotate under a
 * running server or client. {@link liveTlsCredentials} loads a matching certificate and key as
 * one generation and follows them (`attach(server)` re-keys new handshakes); {@link liveToken}
 * keeps a projected service-account token fresh. Both keep the last good value when a new one
 * is bad, wake on their own before expiry, and give a readiness `check` for `readinessGate`.
 *
 * Built on `ridethrough/files` (readFilesWithRetry) and `ridethrough/watch` (watchWithFallback).
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
export {
  credentialsChannels,
  type CredentialsChangeEvent,
  type CredentialsKind,
  type CredentialsMessages,
  type CredentialsRejectedEvent,
} from './events.js';
