/**
 * The resilient transport behind {@link makeApiClient}: an `HttpLibrary` (client-node's pluggable
 * HTTP layer) that wraps the default one, paces each request through a rate limiter and retries
 * what is safe to retry. Nothing here loads `@kubernetes/client-node`: it only uses the objects
 * client-node hands it.
 */
import type { HttpLibrary, RequestContext, ResponseContext } from '@kubernetes/client-node';
import type { Classifier, Verdict } from '../classify/index.js';
import { safeClassify } from '../classify/safe-classify.js';
import type { RateLimiter } from '../retry/rate-limiter.js';
import { retry, type RetryEvent, type RetryOptions } from '../retry/index.js';
import type { Clock } from '../shared/clock.js';
import { startTimer } from '../shared/clock.js';
import { tracingChannel } from 'node:diagnostics_channel';
import { diagnosticsChannel } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import { linkedController, onAbort, timeoutError } from '../shared/signals.js';

/** Given to `onRetry` (and published on `ridethrough:kubernetes:retry`) before each wait of an API call. */
export interface ApiRetryEvent {
  /** The client's `name` option, when it was given one. */
  readonly name?: string | undefined;
  /** The HTTP method: `'GET'`, `'POST'`, ... */
  readonly method: string;
  /** The request URL. */
  readonly url: string;
  /** The attempt that just failed (1 for the first call). */
  readonly attempt: number;
  /** The HTTP status when the server answered; undefined for a connection failure. */
  readonly status: number | undefined;
  /**
   * What failed: for an answer, an object shaped like client-node's `ApiException` (`code`, `body`
   * as text, `headers`); for a connection failure, what client-node's HTTP library threw.
   */
  readonly error: unknown;
  /** How it was judged (always transient here), with the server's `retryAfterMs` when it gave one. */
  readonly verdict: Verdict;
  /** How long the wait before the next attempt will be. */
  readonly delayMs: number;
  /** Milliseconds since the call started. */
  readonly elapsedMs: number;
}

/** Published on `ridethrough:kubernetes:throttled` when the API server answers 429 (Too Many Requests). */
export interface ApiThrottledEvent {
  /** The client's `name` option, when it was given one. */
  readonly name?: string | undefined;
  /** The HTTP method of the throttled request. */
  readonly method: string;
  /** The request URL. */
  readonly url: string;
  /** The rate limiter's rate after this report, in calls per second; undefined without a limiter. */
  readonly qps: number | undefined;
}

/**
 * The context of the `ridethrough:kubernetes:request` tracing channel, around each API call made
 * through {@link makeApiClient} (`tracing:ridethrough:kubernetes:request:start`, `:asyncEnd`,
 * `:error`...). Mutable, as tracing contexts are: `attempts` and `status` fill in as the call runs.
 */
export interface ApiRequestTraceContext {
  /** The client's `name` option, when it was given one. */
  readonly name: string | undefined;
  /** The HTTP method. */
  readonly method: string;
  /** The request URL. */
  readonly url: string;
  /** Attempts started so far (the last one's number once the call has ended). */
  attempts: number;
  /** The HTTP status of the answer handed to client-node; undefined until then, or on a connection failure. */
  status: number | undefined;
}

/** The tracing channel's name (the integrator may move it into `tracingChannels`). */
export const requestTracingChannelName = 'ridethrough:kubernetes:request';
const requestTracing = tracingChannel<unknown, ApiRequestTraceContext>(requestTracingChannelName);

export const channelNames = Object.freeze({
  retry: 'ridethrough:kubernetes:retry',
  throttled: 'ridethrough:kubernetes:throttled',
  hookError: 'ridethrough:kubernetes:hook-error',
});

const retryChannel = diagnosticsChannel(channelNames.retry);
const throttledChannel = diagnosticsChannel(channelNames.throttled);
export const hookErrorChannel = diagnosticsChannel(channelNames.hookError);

/**
 * An answer the transport may retry, shaped like client-node's `ApiException` so that the
 * classifier reads it the same way (`code`, `body` as text, `headers` with `retry-after`).
 */
class ResponseFailure extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: Record<string, string>,
    readonly response: ResponseContext,
    readonly verdict: Verdict,
  ) {
    super(`HTTP ${code}`);
    this.name = 'ResponseFailure';
  }
}

/** Connection failures that happen before a byte of the request is sent: safe to retry for any verb. */
const NOT_SENT = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN',
  'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR',
]);

function neverSent(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && NOT_SENT.has(code)) return true;
    if (code === 'EPROTO' && typeof message === 'string' && message.includes('tlsv1 alert internal error')) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function notRetried(verdict: Verdict, why: string): Verdict {
  return Object.freeze({ kind: 'permanent', reason: `${verdict.reason} (${why})` });
}

