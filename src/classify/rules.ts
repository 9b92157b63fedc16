/** The built-in rules other than HTTP and Kubernetes (see http.ts): markers, abort, codes, TLS, rotating files. */
import { checkOptionNames, describe, optionalNumberOption, optionsObject } from '../shared/validate.js';
import type { Rule, TransientOptions, Verdict, VerdictKind } from './index.js';
import { httpRule, kubernetesRule } from './http.js';
import { isObject, verdict, withRetryAfter, type Bag } from './verdict.js';

const ABORTED = verdict('permanent', 'aborted');
const TIMED_OUT = verdict('transient', 'timed out');
const MARKED_PERMANENT = verdict('permanent', 'marked permanent');
const MARKED_TRANSIENT = verdict('transient', 'marked transient');
const TLS_ALERT_INTERNAL_ERROR = verdict('transient', 'TLS alert internal error');

function codeTable(entries: Array<[VerdictKind, readonly string[]]>, reason = (code: string) => code): Map<string, Verdict> {
  const table = new Map<string, Verdict>();
  for (const [kind, codes] of entries) for (const code of codes) table.set(code, verdict(kind, reason(code)));
  return table;
}

/**
 * Longer messages are not searched: OpenSSL's alert text and V8's JSON errors are short, and a
 * search (or a slice, which flattens a concatenated string) of a huge one would cost its length.
 */
const MAX_MESSAGE_SCAN = 1024;

/** Whether `message`, a string of at most {@link MAX_MESSAGE_SCAN} characters, contains `part`. */
function messageHas(message: unknown, part: string): boolean {
  return typeof message === 'string' && message.length <= MAX_MESSAGE_SCAN && message.includes(part);
}

// ---------------------------------------------------------------------------------------------
// Markers

const marks = new WeakMap<object, Verdict>();
/** Until something is marked, classify skips the WeakMap lookup (a measurable share of a cheap call). */
let anyMarks = false;

function markable(error: unknown, marker: string): object {
  if ((typeof error === 'object' && error !== null) || typeof error === 'function') return error;
  // A WeakMap cannot hold a string or a number: wrap it, keeping the value as `cause`.
  const message = typeof error === 'string' ? error : `${marker}(): non-object value thrown: ${describe(error)}`;
  return new Error(message, { cause: error });
}

/**
 * Marks an error as permanent: every classifier built here answers `'permanent'`
 * (reason `'marked permanent'`) for it, wherever it sits in a `cause` chain, before any other
 * rule is asked. Like p-retry's `AbortError` or Go's `backoff.Permanent`, but the error is not
 * wrapped: the same object comes back, unmodified (the mark is kept beside it, in a `WeakMap`),
 * so identity and `instanceof` hold for whoever catches it. A value that is not an object (a
 * thrown string) cannot be marked in place and comes back wrapped in an `Error` whose `cause`
 * is the value. Marking again replaces the earlier mark.
 *
 * Guide: [Classifying errors](../../docs/guides/classification.md).
 *
 * @example
 * ```ts
 * import { classify, permanent } from 'ridethrough';
 *
 * class ConfigError extends Error {}
 * const error = permanent(new ConfigError('replicas must be >= 1'));
 * console.log(error instanceof ConfigError, classify(error));
 * // true { kind: 'permanent', reason: 'marked permanent' }
 * ```
 */
export function permanent<E extends object>(error: E): E;
export function permanent(error: string | number | boolean | bigint | symbol | null | undefined): Error;
export function permanent(error: unknown): unknown;
export function permanent(error: unknown): unknown {
  const target = markable(error, 'permanent');
  marks.set(target, MARKED_PERMANENT);
  anyMarks = true;
  return target;
}

/**
 * Marks an error as transient: every classifier built here answers `'transient'`
 * (reason `'marked transient'`, with `retryAfterMs` when given) for it, before any other rule is
 * asked. The same object comes back, unmodified; see {@link permanent} for how marks are kept.
 *
 * Guide: [Classifying errors](../../docs/guides/classification.md).
 *
 * @throws TypeError / RangeError when `options.retryAfterMs` is not a finite number >= 0.
 *
 * @example
 * ```ts
 * import { classify, transient } from 'ridethrough';
 *
 * const error = transient(new Error('lease held by another replica'), { retryAfterMs: 2000 });
 * console.log(classify(error));
 * // { kind: 'transient', reason: 'marked transient', retryAfterMs: 2000 }
 * ```
 */
