/**
 * `ridethrough/classify`: is this failure worth retrying?
 *
 * {@link classify} looks at any thrown value and answers with a {@link Verdict}: `'transient'`
 * (retrying may help), or `'permanent'` (it cannot; fail now), with a short human reason and,
 * when the server asked for one, a delay. It is built from small {@link Rule}s that you can
 * reorder, drop or extend with {@link createClassifier}.
 *
 * An error that no rule recognises is **permanent** by default: fail fast rather than retry
 * something nobody understood.
 *
 * ```ts
 * import { classify } from 'ridethrough/classify';
 *
 * const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
 * console.log(classify(reset).kind); // 'transient'
 * console.log(classify(new TypeError('x is not a function')).kind); // 'permanent'
 * ```
 *
 * Guide: [Classifying errors](../../docs/guides/classification.md).
 *
 * @module
 */
import { checkOptionNames, describe, enumOption, optionalNumberOption, optionsObject } from '../shared/validate.js';

/** Whether retrying can help. */
export type VerdictKind = 'transient' | 'permanent';

/** What the classifier concluded about one error. */
export interface Verdict {
  /** `'transient'`: retrying may succeed. `'permanent'`: retrying cannot help; fail now. */
  readonly kind: VerdictKind;
  /** Short and human: `'ECONNRESET'`, `'HTTP 503'`, `'Kubernetes TooManyRequests'`. */
  readonly reason: string;
  /** The server asked to wait this long before the next attempt (Retry-After, retryAfterSeconds). */
  readonly retryAfterMs?: number;
}

/**
 * A rule gives a verdict on errors it recognises and `undefined` on the rest. A classifier runs
 * its rules in order on the thrown value and then on each `cause` down the chain; the first
 * verdict wins. A rule that throws is skipped, so a rule may read properties without guarding
 * against hostile getters.
 *
 * @example
 * ```ts
 * import { createClassifier, defaultRules, type Rule } from 'ridethrough';
 *
 * // Our database driver says "try again" with SQLSTATE 40001 (serialization failure).
 * const serializationFailure: Rule = (error) =>
 *   (error as { code?: unknown })?.code === '40001' ? { kind: 'transient', reason: 'serialization failure' } : undefined;
 *
 * const classify = createClassifier({ rules: [...defaultRules, serializationFailure] });
 * console.log(classify(Object.assign(new Error('could not serialize access'), { code: '40001' })));
 * // { kind: 'transient', reason: 'serialization failure' }
 * ```
 */
export type Rule = (error: unknown) => Verdict | undefined;

/** A function that classifies any value thrown. It never throws. */
export type Classifier = (error: unknown) => Verdict;

/** Options of {@link createClassifier}. */
export interface ClassifierOptions {
  /**
   * The rules, in the order they are asked; the first verdict wins.
   * @defaultValue {@link defaultRules}
   */
  rules?: readonly Rule[] | undefined;
  /**
   * The verdict for an error no rule recognises (reason `'unrecognised error'`).
   * @defaultValue 'permanent'
   */
  fallback?: VerdictKind | undefined;
}