/** Settings shared by every request of one client, resolved once by makeApiClient. */
export interface TransportSettings {
  readonly name: string | undefined;
  readonly limiter: RateLimiter | undefined;
  readonly classify: Classifier;
  readonly onRetry: ((event: ApiRetryEvent) => void) | undefined;
  readonly signal: AbortSignal | undefined;
  readonly attemptTimeoutMs: number | undefined;
  readonly deadlineMs: number | undefined;
  readonly clock: Clock;
  /** The retry options, without `classify`, `onRetry`, `signal` and `attemptTimeoutMs` (set per request). */
  readonly retry: RetryOptions;
}

/** The smallest Observable client-node's generated code consumes: it calls `toPromise()` only. */
class PromiseObservable<T> {
  constructor(private readonly promise: Promise<T>) {}
  toPromise(): Promise<T> {
    return this.promise;
  }
  pipe<S>(callback: (value: T) => S | Promise<S>): PromiseObservable<S> {
    return new PromiseObservable(this.promise.then(callback));
  }
}

export class ResilientHttpLibrary implements HttpLibrary {
  readonly #inner: HttpLibrary;
  readonly #s: TransportSettings;
  /** Built once per verb class: the common request allocates no options object. */
  readonly #safeOptions: RetryOptions;
  readonly #mutatingOptions: RetryOptions;

  constructor(inner: HttpLibrary, settings: TransportSettings) {
    this.#inner = inner;
    this.#s = settings;
    this.#safeOptions = this.#optionsFor(true, settings.signal);
    this.#mutatingOptions = this.#optionsFor(false, settings.signal);
  }

  send(request: RequestContext): ReturnType<HttpLibrary['send']> {
    const response = requestTracing.hasSubscribers ? this.#traced(request) : this.#send(request, undefined);
    return new PromiseObservable(response) as unknown as ReturnType<HttpLibrary['send']>;
  }

  #traced(request: RequestContext): Promise<ResponseContext> {
    const trace: ApiRequestTraceContext = {
      name: this.#s.name,
      method: String(request.getHttpMethod()),
      url: request.getUrl(),
      attempts: 0,
      status: undefined,
    };
    return requestTracing.tracePromise(async () => {
      const response = await this.#send(request, trace);
      trace.status = response.httpStatusCode;
      return response;
    }, trace);
  }

  #optionsFor(safe: boolean, signal: AbortSignal | undefined): RetryOptions {
    const s = this.#s;
    const options: RetryOptions = {
      ...s.retry,
      classify: (error) => (error instanceof ResponseFailure ? error.verdict : this.#judgeConnection(error, safe)),
    };
    // A mutating attempt that times out may have been processed: its timeout is ours (see #attempt),
    // so that retry does not count it as a transient failure.
    if (safe && s.attemptTimeoutMs !== undefined) options.attemptTimeoutMs = s.attemptTimeoutMs;
    if (signal !== undefined) options.signal = signal;
    return options;
  }

  async #send(request: RequestContext, trace: ApiRequestTraceContext | undefined): Promise<ResponseContext> {
    const method = String(request.getHttpMethod());
    const safe = SAFE_METHODS.has(method);
    // A signal set on the request (by a middleware) counts as much as the client's own.
    const requestSignal = request.getSignal();
    let options = safe ? this.#safeOptions : this.#mutatingOptions;
    let dispose: (() => void) | undefined;
    if (requestSignal !== undefined) {
      let signal = requestSignal;
      if (this.#s.signal !== undefined) {
        const link = linkedController(this.#s.signal);
        const detach = requestSignal.aborted
          ? (link.controller.abort(requestSignal.reason), undefined)
          : onAbort(requestSignal, () => link.controller.abort(requestSignal.reason));
        dispose = () => (detach?.(), link.dispose());
        signal = link.signal;
      }
      options = this.#optionsFor(safe, signal);
    }
    const withSignal = options.signal !== undefined || this.#s.deadlineMs !== undefined || options.attemptTimeoutMs !== undefined;
    try {
      return await retry(
        (context) => {
          if (trace !== undefined) trace.attempts = context.attempt;
          return this.#attempt(request, method, safe, withSignal ? context.signal : undefined);
        },
        withOnRetry(options, (event) => this.#announce(request, method, event)),
      );
    } catch (error) {
      // Out of attempts (or budget, or time) on an answer: hand client-node the answer itself, so
      // that the caller sees client-node's own ApiException, as without ridethrough.
      if (error instanceof ResponseFailure) return error.response;
      throw error;
    } finally {
      dispose?.();
    }
  }

  async #attempt(
    request: RequestContext,
    method: string,
    safe: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ResponseContext> {
    const s = this.#s;
    if (s.limiter !== undefined) await s.limiter.acquire(signal);
    let cancelTimeout: (() => void) | undefined;
    let link: ReturnType<typeof linkedController> | undefined;
    let timedOut: DOMException | undefined;
    if (!safe && s.attemptTimeoutMs !== undefined) {
      link = linkedController(signal);
      const { controller } = link;
      const ms = s.attemptTimeoutMs;
      cancelTimeout = startTimer(s.clock, ms, () => {
        timedOut = timeoutError(`attempt timed out after ${ms} ms`);
        controller.abort(timedOut);
      });
      signal = link.signal;
    }
    if (signal !== undefined) request.setSignal(signal);
    try {
      const response = await this.#inner.send(request).toPromise();
      const status = response.httpStatusCode;
      if (status < 400) {
        // A GET's body is read here, so that a connection cut mid-body is retried too.
        if (safe) await buffer(response);
        s.limiter?.onSuccess();
        return response;
      }
      const body = await buffer(response);
      if (status === 429) this.#throttled(method, request.getUrl());
      else s.limiter?.onSuccess();
      const verdict = this.#judgeAnswer(status, body, response.headers, safe);
      if (verdict.kind !== 'transient') return response;
      throw new ResponseFailure(status, body, response.headers, response, verdict);
    } catch (error) {
      // Our own time limit fired: say so, rather than with the HTTP library's AbortError, which
      // reads as if the caller had aborted.
      throw timedOut !== undefined && !(error instanceof ResponseFailure) ? timedOut : error;
    } finally {
      cancelTimeout?.();
      link?.dispose();
    }
  }

  /** Whether an answer is worth another attempt of this request. */
  #judgeAnswer(status: number, body: string, headers: Record<string, string>, safe: boolean): Verdict {
    const probe = { code: status, body, headers };
    const verdict = safeClassify(this.#s.classify, probe);
    if (verdict.kind !== 'transient') return verdict;
    // The same request would meet the same answer: a Conflict needs a re-read (retryOnConflict),
    // an Expired/Gone a relist.
    if (status === 409 || status === 410) return notRetried(verdict, 'the caller must re-read');
    if (safe) return verdict;
    // The server says it did not do it and asks to come back: 429, or 5xx with Retry-After.
    if (status === 429 || (status >= 500 && verdict.retryAfterMs !== undefined)) return verdict;
    return notRetried(verdict, 'a mutating request may have been processed');
  }

  #judgeConnection(error: unknown, safe: boolean): Verdict {
    const verdict = safeClassify(this.#s.classify, error);
    if (verdict.kind !== 'transient' || safe || neverSent(error)) return verdict;
    return notRetried(verdict, 'a mutating request may have been processed');
  }

  #throttled(method: string, url: string): void {
    const { limiter, name } = this.#s;
    limiter?.onThrottle();
    if (!throttledChannel.hasSubscribers) return;
    const event: ApiThrottledEvent = { name, method, url, qps: limiter?.qps };
    throttledChannel.publish(Object.freeze(event));
  }

  #announce(request: RequestContext, method: string, event: RetryEvent): void {
    const { onRetry, name } = this.#s;
    if (onRetry === undefined && !retryChannel.hasSubscribers) return;
    const failure = event.error;
    const apiEvent: ApiRetryEvent = Object.freeze({
      name,
      method,
      url: request.getUrl(),
      attempt: event.attempt,
      status: failure instanceof ResponseFailure ? failure.code : undefined,
      error: failure instanceof ResponseFailure ? Object.freeze({ code: failure.code, body: failure.body, headers: failure.headers }) : failure,
      verdict: event.verdict,
      delayMs: event.delayMs,
      elapsedMs: event.elapsedMs,
    });
    callHook(hookErrorChannel, 'onRetry', onRetry, apiEvent, name);
    if (retryChannel.hasSubscribers) retryChannel.publish(apiEvent);
  }
}