export function transient<E extends object>(error: E, options?: TransientOptions): E;
export function transient(error: string | number | boolean | bigint | symbol | null | undefined, options?: TransientOptions): Error;
export function transient(error: unknown, options?: TransientOptions): unknown;
export function transient(error: unknown, options?: TransientOptions): unknown {
  const opts = optionsObject('transient()', options);
  checkOptionNames('transient()', opts, TRANSIENT_OPTION_NAMES);
  const retryAfterMs = optionalNumberOption('transient()', 'retryAfterMs', opts.retryAfterMs, { min: 0 });
  const target = markable(error, 'transient');
  marks.set(target, withRetryAfter(MARKED_TRANSIENT, retryAfterMs));
  anyMarks = true;
  return target;
}

const TRANSIENT_OPTION_NAMES: ReadonlySet<string> = new Set(['retryAfterMs']);

function markersRule(error: unknown): Verdict | undefined {
  if (!anyMarks) return undefined;
  return (typeof error === 'object' && error !== null) || typeof error === 'function' ? marks.get(error) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Abort

function abortRule(error: unknown): Verdict | undefined {
  if (!isObject(error)) return undefined;
  const name = error.name;
  if (name === 'AbortError' || error.code === 'ABORT_ERR') return ABORTED;
  return name === 'TimeoutError' ? TIMED_OUT : undefined;
}

// ---------------------------------------------------------------------------------------------
// Codes: Node system errors, undici (fetch), TLS.

const nodeCodes = codeTable([
  [
    'transient',
    [
      // The connection failed or broke.
      'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENETRESET',
      'ERR_STREAM_PREMATURE_CLOSE', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ESOCKETTIMEDOUT',
      // The network or the host is unreachable for now.
      'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL',
      // DNS: the name does not resolve yet (a Service not created yet), or the resolver is struggling.
      'ENOTFOUND', 'EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL',
      // Resources that free up.
      'EMFILE', 'ENFILE', 'EBUSY', 'EAGAIN', 'ENOBUFS',
    ],
  ],
  [
    'permanent',
    [
      'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EINVAL', 'ENOENT', 'EEXIST', 'ENOTEMPTY', 'EROFS',
      'ENOSPC', 'EDQUOT', 'ENAMETOOLONG', 'ELOOP', 'EBADF', 'EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'EFBIG',
    ],
  ],
]);

const fetchCodes = codeTable([
  [
    'transient',
    [
      'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET',
      // The server closed the body early.
      'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
    ],
  ],
  [
    'permanent',
    [
      'UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
      'UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_DESTROYED', 'UND_ERR_CLOSED',
    ],
  ],
]);

const tlsCodes = codeTable(
  [
    [
      'permanent',
      [
        'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_CRL',
        'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE',
        'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
        'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA', 'INVALID_PURPOSE',
        'PATH_LENGTH_EXCEEDED', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_FORMAT',
      ],
    ],
  ],
  (code) => `TLS certificate ${code}`,
);
tlsCodes.set('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR', TLS_ALERT_INTERNAL_ERROR);

function codeRule(table: Map<string, Verdict>): Rule {
  return (error) => {
    if (!isObject(error)) return undefined;
    const code = error.code;
    return typeof code === 'string' ? table.get(code) : undefined;
  };
}

const nodeRule = codeRule(nodeCodes);
const fetchRule = codeRule(fetchCodes);
const tlsCodeRule = codeRule(tlsCodes);

/** `https.get` reports alert 80 as a generic EPROTO with OpenSSL's text in the message. */
function isEprotoAlert(error: Bag): boolean {
  return messageHas(error.message, 'tlsv1 alert internal error');
}

function tlsRule(error: unknown): Verdict | undefined {
  const found = tlsCodeRule(error);
  if (found !== undefined) return found;
  return isObject(error) && error.code === 'EPROTO' && isEprotoAlert(error) ? TLS_ALERT_INTERNAL_ERROR : undefined;
}

// ---------------------------------------------------------------------------------------------
// Rotating files (opt-in)

export { EmptyFileError } from '../files/empty-file-error.js';

const rotatingFileCodes = new Map<string, Verdict>([
  ['ENOENT', verdict('transient', 'ENOENT')],
  ['ERR_EMPTY_FILE', verdict('transient', 'empty file')],
  ['ERR_OSSL_PEM_NO_START_LINE', verdict('transient', 'PEM no start line')],
  ['ERR_OSSL_PEM_BAD_END_LINE', verdict('transient', 'PEM bad end line')],
  ['ERR_OSSL_UNSUPPORTED', verdict('transient', 'key does not decode')],
  // Key and certificate read on either side of a swap.
  ['ERR_OSSL_X509_KEY_VALUES_MISMATCH', verdict('transient', 'key does not match certificate')],
]);
const TRUNCATED_JSON = verdict('transient', 'truncated JSON');

function rotatingFileRule(error: unknown): Verdict | undefined {
  if (!isObject(error)) return undefined;
  const code = error.code;
  const found = typeof code === 'string' ? rotatingFileCodes.get(code) : undefined;
  if (found !== undefined) return found;
  // JSON.parse of a file cut short: "Unexpected end of JSON input", "Unterminated string in JSON ...".
  if (error.name === 'SyntaxError') {
    if (messageHas(error.message, 'JSON')) return TRUNCATED_JSON;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The rule sets

/**
 * The built-in rules by name, to reorder, drop or extend with {@link createClassifier}:
 * - `markers`: errors marked with {@link permanent} or {@link transient}.
 * - `abort`: an `AbortError` (name, or code `ABORT_ERR`) is permanent, reason `'aborted'`, always:
 *   the caller cancelled. A `TimeoutError` (what `AbortSignal.timeout()` and retry's attempt
 *   timeout abort with) is transient, reason `'timed out'`. Placed before any `cause` is followed,
 *   so an abort is never retried because of what it wraps.
 * - `node`: Node system error codes. Transient: `ECONNRESET`, `ECONNREFUSED`, `ECONNABORTED`,
 *   `ETIMEDOUT`, `EPIPE`, `ENETRESET`, `ERR_STREAM_PREMATURE_CLOSE`, `ERR_SOCKET_CONNECTION_TIMEOUT`,
 *   `ESOCKETTIMEDOUT`, `EHOSTUNREACH`, `EHOSTDOWN`, `ENETUNREACH`, `ENETDOWN`, `EADDRNOTAVAIL`,
 *   `ENOTFOUND` (a Service not created yet), `EAI_AGAIN`, `ETIMEOUT`, `ESERVFAIL`, `EMFILE`, `ENFILE`,
 *   `EBUSY`, `EAGAIN`, `ENOBUFS`. Permanent: `EACCES`, `EPERM`, `EISDIR`, `ENOTDIR`, `EINVAL`,
 *   `ENOENT`, `EEXIST`, `ENOTEMPTY`, `EROFS`, `ENOSPC`, `EDQUOT`, `ENAMETOOLONG`, `ELOOP`, `EBADF`,
 *   `EXDEV`, `ENOTSUP`, `EOPNOTSUPP`, `EFBIG`. The reason is the code.
 * - `fetch`: undici's codes. Timeouts and socket errors (`UND_ERR_CONNECT_TIMEOUT`,
 *   `UND_ERR_HEADERS_TIMEOUT`, `UND_ERR_BODY_TIMEOUT`, `UND_ERR_SOCKET`,
 *   `UND_ERR_RES_CONTENT_LENGTH_MISMATCH`) transient; misuse (`UND_ERR_INVALID_ARG`...) permanent.
 *   `TypeError: fetch failed` itself has no verdict: its `cause` decides.
 * - `tls`: the alert "internal error" a kubelet sends before its serving certificate is approved
 *   (`ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR`, or `EPROTO` with "tlsv1 alert internal error" from
 *   `https.get`) transient, reason `'TLS alert internal error'`; certificate verification failures
 *   (`DEPTH_ZERO_SELF_SIGNED_CERT`, `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`...) permanent,
 *   reason `'TLS certificate <code>'`.
 * - `kubernetes`: a Kubernetes `Status`, thrown itself or carried as `body` (parsed, or raw JSON
 *   text of up to 4,096 characters, as in `@kubernetes/client-node` 1.x's `ApiException`). Transient: TooManyRequests,
 *   ServerTimeout, Timeout, InternalError, ServiceUnavailable, Expired and Gone (relist), reason
 *   `'Kubernetes <reason>'`, and Conflict, reason `'conflict'` (re-read, then retry). Permanent:
 *   Unauthorized, Forbidden, NotFound, Invalid, BadRequest, AlreadyExists, MethodNotAllowed,
 *   NotAcceptable, RequestEntityTooLarge, UnsupportedMediaType. `retryAfterMs` is the longer of
 *   `details.retryAfterSeconds` and the `Retry-After` header.
 * - `http`: an HTTP status on `status`, `statusCode`, `response.status`, `response.statusCode`,
 *   `$metadata.httpStatusCode` (AWS SDK v3), or a numeric `code` beside a `body`. 408, 429, 500,
 *   502, 503, 504 transient, every other 4xx and 5xx permanent, reason `'HTTP <status>'`.
 *   `Retry-After` (seconds or an HTTP date, from `headers` or `response.headers`, a plain object
 *   or a `Headers`) becomes `retryAfterMs`.
 * - `rotatingFile` (opt-in, not in {@link defaultRules}): for reads of a file that is being
 *   replaced (a Secret or ConfigMap volume, a rotated certificate). `ENOENT`, {@link EmptyFileError},
 *   `ERR_OSSL_PEM_NO_START_LINE`, `ERR_OSSL_PEM_BAD_END_LINE`, `ERR_OSSL_UNSUPPORTED` (a key that
 *   does not decode), `ERR_OSSL_X509_KEY_VALUES_MISMATCH` (key and certificate from two versions)
 *   and a JSON `SyntaxError` (truncated JSON) are all transient. Put it first:
 *   `[rules.rotatingFile, ...defaultRules]`, since `node` judges `ENOENT` permanent.
 *
 * @example
 * ```ts
 * import { createClassifier, defaultRules, rules } from 'ridethrough';
 *
 * // Reading a certificate that the kubelet is swapping: missing or half-written is temporary.
 * const classifyCertRead = createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });
 * // A client that must never retry HTTP errors: drop the http and kubernetes rules.
 * const networkOnly = createClassifier({ rules: defaultRules.filter((r) => r !== rules.http && r !== rules.kubernetes) });
 *
 * const missing = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
 * console.log(classifyCertRead(missing).kind, networkOnly({ status: 503 }).kind); // transient permanent
 * ```
 */
export const rules: Readonly<{
  /** Errors marked with {@link permanent} or {@link transient}: the mark is the verdict. */
  markers: Rule;
  /** An `AbortError` is permanent (`'aborted'`); a `TimeoutError` is transient (`'timed out'`). */
  abort: Rule;
  /** Node system error codes: `ECONNRESET`, `ENOTFOUND`... transient; `EACCES`, `ENOENT`... permanent. */
  node: Rule;
  /** undici's (`fetch`'s) error codes: timeouts and socket errors transient, misuse permanent. */
  fetch: Rule;
  /** TLS alert "internal error" transient; certificate verification failures permanent. */
  tls: Rule;
  /** A Kubernetes `Status` (thrown, or as `body`), judged by its `reason`, with its Retry-After. */
  kubernetes: Rule;
  /** An HTTP status: 408, 429, 500, 502, 503, 504 transient, other 4xx and 5xx permanent; reads Retry-After. */
  http: Rule;
  /** Opt-in: a file caught mid-replacement (missing, empty, half-written PEM or JSON) is transient. */
  rotatingFile: Rule;
}> = Object.freeze({
  markers: markersRule,
  abort: abortRule,
  node: nodeRule,
  fetch: fetchRule,
  tls: tlsRule,
  kubernetes: kubernetesRule,
  http: httpRule,
  rotatingFile: rotatingFileRule,
});

/**
 * The rules {@link classify} uses, in order: `markers`, `abort`, `node`, `fetch`, `tls`,
 * `kubernetes`, `http` (see {@link rules}). Markers come first so user code has the last word;
 * abort comes before everything else; kubernetes before http, so a 409 Conflict is retried and a
 * 409 AlreadyExists is not. `rotatingFile` is not included.
 *
 * @example
 * ```ts
 * import { createClassifier, defaultRules, rules } from 'ridethrough';
 *
 * console.log(defaultRules.indexOf(rules.markers), defaultRules.includes(rules.rotatingFile)); // 0 false
 * const lenient = createClassifier({ rules: defaultRules, fallback: 'transient' });
 * console.log(lenient(new Error('something odd'))); // { kind: 'transient', reason: 'unrecognised error' }
 * ```
 */
export const defaultRules: readonly Rule[] = Object.freeze([
  markersRule,
  abortRule,
  nodeRule,
  fetchRule,
  tlsRule,
  kubernetesRule,
  httpRule,
]);