/** Options of {@link transient}. */
export interface TransientOptions {
  /**
   * Ask the retry loop to wait at least this long before the next attempt (a finite number >= 0).
   * @defaultValue undefined (no preference; the backoff schedule decides)
   */
  retryAfterMs?: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// Verdicts. The common ones are built once, frozen, and shared: classifying allocates nothing
// unless a server asked for a specific delay.

function verdict(kind: VerdictKind, reason: string): Verdict {
  return Object.freeze({ kind, reason });
}

function withRetryAfter(base: Verdict, retryAfterMs: number | undefined): Verdict {
  if (retryAfterMs === undefined || retryAfterMs === base.retryAfterMs) return base;
  return Object.freeze({ kind: base.kind, reason: base.reason, retryAfterMs });
}

/** Whole seconds up to this many get a shared verdict: `Retry-After: 1` is the usual answer. */
const SHARED_RETRY_AFTER_SECONDS = 300;
const sharedRetryAfter = new Map<Verdict, Verdict[]>();

/** {@link withRetryAfter} for the built-in verdicts: the common delays are built once. */
function withSharedRetryAfter(base: Verdict, retryAfterMs: number | undefined): Verdict {
  if (retryAfterMs === undefined) return base;
  const seconds = retryAfterMs / 1000;
  if (!Number.isInteger(seconds) || seconds > SHARED_RETRY_AFTER_SECONDS) return withRetryAfter(base, retryAfterMs);
  let bySeconds = sharedRetryAfter.get(base);
  if (bySeconds === undefined) sharedRetryAfter.set(base, (bySeconds = []));
  return (bySeconds[seconds] ??= withRetryAfter(base, retryAfterMs));
}

const ABORTED = verdict('permanent', 'aborted');
const TIMED_OUT = verdict('transient', 'timed out');
const MARKED_PERMANENT = verdict('permanent', 'marked permanent');
const MARKED_TRANSIENT = verdict('transient', 'marked transient');
const TLS_ALERT_INTERNAL_ERROR = verdict('transient', 'TLS alert internal error');
const UNRECOGNISED_PERMANENT = verdict('permanent', 'unrecognised error');
const UNRECOGNISED_TRANSIENT = verdict('transient', 'unrecognised error');

function codeTable(entries: Array<[VerdictKind, readonly string[]]>, reason = (code: string) => code): Map<string, Verdict> {
  const table = new Map<string, Verdict>();
  for (const [kind, codes] of entries) for (const code of codes) table.set(code, verdict(kind, reason(code)));
  return table;
}

// ---------------------------------------------------------------------------------------------
// Small, safe readers. Rules run inside try/catch, so these only need to be cheap.

type Bag = Record<string, unknown>;

function isObject(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null;
}

const MAX_RETRY_AFTER_LENGTH = 64;
/**
 * Longer messages are not searched: OpenSSL's alert text and V8's JSON errors are short, and a
 * search (or a slice, which flattens a concatenated string) of a huge one would cost its length.
 */
const MAX_MESSAGE_SCAN = 1024;

/** Whether `message`, a string of at most {@link MAX_MESSAGE_SCAN} characters, contains `part`. */
function messageHas(message: unknown, part: string): boolean {
  return typeof message === 'string' && message.length <= MAX_MESSAGE_SCAN && message.includes(part);
}

/**
 * Milliseconds from a Retry-After value: delay-seconds (`"120"`, or a number) or an HTTP date.
 * `Date.now()` rather than a Clock: an HTTP date is wall-clock time, and classify has no clock.
 */
function parseRetryAfter(value: unknown): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number') return secondsToMs(value);
  // An HTTP date is 29 characters: anything much longer is not a Retry-After, and not worth a scan.
  if (typeof value !== 'string' || value.length > MAX_RETRY_AFTER_LENGTH) return undefined;
  const seconds = parseSeconds(value);
  if (seconds !== undefined) return secondsToMs(seconds);
  // Every HTTP-date form starts with a day name; Date.parse alone would take "-5" for a year.
  if (!/^\s*[A-Za-z]{3}/.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Seconds to milliseconds, or undefined unless the result is a finite number >= 0. */
function secondsToMs(seconds: unknown): number | undefined {
  if (typeof seconds !== 'number' || !(seconds >= 0)) return undefined;
  const ms = seconds * 1000;
  return Number.isFinite(ms) ? ms : undefined;
}

/** `"120"` or `" 1.5 "` as a number; undefined for anything else (a date). No regex: this is the hot path. */
function parseSeconds(text: string): number | undefined {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  if (start === end) return undefined;
  let dot = false;
  let whole = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e /* . */ && !dot && i > start && i < end - 1) dot = true;
    else if (c < 0x30 || c > 0x39) return undefined;
    else if (!dot) whole = whole * 10 + (c - 0x30);
  }
  // Whole seconds, the usual form, need no string-to-number conversion.
  return dot ? Number(text.slice(start, end)) : whole;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Retry-After from a plain header object (either spelling) or anything with `get()` (`Headers`). */
function retryAfterHeader(headers: unknown): number | undefined {
  if (!isObject(headers)) return undefined;
  const value = typeof headers.get === 'function' ? (headers as { get(name: string): unknown }).get('retry-after') : (headers['retry-after'] ?? headers['Retry-After']);
  return value === undefined || value === null ? undefined : parseRetryAfter(value);
}

/** Retry-After from `error.headers` or `error.response.headers`. */
function retryAfterOf(error: Bag): number | undefined {
  const direct = retryAfterHeader(error.headers);
  if (direct !== undefined) return direct;
  const response = error.response;
  return isObject(response) ? retryAfterHeader(response.headers) : undefined;
}

function longer(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
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
// Codes: Node system errors, undici (fetch), TLS. Disjoint sets, so they can share one table on
// the fast path (see defaultLevel).

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

/** All three, for the fused default path. */
const codeVerdicts = new Map<string, Verdict>([...nodeCodes, ...fetchCodes, ...tlsCodes]);

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
// HTTP status

/** Verdicts for 400..599, built once. */
const httpVerdicts: readonly Verdict[] = Array.from({ length: 200 }, (_, i) => {
  const status = 400 + i;
  const transientStatus = status === 408 || status === 429 || (status >= 500 && status <= 504 && status !== 501);
  return verdict(transientStatus ? 'transient' : 'permanent', `HTTP ${status}`);
});

/** The verdict for an HTTP status (400..599), with the Retry-After of `carrier` when transient. */
function httpVerdict(status: unknown, carrier: Bag | undefined, extraRetryAfterMs?: number): Verdict | undefined {
  if (typeof status !== 'number') return undefined;
  const base = httpVerdicts[status - 400]; // undefined outside 400..599 and for non-integers
  if (base === undefined || base.kind === 'permanent') return base;
  return withSharedRetryAfter(base, longer(carrier === undefined ? undefined : retryAfterOf(carrier), extraRetryAfterMs));
}

function isHttpStatus(value: unknown): value is number {
  return typeof value === 'number' && value >= 400 && value <= 599;
}

/** The HTTP status an error carries, in the shapes common clients use. */
function httpStatusOf(error: Bag): number | undefined {
  const status = error.status; // fetch Response, axios-like, ky
  if (isHttpStatus(status)) return status;
  const statusCode = error.statusCode; // got, node-fetch wrappers, client-node 0.x HttpError
  if (isHttpStatus(statusCode)) return statusCode;
  const response = error.response; // axios, got, superagent
  if (isObject(response)) {
    if (isHttpStatus(response.status)) return response.status;
    if (isHttpStatus(response.statusCode)) return response.statusCode;
  }
  const metadata = error.$metadata; // AWS SDK v3
  if (isObject(metadata) && isHttpStatus(metadata.httpStatusCode)) return metadata.httpStatusCode;
  const code = error.code; // client-node 1.x ApiException: numeric code beside the body
  if (isHttpStatus(code) && 'body' in error) return code;
  return undefined;
}

function httpRule(error: unknown): Verdict | undefined {
  if (!isObject(error)) return undefined;
  const status = httpStatusOf(error);
  return status === undefined ? undefined : httpVerdict(status, error);
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

const CONFLICT = verdict('transient', 'conflict');

const statusReasons = new Map<string, Verdict>(
  [
    ...(['TooManyRequests', 'ServerTimeout', 'Timeout', 'InternalError', 'ServiceUnavailable', 'Expired', 'Gone'] as const).map(
      (reason): [string, Verdict] => [reason, verdict('transient', `Kubernetes ${reason}`)],
    ),
    ...(
      [
        'Unauthorized', 'Forbidden', 'NotFound', 'Invalid', 'BadRequest', 'AlreadyExists', 'MethodNotAllowed',
        'NotAcceptable', 'RequestEntityTooLarge', 'UnsupportedMediaType',
      ] as const
    ).map((reason): [string, Verdict] => [reason, verdict('permanent', `Kubernetes ${reason}`)]),
  ],
);
// The caller re-reads the object and tries again with the fresh resourceVersion.
statusReasons.set('Conflict', CONFLICT);

/** A transient reason gets the longer of Retry-After and `details.retryAfterSeconds`. */
function statusVerdict(base: Verdict, carrier: Bag | undefined, retryAfterSecondsMs: number | undefined): Verdict {
  if (base.kind === 'permanent') return base;
  return withSharedRetryAfter(base, longer(carrier === undefined ? undefined : retryAfterOf(carrier), retryAfterSecondsMs));
}

/** A parsed Status; `carrier` is the error that holds it as `body` (undefined when thrown itself). */
function fromStatusObject(status: Bag, carrier: Bag | undefined): Verdict | undefined {
  const reason = status.reason;
  const base = typeof reason === 'string' ? statusReasons.get(reason) : undefined;
  const details = status.details;
  const seconds = isObject(details) ? secondsToMs(details.retryAfterSeconds) : undefined;
  if (base !== undefined) return statusVerdict(base, carrier, seconds);
  // A reason we do not know: a Status thrown by itself is judged by its code; one carried as a
  // body is left to the http rule, which reads the carrier's status.
  return carrier === undefined ? httpVerdict(status.code, undefined, seconds) : undefined;
}

/**
 * Known reasons by length, to find one in a body without cutting a string out of it (a slice and
 * a Map lookup cost more than all the comparisons).
 */
const reasonsByLength: Array<Array<[string, Verdict]>> = [];
for (const [name, v] of statusReasons) (reasonsByLength[name.length] ??= []).push([name, v]);

/** The verdict of the known reason spelled at text[start, end), if any. */
function knownReasonAt(text: string, start: number, end: number): Verdict | undefined {
  const candidates = reasonsByLength[end - start];
  if (candidates === undefined) return undefined;
  next: for (const [name, v] of candidates) {
    for (let i = 0; i < name.length; i++) if (text.charCodeAt(start + i) !== name.charCodeAt(i)) continue next;
    return v;
  }
  return undefined;
}

/** Whether `text` has `part` at `at` (charCodeAt compares: cheaper than startsWith here). */
function hasAt(text: string, part: string, at: number): boolean {
  if (at < 0 || text.length - at < part.length) return false;
  for (let i = 0; i < part.length; i++) if (text.charCodeAt(at + i) !== part.charCodeAt(i)) return false;
  return true;
}

/** The digits at `i` as a number (undefined if none). */
function digitsAt(text: string, i: number): number | undefined {
  let value = 0;
  const start = i;
  for (let c = text.charCodeAt(i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) value = value * 10 + (c - 0x30);
  return i === start ? undefined : value;
}

/** Answer of {@link quickStatusText} when the text is not in the API server's own form: parse it. */
const UNSURE = Symbol('unsure');
const STATUS_PREFIX = '{"kind":"Status"';
const REASON_KEY = 'reason":"';
const THEN_DETAILS = ',"details":{';
const THEN_CODE = ',"code":';
const RETRY_AFTER_SECONDS_KEY = 'retryAfterSeconds":';
const QUOTED_RETRY_AFTER_SECONDS_KEY = `"${RETRY_AFTER_SECONDS_KEY}`;

/**
 * A Status as raw JSON text (client-node 1.x `ApiException.body`), read without JSON.parse, which
 * alone costs more than the whole budget of a classify call. This reads only the API server's own
 * form: compact JSON in Go field order (kind, apiVersion, metadata, status, message, reason,
 * details, code). There the first `"reason"` key is the top-level one: preceded by a comma, and
 * followed by details, code or the end. A cause's reason (one cause type is called InternalError)
 * is followed by its message or field instead. A string value cannot hide a key: its quotes are
 * escaped. Text in any other form is {@link UNSURE}.
 */
function quickStatusText(text: string, carrier: Bag): Verdict | undefined | typeof UNSURE {
  if (!hasAt(text, STATUS_PREFIX, 0)) return text.includes('"Status"') ? UNSURE : undefined;
  const at = text.indexOf(REASON_KEY);
  if (at < 0) return text.includes('"reason"') ? UNSURE : undefined;
  if (!hasAt(text, ',"', at - 2)) return UNSURE;
  const start = at + REASON_KEY.length;
  const end = text.indexOf('"', start);
  if (end < 0) return UNSURE;
  const detailsFollow = hasAt(text, THEN_DETAILS, end + 1);
  if (!detailsFollow && !hasAt(text, THEN_CODE, end + 1) && end + 2 !== text.length) return UNSURE;
  const base = knownReasonAt(text, start, end);
  if (base === undefined) return undefined; // a reason we do not know: the http rule reads the code
  if (base.kind === 'permanent') return base;
  // A 429 from the API server's flow control has details {"retryAfterSeconds":N} and nothing else:
  // look there first. Otherwise search; Go order puts details after the reason, and without
  // details here, make sure none came before.
  const direct = end + 1 + THEN_DETAILS.length;
  const secondsAt = detailsFollow && hasAt(text, QUOTED_RETRY_AFTER_SECONDS_KEY, direct) ? direct + 1 : text.indexOf(RETRY_AFTER_SECONDS_KEY, detailsFollow ? end : 0);
  const seconds = secondsAt < 0 ? undefined : digitsAt(text, secondsAt + RETRY_AFTER_SECONDS_KEY.length);
  return statusVerdict(base, carrier, secondsToMs(seconds));
}

function fromStatusText(text: string, carrier: Bag): Verdict | undefined {
  const quick = quickStatusText(text, carrier);
  if (quick !== UNSURE) return quick;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isObject(parsed) && parsed.kind === 'Status' ? fromStatusObject(parsed, carrier) : undefined;
}

function kubernetesRule(error: unknown): Verdict | undefined {
  if (!isObject(error)) return undefined;
  if (error.kind === 'Status') return fromStatusObject(error, undefined);
  const body = error.body;
  if (typeof body === 'string') return fromStatusText(body, error);
  if (isObject(body) && body.kind === 'Status') return fromStatusObject(body, error);
  return undefined;
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
 *   text as in `@kubernetes/client-node` 1.x's `ApiException`). Transient: TooManyRequests,
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

// ---------------------------------------------------------------------------------------------
// The walk

/** Causes followed from the thrown value (and aggregate nesting). Real chains are 1 to 3 deep. */
const MAX_DEPTH = 8;
/** Inner errors read from one aggregate. */
const MAX_INNER = 32;
/** Values examined in one call once aggregates are involved (they branch). */
const MAX_VISITS = 256;

/** Runs the rules on one value, without following `cause`. */
type Level = (value: unknown) => Verdict | undefined;

function isVerdict(value: unknown): value is Verdict {
  if (!isObject(value)) return false;
  const kind = value.kind;
  return (kind === 'transient' || kind === 'permanent') && typeof value.reason === 'string';
}

/** Rules in order, each guarded: a rule that throws, or answers something that is not a verdict, has no opinion. */
function applyRules(list: readonly Rule[], value: unknown): Verdict | undefined {
  for (let i = 0; i < list.length; i++) {
    try {
      const found = list[i]!(value);
      if (found !== undefined && isVerdict(found)) return found;
    } catch {
      // A rule that throws has no opinion.
    }
  }
  return undefined;
}

/**
 * The default rules, fused: the same answers as `applyRules(defaultRules, value)` (a test holds
 * them equal), with each property read once and one table lookup for all codes. Should any
 * getter throw, the guarded loop answers instead.
 */
function defaultLevel(value: unknown): Verdict | undefined {
  if (typeof value !== 'object' || value === null) return markersRule(value);
  try {
    if (anyMarks) {
      const marked = marks.get(value);
      if (marked !== undefined) return marked;
    }
    const error = value as Bag;
    const name = error.name;
    const code = error.code;
    if (name === 'AbortError' || code === 'ABORT_ERR') return ABORTED;
    if (name === 'TimeoutError') return TIMED_OUT;
    if (typeof code === 'string') {
      const found = codeVerdicts.get(code);
      if (found !== undefined) return found;
      if (code === 'EPROTO' && isEprotoAlert(error)) return TLS_ALERT_INTERNAL_ERROR;
    }
    return kubernetesRule(error) ?? httpRule(error);
  } catch {
    return applyRules(defaultRules, value);
  }
}

interface Budget {
  visits: number;
}

function causeOf(value: object): unknown {
  try {
    return (value as Bag).cause;
  } catch {
    return undefined;
  }
}

function innerErrorsOf(value: object): readonly unknown[] | undefined {
  try {
    const errors = (value as Bag).errors;
    return Array.isArray(errors) && errors.length > 0 ? errors : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first verdict along the cause chain of `value`, or undefined if nobody recognised anything.
 * Cycles are cut with Brent's algorithm (no allocation): once the chain comes back to a value
 * already examined, nothing new can be learned from it.
 */
function walk(level: Level, value: unknown, depth: number, budget: Budget | undefined): Verdict | undefined {
  let current = value;
  let tortoise = value;
  let power = 1;
  let steps = 0;
  for (;;) {
    if (budget !== undefined && budget.visits-- <= 0) return undefined;
    const found = level(current);
    if (found !== undefined) return found;
    if (typeof current !== 'object' || current === null) return undefined;
    const inner = innerErrorsOf(current);
    if (inner !== undefined) {
      const combined = aggregate(level, inner, depth, (budget ??= { visits: MAX_VISITS }));
      if (combined !== undefined) return combined;
    }
    if (++depth > MAX_DEPTH) return undefined;
    const next = causeOf(current);
    if (next === undefined || next === null || next === tortoise) return undefined;
    if (++steps === power) {
      tortoise = next;
      power *= 2;
      steps = 0;
    }
    current = next;
  }
}

/**
 * AggregateError (or any `errors` array): permanent if any inner error is, transient if all are
 * (with the longest retryAfterMs); otherwise no opinion, and the walk follows `cause`.
 */
function aggregate(level: Level, inner: readonly unknown[], depth: number, budget: Budget): Verdict | undefined {
  let first: Verdict | undefined;
  let retryAfterMs: number | undefined;
  let allTransient = inner.length <= MAX_INNER;
  const count = Math.min(inner.length, MAX_INNER);
  for (let i = 0; i < count; i++) {
    let item: unknown;
    try {
      item = inner[i];
    } catch {
      allTransient = false;
      continue;
    }
    const found = walk(level, item, depth + 1, budget);
    if (found === undefined) allTransient = false;
    else if (found.kind === 'permanent') return found;
    else {
      first ??= found;
      retryAfterMs = longer(retryAfterMs, found.retryAfterMs);
    }
  }
  return allTransient && first !== undefined ? withRetryAfter(first, retryAfterMs) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Public classifiers

/**
 * Classifies any thrown value with the {@link defaultRules}: transient (retrying may help) or
 * permanent (fail now), with a short reason and, when a server asked for one, `retryAfterMs`.
 *
 * The rules run on the value itself, then on its `cause`, then on that one's `cause`, up to 8
 * levels; the first verdict wins. An `AggregateError` (or any error with an `errors` array) is
 * transient if all its inner errors are, permanent if any is.
 *
 * **An error no rule recognises is permanent** (reason `'unrecognised error'`): retrying what
 * nobody understood hides bugs and multiplies load. Add a rule, mark the error with
 * {@link transient}, or build a classifier with `fallback: 'transient'` to decide otherwise.
 *
 * It never throws and never hangs, whatever it is given (null, strings, frozen objects, proxies
 * whose getters throw, cyclic causes). Common verdicts are shared frozen objects.
 *
 * @example
 * ```ts
 * import { connect } from 'node:net';
 * import { classify } from 'ridethrough';
 *
 * // Nothing listens on port 1 of the loopback: a real ECONNREFUSED.
 * const error = await new Promise((resolve) => connect(1, '127.0.0.1').once('error', resolve));
 * console.log(classify(error)); // { kind: 'transient', reason: 'ECONNREFUSED' }
 * console.log(classify(Object.assign(new Error('Forbidden'), { status: 403 }))); // { kind: 'permanent', reason: 'HTTP 403' }
 * console.log(classify('something odd')); // { kind: 'permanent', reason: 'unrecognised error' }
 * ```
 */
export function classify(error: unknown): Verdict {
  return walk(defaultLevel, error, 0, undefined) ?? UNRECOGNISED_PERMANENT;
}

/**
 * Builds a classifier from your own list of rules (first opinion wins) and fallback. Like
 * {@link classify}, it walks `cause` chains and aggregates, and never throws: a rule that throws
 * is skipped.
 *
 * @throws TypeError when `rules` is not an array of functions, `fallback` is not a string, or an
 * option name is unknown;
 * RangeError when `fallback` is not `'transient'` or `'permanent'`.
 *
 * @example
 * ```ts
 * import { createClassifier, defaultRules, rules } from 'ridethrough';
 *
 * const classify = createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });
 * const truncated = (() => { try { return JSON.parse('{"token": "ab'); } catch (error) { return error; } })();
 * console.log(classify(truncated)); // { kind: 'transient', reason: 'truncated JSON' }
 * ```
 */
export function createClassifier(options?: ClassifierOptions): Classifier {
  const where = 'createClassifier()';
  const opts = optionsObject(where, options);
  checkOptionNames(where, opts, CLASSIFIER_OPTION_NAMES);
  const list = rulesOption(where, opts.rules);
  const fallback =
    enumOption(where, 'fallback', opts.fallback, ['transient', 'permanent'], 'permanent') === 'transient'
      ? UNRECOGNISED_TRANSIENT
      : UNRECOGNISED_PERMANENT;
  const level = levelFor(list);
  return (error: unknown): Verdict => walk(level, error, 0, undefined) ?? fallback;
}

/**
 * How one value is judged by `list`. A list that ends with the default rules, in order (the usual
 * `[rules.rotatingFile, ...defaultRules]` or `[myRule, ...defaultRules]`), hands that part to the
 * fused {@link defaultLevel}: the same answers, faster.
 */
function levelFor(list: readonly Rule[]): Level {
  const prefixLength = list.length - defaultRules.length;
  const endsWithDefaults = prefixLength >= 0 && defaultRules.every((rule, i) => list[prefixLength + i] === rule);
  if (!endsWithDefaults) return (value) => applyRules(list, value);
  if (prefixLength === 0) return defaultLevel;
  const prefix = list.slice(0, prefixLength);
  return (value) => applyRules(prefix, value) ?? defaultLevel(value);
}

const CLASSIFIER_OPTION_NAMES: ReadonlySet<string> = new Set(['rules', 'fallback']);

function rulesOption(where: string, value: unknown): readonly Rule[] {
  if (value === undefined) return defaultRules;
  if (!Array.isArray(value)) {
    throw new TypeError(`${where}: option "rules" must be an array of functions, got ${describe(value)}`);
  }
  // An index loop, not forEach: a hole in a sparse array is a missing rule too.
  for (let i = 0; i < value.length; i++) {
    const rule: unknown = value[i];
    if (typeof rule !== 'function') {
      throw new TypeError(`${where}: option "rules[${i}]" must be a function, got ${describe(rule)}`);
    }
  }
  // A copy: changing the caller's array later must not change this classifier.
  return Object.freeze([...(value as Rule[])]);
}
