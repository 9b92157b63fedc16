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

/** Longer Status text is not parsed (the http rule judges the carrier's code instead): the API server's own Status bodies are a few hundred bytes. */
const MAX_STATUS_TEXT = 4096;
/**
 * Status text parsed in one classifier call, in total. Per body alone would not do: the walk may
 * examine up to 256 values, each carrying a body, and JSON.parse of hostile nesting costs ~70 ns
 * a character; 8 KiB keeps the worst call well under a millisecond.
 */
const MAX_STATUS_TEXT_PER_CALL = 8192;

/** Characters of Status text JSON.parse may still read in the classifier call in progress; undefined outside one (a rule called directly: the per-body cap alone applies). */
let parseAllowance: number | undefined;

/** Opens a classifier call's parse allowance; hand what it returns to {@link endParseAllowance}. Nested calls (a rule that classifies) get their own. */
export function beginParseAllowance(): number | undefined {
  const outer = parseAllowance;
  parseAllowance = MAX_STATUS_TEXT_PER_CALL;
  return outer;
}

export function endParseAllowance(outer: number | undefined): void {
  parseAllowance = outer;
}

/** Whether `text` may be a Status: an object (after leading blanks) that mentions "Status". Skips JSON.parse for the rest. */
function mayBeStatus(text: string): boolean {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return text.charCodeAt(i) === 0x7b /* { */ && text.includes('"Status"');
}

/** A Status as raw JSON text (client-node 1.x `ApiException.body`), within the caps above. */
function fromStatusText(text: string, carrier: Bag): Verdict | undefined {
  if (text.length > MAX_STATUS_TEXT || !mayBeStatus(text)) return undefined;
  if (parseAllowance !== undefined) {
    if (text.length > parseAllowance) return undefined;
    parseAllowance -= text.length;
  }
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