/**
 * `options` plus a per-call `onRetry`, copied field by field: an object spread costs microseconds
 * per call in Node 20's V8, a measurable share of a loopback API call.
 */
function withOnRetry(options: RetryOptions, onRetry: (event: RetryEvent) => void): RetryOptions {
  const o: RetryOptions = { onRetry };
  if (options.classify !== undefined) o.classify = options.classify;
  if (options.signal !== undefined) o.signal = options.signal;
  if (options.attemptTimeoutMs !== undefined) o.attemptTimeoutMs = options.attemptTimeoutMs;
  if (options.deadlineMs !== undefined) o.deadlineMs = options.deadlineMs;
  if (options.maxAttempts !== undefined) o.maxAttempts = options.maxAttempts;
  if (options.budget !== undefined) o.budget = options.budget;
  if (options.clock !== undefined) o.clock = options.clock;
  if (options.initialDelayMs !== undefined) o.initialDelayMs = options.initialDelayMs;
  if (options.multiplier !== undefined) o.multiplier = options.multiplier;
  if (options.maxDelayMs !== undefined) o.maxDelayMs = options.maxDelayMs;
  if (options.jitter !== undefined) o.jitter = options.jitter;
  if (options.random !== undefined) o.random = options.random;
  return o;
}

/**
 * Reads the body once, as text, and puts a re-readable one in its place. Text, not binary: the
 * API server answers JSON, and client-node 2.x's default library has no working `binary()`.
 */
async function buffer(response: ResponseContext): Promise<string> {
  const text = await response.body.text();
  response.body = { text: () => Promise.resolve(text), binary: () => Promise.resolve(Buffer.from(text)) };
  return text;
}
