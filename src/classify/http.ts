/** The rules that read a server's answer: an HTTP status, its Retry-After, a Kubernetes Status. */
import type { Verdict } from './index.js';
import { isObject, longer, verdict, withRetryAfter, type Bag } from './verdict.js';

const MAX_RETRY_AFTER_LENGTH = 64;

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
  return withRetryAfter(base, longer(carrier === undefined ? undefined : retryAfterOf(carrier), extraRetryAfterMs));
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

export function httpRule(error: unknown): Verdict | undefined {
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
  return withRetryAfter(base, longer(carrier === undefined ? undefined : retryAfterOf(carrier), retryAfterSecondsMs));
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

export function kubernetesRule(error: unknown): Verdict | undefined {
  if (!isObject(error)) return undefined;
  if (error.kind === 'Status') return fromStatusObject(error, undefined);
  const body = error.body;
  if (typeof body === 'string') return fromStatusText(body, error);
  if (isObject(body) && body.kind === 'Status') return fromStatusObject(body, error);
  return undefined;
}
