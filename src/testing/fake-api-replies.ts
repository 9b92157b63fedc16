/**
 * What the fake API server answers: the `Status` body of a failure as the API server writes it
 * ({@link kubeStatus}), and the scripted replies a test queues (an answer, or a reset).
 */
/** An HTTP answer: status code, JSON body (any value, serialised; a string is sent as is), extra headers. */
export interface FakeApiAnswer {
  /** The HTTP status code. */
  readonly status: number;
  /** The body, sent as JSON (a string is sent as it is). */
  readonly body?: unknown;
  /** Extra response headers (`Retry-After`, ...). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** Destroy the connection without answering (the client sees ECONNRESET or "socket hang up"). */
export interface FakeApiReset {
  /** Always `true`: the marker of a reset. */
  readonly reset: true;
}

/** One scripted reply. */
export type FakeApiReply = FakeApiAnswer | FakeApiReset;

/** A Kubernetes `StatusReason` the fake server knows the code of. */
export type StatusReason =
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ServerTimeout'
  | 'StoreReadError'
  | 'Timeout'
  | 'TooManyRequests'
  | 'BadRequest'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'InternalError'
  | 'Expired'
  | 'ServiceUnavailable';

/** The HTTP code the API server pairs with each `Status` reason (apimachinery's `StatusReason`). */
export const statusCodes: Readonly<Record<StatusReason, number>> = Object.freeze({
  Unauthorized: 401, Forbidden: 403, NotFound: 404, AlreadyExists: 409, Conflict: 409, Gone: 410,
  Invalid: 422, ServerTimeout: 500, StoreReadError: 500, Timeout: 504, TooManyRequests: 429,
  BadRequest: 400, MethodNotAllowed: 405, NotAcceptable: 406, RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415, InternalError: 500, Expired: 410, ServiceUnavailable: 503,
});



/** Options of {@link kubeStatus}. */
export interface KubeStatusOptions {
  /** The HTTP code. @defaultValue the one the API server uses for the reason */
  code?: number | undefined;
  /** The Status `message`. @defaultValue the reason */
  message?: string | undefined;
  /** Sets `details.retryAfterSeconds` and the `Retry-After` header, as the API server does. */
  retryAfterSeconds?: number | undefined;
  /** Extra `details` fields (`name`, `kind`, `causes`...). */
  details?: Record<string, unknown> | undefined;
}

/** The `Status` body of a failure, fields in the order the API server writes them. */
export function statusBody(reason: StatusReason, code: number, message: string, details?: Record<string, unknown>): object {
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason,
    ...(details !== undefined && Object.keys(details).length > 0 ? { details } : {}), code,
  };
}

/**
 * A failure reply as the API server sends it: the `Status` JSON with its code and, when asked, a
 * `Retry-After` header.
 *
 * @example
 * ```ts
 * import { kubeStatus } from 'ridethrough/testing';
 * const answer = kubeStatus('TooManyRequests', { retryAfterSeconds: 1 });
 * console.log(answer.status, answer.headers); // 429 { 'Retry-After': '1' }
 * ```
 */
export function kubeStatus(reason: StatusReason, options: KubeStatusOptions = {}): FakeApiAnswer {
  const code = options.code ?? statusCodes[reason];
  const details: Record<string, unknown> = { ...options.details };
  if (options.retryAfterSeconds !== undefined) details.retryAfterSeconds = options.retryAfterSeconds;
  const headers: Record<string, string> = {};
  if (options.retryAfterSeconds !== undefined) headers['Retry-After'] = String(options.retryAfterSeconds);
  return { status: code, body: statusBody(reason, code, options.message ?? `the server refused the request: ${reason}`, details), headers };
}
