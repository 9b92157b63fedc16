/**
 * The classifier's contract: the API, markers, validation, the walk (causes, aggregates, caps,
 * cycles), robustness on hostile input, and every rule on the error shapes it reads. The same
 * rules on errors produced for real (sockets, TLS, OpenSSL, client-node) are in
 * classify-real.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EmptyFileError,
  classify,
  createClassifier,
  defaultRules,
  permanent,
  rules,
  transient,
  type Rule,
  type Verdict,
} from 'ridethrough/classify';
import { safeClassify } from '../src/classify/safe-classify.js';

const withCode = (code: string, message = code): Error => Object.assign(new Error(message), { code });
const withProps = (props: Record<string, unknown>, message = 'failed'): Error => Object.assign(new Error(message), props);
const statusText = (reason: string, code: number, details?: Record<string, unknown>): string =>
  JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `refused: ${reason}`,
    reason,
    ...(details ? { details } : {}),
    code,
  });
const apiException = (code: number, body: unknown, headers: Record<string, string> = {}): Error =>
  withProps({ code, body, headers }, `HTTP-Code: ${code}`);

/** A custom list: the defaults and then a rule with no opinion. */
const generic = createClassifier({ rules: [...defaultRules, () => undefined] });
const withRotatingFile = createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });

function expectValidVerdict(v: Verdict): void {
  expect(['transient', 'permanent']).toContain(v.kind);
  expect(typeof v.reason).toBe('string');
  expect(v.reason.length).toBeGreaterThan(0);
  if (v.retryAfterMs !== undefined) {
    expect(Number.isFinite(v.retryAfterMs)).toBe(true);
    expect(v.retryAfterMs).toBeGreaterThanOrEqual(0);
  }
  expect(Object.isFrozen(v)).toBe(true);
}

describe('classify: fallback', () => {
  it('judges what nobody recognises permanent, reason "unrecognised error"', () => {
    expect(classify(new Error('something odd'))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(classify(undefined)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });

  it('createClassifier takes fallback "transient"', () => {
    const lenient = createClassifier({ fallback: 'transient' });
    expect(lenient(new Error('something odd'))).toEqual({ kind: 'transient', reason: 'unrecognised error' });
    // Recognised errors are unaffected by the fallback.
    expect(lenient(withCode('EACCES'))).toEqual({ kind: 'permanent', reason: 'EACCES' });
  });

  it('createClassifier() with no options behaves as classify', () => {
    const same = createClassifier();
    for (const e of [withCode('ECONNRESET'), withProps({ status: 404 }), 'x', null]) expect(same(e)).toBe(classify(e));
  });

  it('an empty rule list leaves everything to the fallback', () => {
    expect(createClassifier({ rules: [] })(withCode('ECONNRESET'))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });
});

describe('classify: verdict objects', () => {
  it('returns shared frozen verdicts for common errors (no allocation per call)', () => {
    const a = classify(withCode('ECONNRESET'));
    const b = classify(withCode('ECONNRESET'));
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(classify(withProps({ status: 503 }))).toBe(classify(withProps({ statusCode: 503 })));
    const r1 = classify(withProps({ status: 429, headers: { 'retry-after': '1' } }));
    expect(r1).toEqual({ kind: 'transient', reason: 'HTTP 429', retryAfterMs: 1000 });
    expect(Object.isFrozen(r1)).toBe(true);
  });

  it('freezes verdicts that carry an unusual delay as well', () => {
    const v = classify(withProps({ status: 503, headers: { 'retry-after': '1.5' } }));
    expect(v).toEqual({ kind: 'transient', reason: 'HTTP 503', retryAfterMs: 1500 });
    expect(Object.isFrozen(v)).toBe(true);
  });
});

describe('markers: permanent() and transient()', () => {
  it('return the same object, unmodified, with instanceof intact', () => {
    class MyError extends Error {
      extra = 1;
    }
    const error = new MyError('boom');
    const before = Object.getOwnPropertyDescriptors(error);
    const keys = Reflect.ownKeys(error);
    expect(permanent(error)).toBe(error);
    expect(error).toBeInstanceOf(MyError);
    expect(Reflect.ownKeys(error)).toEqual(keys);
    expect(Object.getOwnPropertyDescriptors(error)).toEqual(before);
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'marked permanent' });
  });

  it('mark frozen objects without touching them', () => {
    const frozen = Object.freeze(withCode('ECONNRESET'));
    expect(permanent(frozen)).toBe(frozen);
    expect(classify(frozen)).toEqual({ kind: 'permanent', reason: 'marked permanent' });
  });

  it('win over every other rule, abort included', () => {
    expect(classify(permanent(withCode('ECONNRESET')))).toEqual({ kind: 'permanent', reason: 'marked permanent' });
    const abort = new DOMException('stop', 'AbortError');
    expect(classify(transient(abort))).toEqual({ kind: 'transient', reason: 'marked transient' });
  });

  it('are found anywhere in a cause chain', () => {
    const inner = permanent(new Error('bad config'));
    expect(classify(new Error('outer', { cause: inner }))).toEqual({ kind: 'permanent', reason: 'marked permanent' });
  });

  it('a later mark replaces an earlier one', () => {
    const error = new Error('x');
    permanent(error);
    transient(error, { retryAfterMs: 250 });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'marked transient', retryAfterMs: 250 });
  });

  it('carry retryAfterMs, including 0', () => {
    expect(classify(transient(new Error('x'), { retryAfterMs: 2000 }))).toEqual({
      kind: 'transient',
      reason: 'marked transient',
      retryAfterMs: 2000,
    });
    expect(classify(transient(new Error('x'), { retryAfterMs: 0 })).retryAfterMs).toBe(0);
    expect(classify(transient(new Error('x'), {}))).toEqual({ kind: 'transient', reason: 'marked transient' });
  });

  it('wrap a non-object value in an Error whose cause is the value', () => {
    const fromString = permanent('plain string');
    expect(fromString).toBeInstanceOf(Error);
    expect(fromString.message).toBe('plain string');
    expect(fromString.cause).toBe('plain string');
    expect(classify(fromString)).toEqual({ kind: 'permanent', reason: 'marked permanent' });

    for (const value of [42, null, undefined, true, 10n, Symbol('s')]) {
      const wrapped = transient(value);
      expect(wrapped).toBeInstanceOf(Error);
      expect(wrapped.cause).toBe(value);
      expect(wrapped.message).toMatch(/^transient\(\): non-object value thrown: /);
      expect(classify(wrapped).kind).toBe('transient');
    }
  });

  it('mark functions in place (they are objects)', () => {
    const fn = (): void => {};
    expect(permanent(fn)).toBe(fn);
    expect(classify(fn)).toEqual({ kind: 'permanent', reason: 'marked permanent' });
  });

  it('only the markers rule reads marks', () => {
    const error = permanent(withCode('ECONNRESET'));
    expect(rules.markers(error)).toEqual({ kind: 'permanent', reason: 'marked permanent' });
    expect(createClassifier({ rules: [rules.node] })(error)).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
  });

  it('transient() validates retryAfterMs and options, naming them', () => {
    const error = new Error('x');
    expect(() => transient(error, { retryAfterMs: -1 })).toThrow(RangeError);
    expect(() => transient(error, { retryAfterMs: -1 })).toThrow('transient(): option "retryAfterMs" must be a finite number >= 0, got -1');
    expect(() => transient(error, { retryAfterMs: Number.NaN })).toThrow(RangeError);
    expect(() => transient(error, { retryAfterMs: Infinity })).toThrow(RangeError);
    expect(() => transient(error, { retryAfterMs: '5' as unknown as number })).toThrow(TypeError);
    expect(() => transient(error, { retryAfterMs: '5' as unknown as number })).toThrow(/"retryAfterMs".*got "5"/);
    expect(() => transient(error, 5 as never)).toThrow(TypeError);
    expect(() => transient(error, null as never)).toThrow('transient(): options must be an object, got null');
    // A failed call marks nothing.
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });
});

describe('createClassifier: options', () => {
  it('validates rules, naming the option and the bad element', () => {
    expect(() => createClassifier({ rules: 'node' as never })).toThrow(TypeError);
    expect(() => createClassifier({ rules: 'node' as never })).toThrow('createClassifier(): option "rules" must be an array of functions, got "node"');
    expect(() => createClassifier({ rules: [rules.node, 42 as never] })).toThrow('createClassifier(): option "rules[1]" must be a function, got 42');
    // eslint-disable-next-line no-sparse-arrays
    expect(() => createClassifier({ rules: [rules.node, , rules.http] as never })).toThrow(/"rules\[1\]".*got undefined/);
  });

  it('validates fallback, naming the option and the value', () => {
    expect(() => createClassifier({ fallback: 'maybe' as never })).toThrow(RangeError);
    expect(() => createClassifier({ fallback: 'maybe' as never })).toThrow(
      `createClassifier(): option "fallback" must be one of 'transient', 'permanent', got "maybe"`,
    );
    expect(() => createClassifier({ fallback: 1 as never })).toThrow(TypeError);
  });

  it('validates the options argument', () => {
    expect(() => createClassifier(null as never)).toThrow('createClassifier(): options must be an object, got null');
    expect(() => createClassifier([] as never)).toThrow(TypeError);
  });

  it('refuses unknown option names, naming them and the nearest known one (issue 10)', () => {
    const options = { rule: [rules.node] };
    expect(() => createClassifier(options as never)).toThrow(TypeError);
    expect(() => createClassifier(options as never)).toThrow(/^createClassifier\(\): unknown option "rule".*"rules"/);
    expect(() => createClassifier({ fallbak: 'transient' } as never)).toThrow(/unknown option "fallbak".*"fallback"/);
    expect(() => transient(new Error('x'), { retryAfter: 5 } as never)).toThrow(/^transient\(\): unknown option "retryAfter".*"retryAfterMs"/);
  });

  it('takes undefined for every option, as with exactOptionalPropertyTypes (issue 10)', () => {
    const lenient = createClassifier({ rules: undefined, fallback: undefined });
    expect(lenient(new Error('odd'))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(classify(transient(new Error('x'), { retryAfterMs: undefined }))).toEqual({ kind: 'transient', reason: 'marked transient' });
  });

  it('copies the rule list: changing the array afterwards changes nothing', () => {
    const list: Rule[] = [rules.node];
    const c = createClassifier({ rules: list });
    list.length = 0;
    expect(c(withCode('ECONNRESET'))).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
  });

  it('asks rules in order: the first opinion wins', () => {
    const seen: string[] = [];
    const first: Rule = (e) => (seen.push('first'), e === 'x' ? { kind: 'transient', reason: 'first' } : undefined);
    const second: Rule = () => (seen.push('second'), { kind: 'permanent', reason: 'second' });
    const c = createClassifier({ rules: [first, second] });
    expect(c('x')).toEqual({ kind: 'transient', reason: 'first' });
    expect(seen).toEqual(['first']);
    expect(c('y')).toEqual({ kind: 'permanent', reason: 'second' });
  });

  it('skips a rule that throws, and one that answers something that is not a verdict', () => {
    const throws: Rule = () => {
      throw new Error('rule bug');
    };
    const nonsense = (() => ({ kind: 'maybe', reason: 'x' })) as unknown as Rule;
    const nullish = (() => null) as unknown as Rule;
    const c = createClassifier({ rules: [throws, nonsense, nullish, rules.node] });
    expect(c(withCode('EPIPE'))).toEqual({ kind: 'transient', reason: 'EPIPE' });
  });

  it('rules.rotatingFile first turns ENOENT transient; the default leaves it permanent', () => {
    const enoent = withCode('ENOENT');
    expect(classify(enoent)).toEqual({ kind: 'permanent', reason: 'ENOENT' });
    expect(withRotatingFile(enoent)).toEqual({ kind: 'transient', reason: 'ENOENT' });
  });
});

describe('rules and defaultRules', () => {
  it('defaultRules is frozen, ordered, and leaves rotatingFile out', () => {
    expect(Object.isFrozen(defaultRules)).toBe(true);
    expect(defaultRules).toEqual([rules.markers, rules.abort, rules.node, rules.fetch, rules.tls, rules.kubernetes, rules.http]);
    expect(defaultRules).not.toContain(rules.rotatingFile);
  });

  it('rules is a frozen record of functions', () => {
    expect(Object.isFrozen(rules)).toBe(true);
    expect(Object.keys(rules).sort()).toEqual(['abort', 'fetch', 'http', 'kubernetes', 'markers', 'node', 'rotatingFile', 'tls']);
    for (const rule of Object.values(rules)) expect(typeof rule).toBe('function');
  });

  it('each rule gives no opinion on what it does not know', () => {
    for (const rule of Object.values(rules)) {
      for (const value of [new Error('plain'), {}, 'ECONNRESET', 503, null, undefined]) expect(rule(value)).toBeUndefined();
    }
  });

  it('the code-based rules do not overlap (the fast path shares one table)', () => {
    const codes = [
      'ECONNRESET', 'EACCES', 'ENOENT', 'UND_ERR_SOCKET', 'UND_ERR_INVALID_ARG', 'DEPTH_ZERO_SELF_SIGNED_CERT',
      'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO',
    ];
    for (const code of codes) {
      const opinions = [rules.node, rules.fetch, rules.tls].filter((rule) => rule(withCode(code, 'tlsv1 alert internal error')) !== undefined);
      expect(opinions.length, code).toBeLessThanOrEqual(1);
    }
  });
});

describe('rules.abort', () => {
  it('an AbortError is permanent, by name or by code ABORT_ERR', () => {
    expect(classify(new DOMException('This operation was aborted', 'AbortError'))).toEqual({ kind: 'permanent', reason: 'aborted' });
    expect(classify(withProps({ name: 'AbortError' }))).toEqual({ kind: 'permanent', reason: 'aborted' });
    expect(classify(withCode('ABORT_ERR'))).toEqual({ kind: 'permanent', reason: 'aborted' });
  });

  it('is checked before any cause is walked: an abort wrapping a transient error stays permanent', () => {
    const abort = new DOMException('aborted', 'AbortError');
    Object.defineProperty(abort, 'cause', { value: withCode('ECONNRESET') });
    expect(classify(abort)).toEqual({ kind: 'permanent', reason: 'aborted' });
    const nodeAbort = withProps({ name: 'AbortError', code: 'ABORT_ERR', cause: withProps({ status: 503 }) });
    expect(classify(nodeAbort)).toEqual({ kind: 'permanent', reason: 'aborted' });
  });

  it('an abort found down a cause chain is permanent', () => {
    expect(classify(new Error('request failed', { cause: new DOMException('aborted', 'AbortError') }))).toEqual({
      kind: 'permanent',
      reason: 'aborted',
    });
  });

  it('a TimeoutError is transient, "timed out", whatever its cause', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classify(timeout)).toEqual({ kind: 'transient', reason: 'timed out' });
    const withCause = new DOMException('attempt timed out', { name: 'TimeoutError', cause: withCode('EACCES') });
    expect(classify(withCause)).toEqual({ kind: 'transient', reason: 'timed out' });
  });
});

describe('rules.node', () => {
  const transientCodes = [
    'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENETRESET', 'EHOSTUNREACH', 'EHOSTDOWN',
    'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'EMFILE', 'ENFILE',
    'EBUSY', 'EAGAIN', 'ENOBUFS', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ESOCKETTIMEDOUT',
  ];
  const permanentCodes = [
    'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EINVAL', 'ENOENT', 'EEXIST', 'ENOTEMPTY', 'EROFS', 'ENOSPC', 'EDQUOT',
    'ENAMETOOLONG', 'ELOOP', 'EBADF', 'EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'EFBIG',
  ];

  it.each(transientCodes)('%s is transient, reason the code', (code) => {
    expect(classify(withCode(code))).toEqual({ kind: 'transient', reason: code });
    expect(rules.node(withCode(code))).toEqual({ kind: 'transient', reason: code });
  });

  it.each(permanentCodes)('%s is permanent, reason the code', (code) => {
    expect(classify(withCode(code))).toEqual({ kind: 'permanent', reason: code });
  });

  it('reads the code of node-fetch FetchError (client-node 1.x connection failures)', () => {
    const fetchError = withProps({ name: 'FetchError', type: 'system', code: 'ECONNREFUSED', errno: 'ECONNREFUSED' });
    expect(classify(fetchError)).toEqual({ kind: 'transient', reason: 'ECONNREFUSED' });
  });

  it('an AggregateError that carries the code itself (net happy eyeballs) is read directly', () => {
    const agg = Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), { code: 'ECONNREFUSED' });
    expect(classify(agg)).toEqual({ kind: 'transient', reason: 'ECONNREFUSED' });
  });
});

describe('rules.fetch', () => {
  it.each(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'])(
    '%s is transient',
    (code) => {
      expect(classify(withCode(code))).toEqual({ kind: 'transient', reason: code });
      expect(rules.fetch(withCode(code))).toEqual({ kind: 'transient', reason: code });
    },
  );

  it.each(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_DESTROYED', 'UND_ERR_CLOSED'])(
    '%s is permanent',
    (code) => {
      expect(classify(withCode(code))).toEqual({ kind: 'permanent', reason: code });
    },
  );

  it('TypeError "fetch failed" is decided by its cause', () => {
    const failed = (cause?: unknown): TypeError => new TypeError('fetch failed', cause === undefined ? undefined : { cause });
    expect(classify(failed(withCode('ECONNREFUSED')))).toEqual({ kind: 'transient', reason: 'ECONNREFUSED' });
    expect(classify(failed(withCode('UND_ERR_HEADERS_TIMEOUT')))).toEqual({ kind: 'transient', reason: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(classify(failed(withCode('DEPTH_ZERO_SELF_SIGNED_CERT')))).toEqual({
      kind: 'permanent',
      reason: 'TLS certificate DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(classify(failed(new Error('unknown scheme')))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(classify(failed())).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(rules.fetch(failed(withCode('ECONNREFUSED')))).toBeUndefined();
  });
});

describe('rules.tls', () => {
  it('the alert internal error is transient, by code or as EPROTO with the OpenSSL text', () => {
    const expected = { kind: 'transient', reason: 'TLS alert internal error' };
    expect(classify(withCode('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR'))).toEqual(expected);
    const eproto = withCode('EPROTO', 'write EPROTO 80:error:0A000438:SSL routines:ssl3_read_bytes:tlsv1 alert internal error:...');
    expect(classify(eproto)).toEqual(expected);
    expect(rules.tls(eproto)).toEqual(expected);
  });

  it('other EPROTO errors are not the alert', () => {
    expect(classify(withCode('EPROTO', 'write EPROTO ... wrong version number'))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(rules.tls(withCode('EPROTO', 'wrong version number'))).toBeUndefined();
  });

  it.each([
    'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH', 'CERT_REVOKED',
  ])('certificate verification failure %s is permanent', (code) => {
    expect(classify(withCode(code))).toEqual({ kind: 'permanent', reason: `TLS certificate ${code}` });
  });
});

describe('rules.http', () => {
  it.each([408, 429, 500, 502, 503, 504])('HTTP %i is transient', (status) => {
    expect(classify(withProps({ status }))).toEqual({ kind: 'transient', reason: `HTTP ${status}` });
  });

  it.each([400, 401, 403, 404, 405, 409, 410, 413, 422, 451, 499, 501, 505, 507, 599])('HTTP %i is permanent', (status) => {
    expect(classify(withProps({ status }))).toEqual({ kind: 'permanent', reason: `HTTP ${status}` });
  });

  it('reads every common shape', () => {
    const shapes = [
      withProps({ status: 503 }),
      withProps({ statusCode: 503 }),
      withProps({ response: { status: 503 } }),
      withProps({ response: { statusCode: 503 } }),
      withProps({ $metadata: { httpStatusCode: 503 } }),
      withProps({ code: 503, body: 'Service Unavailable' }),
      withProps({ code: 503, body: undefined }),
      new Response('busy', { status: 503 }),
    ];
    for (const shape of shapes) expect(classify(shape)).toEqual({ kind: 'transient', reason: 'HTTP 503' });
  });

  it('ignores numbers that are not HTTP error statuses', () => {
    for (const props of [
      { status: 200 },
      { status: 302 },
      { status: 600 },
      { status: 503.5 },
      { status: '503' },
      { code: 503 }, // a numeric code without a body: not an HTTP shape
      { status: 1 }, // execSync's exit status
      { code: 14, details: 'UNAVAILABLE' }, // gRPC
    ]) {
      expect(rules.http(withProps(props)), JSON.stringify(props)).toBeUndefined();
    }
  });

  it('reads Retry-After in seconds from plain headers, Headers, and response.headers', () => {
    const expected = { kind: 'transient', reason: 'HTTP 429', retryAfterMs: 7000 };
    expect(classify(withProps({ status: 429, headers: { 'retry-after': '7' } }))).toEqual(expected);
    expect(classify(withProps({ status: 429, headers: { 'Retry-After': '7' } }))).toEqual(expected);
    expect(classify(withProps({ status: 429, headers: { 'retry-after': 7 } }))).toEqual(expected);
    expect(classify(withProps({ status: 429, headers: { 'retry-after': [' 7 '] } }))).toEqual(expected);
    expect(classify(withProps({ status: 429, headers: new Headers({ 'Retry-After': '7' }) }))).toEqual(expected);
    expect(classify(withProps({ response: { status: 429, headers: { 'retry-after': '7' } } }))).toEqual(expected);
    expect(classify(new Response(null, { status: 429, headers: { 'retry-after': '7' } }))).toEqual(expected);
  });

  it('reads Retry-After as an HTTP date', () => {
    const when = new Date(Date.now() + 60_000).toUTCString(); // whole seconds: 59..60 s from now
    const v = classify(withProps({ status: 503, headers: { 'retry-after': when } }));
    expect(v.kind).toBe('transient');
    expect(v.retryAfterMs).toBeGreaterThan(50_000);
    expect(v.retryAfterMs).toBeLessThanOrEqual(60_000);
    const past = classify(withProps({ status: 503, headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' } }));
    expect(past.retryAfterMs).toBe(0);
  });

  it('ignores a Retry-After it cannot read, and Retry-After on permanent statuses', () => {
    for (const value of ['', 'soon', '-5', '1e400', '9'.repeat(400), 'NaN', null, {}, -1, Number.NaN, Infinity]) {
      const v = classify(withProps({ status: 503, headers: { 'retry-after': value } }));
      expect(v, String(value)).toEqual({ kind: 'transient', reason: 'HTTP 503' });
    }
    expect(classify(withProps({ status: 404, headers: { 'retry-after': '5' } }))).toEqual({ kind: 'permanent', reason: 'HTTP 404' });
  });
});

describe('rules.kubernetes', () => {
  const transientReasons: Array<[string, number]> = [
    ['TooManyRequests', 429], ['ServerTimeout', 500], ['Timeout', 504], ['InternalError', 500],
    ['ServiceUnavailable', 503], ['Expired', 410], ['Gone', 410],
  ];
  const permanentReasons: Array<[string, number]> = [
    ['Unauthorized', 401], ['Forbidden', 403], ['NotFound', 404], ['Invalid', 422], ['BadRequest', 400],
    ['AlreadyExists', 409], ['MethodNotAllowed', 405], ['NotAcceptable', 406], ['RequestEntityTooLarge', 413],
    ['UnsupportedMediaType', 415],
  ];

  it.each(transientReasons)('%s is transient (raw JSON body, parsed body, thrown Status)', (reason, code) => {
    const expected = { kind: 'transient', reason: `Kubernetes ${reason}` };
    expect(classify(apiException(code, statusText(reason, code)))).toEqual(expected);
    expect(classify(withProps({ statusCode: code, body: JSON.parse(statusText(reason, code)) }))).toEqual(expected);
    expect(classify(JSON.parse(statusText(reason, code)))).toEqual(expected);
  });

  it.each(permanentReasons)('%s is permanent', (reason, code) => {
    const expected = { kind: 'permanent', reason: `Kubernetes ${reason}` };
    expect(classify(apiException(code, statusText(reason, code)))).toEqual(expected);
    expect(classify(JSON.parse(statusText(reason, code)))).toEqual(expected);
  });

  it('Conflict is transient with reason "conflict" (re-read, then retry); AlreadyExists, also 409, is not', () => {
    expect(classify(apiException(409, statusText('Conflict', 409)))).toEqual({ kind: 'transient', reason: 'conflict' });
    expect(classify(apiException(409, statusText('AlreadyExists', 409)))).toEqual({ kind: 'permanent', reason: 'Kubernetes AlreadyExists' });
  });

  it('reads details.retryAfterSeconds and Retry-After, taking the longer', () => {
    const body = statusText('TooManyRequests', 429, { retryAfterSeconds: 2 });
    expect(classify(apiException(429, body))).toEqual({ kind: 'transient', reason: 'Kubernetes TooManyRequests', retryAfterMs: 2000 });
    expect(classify(apiException(429, body, { 'retry-after': '5' })).retryAfterMs).toBe(5000);
    expect(classify(apiException(429, body, { 'retry-after': '1' })).retryAfterMs).toBe(2000);
    expect(classify(apiException(429, statusText('TooManyRequests', 429), { 'retry-after': '3' })).retryAfterMs).toBe(3000);
    expect(classify(JSON.parse(body))).toEqual({ kind: 'transient', reason: 'Kubernetes TooManyRequests', retryAfterMs: 2000 });
    // Permanent reasons never carry a delay.
    expect(classify(apiException(403, statusText('Forbidden', 403, { retryAfterSeconds: 2 })))).toEqual({
      kind: 'permanent',
      reason: 'Kubernetes Forbidden',
    });
  });

  it('takes the top-level reason, not a cause reason (one cause type is called InternalError)', () => {
    const details = { name: 'web', kind: 'pods', causes: [{ reason: 'InternalError', message: 'x' }, { reason: 'FieldValueInvalid', field: 'details' }] };
    const body = statusText('Invalid', 422, details);
    expect(classify(apiException(422, body))).toEqual({ kind: 'permanent', reason: 'Kubernetes Invalid' });
    expect(classify(JSON.parse(body))).toEqual({ kind: 'permanent', reason: 'Kubernetes Invalid' });
  });

  it('reads a pretty-printed Status, and one with its fields in another order', () => {
    const pretty = JSON.stringify(JSON.parse(statusText('ServiceUnavailable', 503, { retryAfterSeconds: 4 })), null, 2);
    expect(classify(apiException(503, pretty))).toEqual({ kind: 'transient', reason: 'Kubernetes ServiceUnavailable', retryAfterMs: 4000 });
    const reordered = JSON.stringify({
      code: 422,
      details: { causes: [{ reason: 'InternalError', message: 'x' }] },
      reason: 'Invalid',
      kind: 'Status',
    });
    expect(classify(apiException(422, reordered))).toEqual({ kind: 'permanent', reason: 'Kubernetes Invalid' });
    const reasonAfterDetails = JSON.stringify({ kind: 'Status', details: { retryAfterSeconds: 3 }, code: 429, reason: 'TooManyRequests' });
    expect(classify(apiException(429, reasonAfterDetails))).toEqual({ kind: 'transient', reason: 'Kubernetes TooManyRequests', retryAfterMs: 3000 });
  });

  it('is not fooled by cause reasons in a Status that starts like the API server form but is not in Go order', () => {
    const causeFirst = '{"kind":"Status","details":{"causes":[{"reason":"InternalError","message":"x"}]},"reason":"Invalid","code":422}';
    expect(classify(apiException(422, causeFirst))).toEqual({ kind: 'permanent', reason: 'Kubernetes Invalid' });
    const causeReasonLast = '{"kind":"Status","details":{"causes":[{"message":"x","reason":"InternalError"}]},"reason":"Invalid"}';
    expect(classify(apiException(422, causeReasonLast))).toEqual({ kind: 'permanent', reason: 'Kubernetes Invalid' });
    // Go order, top-level reason omitted, a cause of type InternalError: the HTTP status decides.
    const noTopReason = JSON.stringify({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'm',
      details: { causes: [{ reason: 'InternalError', message: 'x' }] }, code: 422,
    });
    expect(classify(apiException(422, noTopReason))).toEqual({ kind: 'permanent', reason: 'HTTP 422' });
    // A message that talks about reasons cannot hide a key: its quotes are escaped.
    const chatty = statusText('Conflict', 409).replace('refused: Conflict', 'the \\"reason\\":\\"InternalError\\" was {odd}');
    expect(JSON.parse(chatty).message).toContain('"reason":"InternalError"');
    expect(classify(apiException(409, chatty))).toEqual({ kind: 'transient', reason: 'conflict' });
  });

  it('leaves an unknown reason to the HTTP status', () => {
    expect(classify(apiException(500, statusText('StoreReadError', 500)))).toEqual({ kind: 'transient', reason: 'HTTP 500' });
    expect(classify(apiException(500, JSON.stringify({ kind: 'Status', code: 500 })))).toEqual({ kind: 'transient', reason: 'HTTP 500' });
    expect(classify(JSON.parse(statusText('StoreReadError', 503)))).toEqual({ kind: 'transient', reason: 'HTTP 503' });
    expect(rules.kubernetes(apiException(500, statusText('StoreReadError', 500)))).toBeUndefined();
  });

  it('a body that is not a Status is left to the http rule', () => {
    expect(classify(apiException(502, '<html>Bad Gateway</html>'))).toEqual({ kind: 'transient', reason: 'HTTP 502' });
    expect(classify(apiException(401, undefined))).toEqual({ kind: 'permanent', reason: 'HTTP 401' });
    expect(classify(apiException(503, '{"kind":"Status","reason":"TooMany'))).toEqual({ kind: 'transient', reason: 'HTTP 503' });
    expect(rules.kubernetes(apiException(500, '{"reason":"InternalError"}'))).toBeUndefined();
  });

  /** A Status text of about `size` characters (the message pads it). */
  const paddedStatus = (reason: string, code: number, size: number): string => {
    const text = statusText(reason, code);
    return text.replace(`refused: ${reason}`, `refused: ${reason}`.padEnd(size - text.length + `refused: ${reason}`.length, '.'));
  };

  it('parses Status text of up to 4,096 characters, pretty-printed or with leading blanks too; longer is left to the http rule', () => {
    expect(paddedStatus('Conflict', 409, 4096)).toHaveLength(4096);
    expect(classify(apiException(409, paddedStatus('Conflict', 409, 4096)))).toEqual({ kind: 'transient', reason: 'conflict' });
    expect(classify(apiException(409, paddedStatus('Conflict', 409, 4097)))).toEqual({ kind: 'permanent', reason: 'HTTP 409' });
    expect(rules.kubernetes(apiException(409, paddedStatus('Conflict', 409, 4097)))).toBeUndefined();
    const pretty = `  \n${JSON.stringify(JSON.parse(statusText('TooManyRequests', 429, { retryAfterSeconds: 3 })), null, 2)}`;
    expect(classify(apiException(429, pretty))).toEqual({ kind: 'transient', reason: 'Kubernetes TooManyRequests', retryAfterMs: 3000 });
  });

  it('parses at most 8,192 characters of Status text in one classifier call (the walk may meet 256 bodies)', () => {
    const conflict = (): Error => apiException(409, paddedStatus('Conflict', 409, 3000));
    // Two bodies fit the allowance; the third is judged by its HTTP code, which makes the aggregate permanent.
    expect(classify(new AggregateError([conflict(), conflict()]))).toEqual({ kind: 'transient', reason: 'conflict' });
    expect(classify(new AggregateError([conflict(), conflict(), conflict()]))).toEqual({ kind: 'permanent', reason: 'HTTP 409' });
    const custom = createClassifier({ rules: [rules.kubernetes] });
    expect(custom(new AggregateError([conflict(), conflict(), conflict()]))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    // Each call has its own allowance, and a rule called directly (outside a classifier) only the per-body cap.
    for (let i = 0; i < 5; i++) expect(classify(conflict())).toEqual({ kind: 'transient', reason: 'conflict' });
    for (let i = 0; i < 5; i++) expect(rules.kubernetes(conflict())).toEqual({ kind: 'transient', reason: 'conflict' });
  });

  it('a rule that classifies inside a classifier call gets its own allowance and leaves the outer one as it was', () => {
    const conflict = (): Error => apiException(409, paddedStatus('Conflict', 409, 3000));
    const nested: Rule = (error) => (error === 'nested' ? classify(new AggregateError([conflict(), conflict()])) : undefined);
    const outer = createClassifier({ rules: [nested, ...defaultRules] });
    expect(outer(new AggregateError(['nested', conflict(), conflict()]))).toEqual({ kind: 'transient', reason: 'conflict' });
    expect(outer(new AggregateError(['nested', conflict(), conflict(), conflict()]))).toEqual({ kind: 'permanent', reason: 'HTTP 409' });
  });
});

describe('rules.rotatingFile', () => {
  it.each([
    ['ENOENT', 'ENOENT'],
    ['ERR_OSSL_PEM_NO_START_LINE', 'PEM no start line'],
    ['ERR_OSSL_PEM_BAD_END_LINE', 'PEM bad end line'],
    ['ERR_OSSL_UNSUPPORTED', 'key does not decode'],
    ['ERR_OSSL_X509_KEY_VALUES_MISMATCH', 'key does not match certificate'],
  ])('%s is transient', (code, reason) => {
    expect(rules.rotatingFile(withCode(code))).toEqual({ kind: 'transient', reason });
    expect(withRotatingFile(withCode(code))).toEqual({ kind: 'transient', reason });
  });

  it('EmptyFileError is transient', () => {
    expect(withRotatingFile(new EmptyFileError('/etc/tls/tls.crt'))).toEqual({ kind: 'transient', reason: 'empty file' });
    expect(classify(new EmptyFileError('/etc/tls/tls.crt'))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });

  it('a JSON SyntaxError (truncated JSON) is transient; other SyntaxErrors are not', () => {
    for (const text of ['{"a": 1', '{"a": "x', '', '{"a":', '[1, 2']) {
      let error: unknown;
      try {
        JSON.parse(text);
      } catch (e) {
        error = e;
      }
      expect(withRotatingFile(error), text).toEqual({ kind: 'transient', reason: 'truncated JSON' });
    }
    expect(rules.rotatingFile(new SyntaxError('Invalid regular expression'))).toBeUndefined();
  });
});

describe('EmptyFileError', () => {
  it('has name, code, path and message, and takes a cause', () => {
    const cause = new Error('why');
    const e = new EmptyFileError('/run/secrets/token', { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('EmptyFileError');
    expect(e.code).toBe('ERR_EMPTY_FILE');
    expect(e.path).toBe('/run/secrets/token');
    expect(e.message).toBe('file is empty: /run/secrets/token');
    expect(e.cause).toBe(cause);
    expect(String(e)).toBe('EmptyFileError: file is empty: /run/secrets/token');
    expect(e.stack).toMatch(/^EmptyFileError: file is empty/);
  });

  it('rejects a path that is not a string', () => {
    expect(() => new EmptyFileError(42 as never)).toThrow(new TypeError('EmptyFileError: "path" must be a string, got 42'));
  });
});

describe('the walk: causes and aggregates', () => {
  const chain = (depth: number, bottom: unknown): unknown => {
    let e = bottom;
    for (let i = 0; i < depth; i++) e = new Error(`level ${depth - i - 1}`, { cause: e });
    return e;
  };

  it('follows cause up to 8 levels below the thrown value, no further', () => {
    expect(classify(chain(8, withCode('ECONNRESET')))).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
    expect(classify(chain(9, withCode('ECONNRESET')))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });

  it('the outermost verdict wins', () => {
    const e = withProps({ status: 404, cause: withCode('ECONNRESET') });
    expect(classify(e)).toEqual({ kind: 'permanent', reason: 'HTTP 404' });
  });

  it('an AggregateError is transient when all inner errors are, with the longest delay', () => {
    const agg = new AggregateError([
      withCode('ECONNREFUSED'),
      withProps({ status: 429, headers: { 'retry-after': '3' } }),
      withProps({ status: 503, headers: { 'retry-after': '1' } }),
    ]);
    expect(classify(agg)).toEqual({ kind: 'transient', reason: 'ECONNREFUSED', retryAfterMs: 3000 });
  });

  it('an AggregateError is permanent when any inner error is', () => {
    const agg = new AggregateError([withCode('ECONNREFUSED'), withProps({ status: 403 }), withCode('EACCES')]);
    expect(classify(agg)).toEqual({ kind: 'permanent', reason: 'HTTP 403' });
  });

  it('an unrecognised inner error makes the aggregate unrecognised: its cause decides, then the fallback', () => {
    const agg = new AggregateError([withCode('ECONNREFUSED'), new Error('odd')], 'all failed');
    expect(classify(agg)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(createClassifier({ fallback: 'transient' })(agg)).toEqual({ kind: 'transient', reason: 'unrecognised error' });
    const withCause = new AggregateError([new Error('odd')], 'all failed', { cause: withCode('ETIMEDOUT') });
    expect(classify(withCause)).toEqual({ kind: 'transient', reason: 'ETIMEDOUT' });
  });

  it('an empty aggregate is judged by its cause', () => {
    expect(classify(new AggregateError([], 'none', { cause: withCode('EPIPE') }))).toEqual({ kind: 'transient', reason: 'EPIPE' });
  });

  it('reads any errors array, and walks the inner errors causes', () => {
    const inner = new TypeError('fetch failed', { cause: withCode('ECONNRESET') });
    expect(classify({ errors: [inner, inner] })).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
    expect(classify(new Error('wrapped', { cause: new AggregateError([inner]) }))).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
  });

  it('an aggregate with more inner errors than it reads (32) is never called all-transient', () => {
    const many = Array.from({ length: 33 }, () => withCode('ECONNRESET'));
    expect(classify(new AggregateError(many))).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    const permanentLater = [...Array.from({ length: 31 }, () => withCode('ECONNRESET')), withCode('EACCES'), withCode('ECONNRESET')];
    expect(classify(new AggregateError(permanentLater))).toEqual({ kind: 'permanent', reason: 'EACCES' });
  });

  it('ends on cyclic causes, self causes and cyclic aggregates', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.defineProperty(a, 'cause', { value: b });
    expect(classify(a)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    const self = new Error('self');
    Object.defineProperty(self, 'cause', { value: self });
    expect(classify(self)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    // A verdict on the cycle is still found.
    const c = withCode('ECONNRESET');
    const d = new Error('d', { cause: c });
    Object.defineProperty(c, 'cause', { value: d });
    expect(classify(d)).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
    const agg = new AggregateError([]);
    agg.errors.push(agg, agg);
    expect(classify(agg)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });

  it('examines a bounded number of values on cyclic graphs (depth cap 8, visit cap 256), with no cycle detection', () => {
    let calls = 0;
    const counting = createClassifier({ rules: [() => { calls++; return undefined; }] });
    const a = new Error('a');
    Object.defineProperty(a, 'cause', { value: a });
    expect(counting(a)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(calls).toBe(9); // the value and 8 causes
    calls = 0;
    const agg = new AggregateError([]);
    agg.errors.push(...Array.from({ length: 32 }, () => agg));
    Object.defineProperty(agg, 'cause', { value: agg });
    expect(counting(agg)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(calls).toBeGreaterThan(9);
    expect(calls).toBeLessThanOrEqual(256 + 9);
  });

  it('a wide, deep tree of aggregates finishes quickly (visit budget)', () => {
    let level: unknown = new Error('leaf');
    for (let i = 0; i < 8; i++) level = new AggregateError(Array.from({ length: 32 }, () => level));
    const started = performance.now();
    expect(classify(level)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
    expect(performance.now() - started).toBeLessThan(5_000); // 32^8 values unless the budget holds
  });
});

describe('classify never throws and never hangs', () => {
  const hostile: Array<[string, unknown]> = [
    ['null', null],
    ['undefined', undefined],
    ['a string', 'ECONNRESET'],
    ['a number', 503],
    ['a bigint', 10n],
    ['a symbol', Symbol('x')],
    ['a function', () => {}],
    ['a frozen error', Object.freeze(withCode('ECONNRESET'))],
    ['a null-prototype object', Object.create(null)],
    ['a revoked proxy', (() => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    })()],
    ['a proxy whose every trap throws', new Proxy({}, {
      get: () => { throw new Error('get'); },
      has: () => { throw new Error('has'); },
      getPrototypeOf: () => { throw new Error('proto'); },
      ownKeys: () => { throw new Error('keys'); },
      getOwnPropertyDescriptor: () => { throw new Error('descriptor'); },
    })],
    ['an object with a throwing cause getter', Object.defineProperty(new Error('x'), 'cause', { get: () => { throw new Error('cause'); } })],
    ['an object with a throwing errors getter', Object.defineProperty(new Error('x'), 'errors', { get: () => { throw new Error('errors'); } })],
    ['an endless chain of fresh causes', (() => {
      const endless = (): object => ({ get cause() { return endless(); } });
      return endless();
    })()],
    ['a huge sparse errors array', (() => {
      const errors: unknown[] = [];
      errors.length = 1e9;
      return { errors };
    })()],
    ['an errors proxy that throws on index', { errors: new Proxy([withCode('ECONNRESET')], { get: (t, k) => { if (k === '0') throw new Error('index'); return Reflect.get(t, k); } }) }],
    ['headers whose get() throws', withProps({ status: 503, headers: { get: () => { throw new Error('get'); } } })],
    ['a Status body that is not text', apiException(429, 42)],
    ['a code that is an object', { code: { toString: () => { throw new Error('toString'); } } }],
  ];

  it.each(hostile)('%s', (_, value) => {
    for (const c of [classify, generic, withRotatingFile]) {
      const v = c(value);
      expectValidVerdict(v);
    }
  });

  it('huge strings where a rule reads text are not scanned (issue 14): the verdict shows the bound', () => {
    const huge = ' '.repeat(50_000_000);
    const cases: Array<[unknown, Verdict]> = [
      [withProps({ status: 503, headers: { 'retry-after': `${huge}1` } }), { kind: 'transient', reason: 'HTTP 503' }],
      [withCode('EPROTO', `${huge}tlsv1 alert internal error`), { kind: 'permanent', reason: 'unrecognised error' }],
      [Object.assign(new SyntaxError(`${huge}JSON`)), { kind: 'permanent', reason: 'unrecognised error' }],
    ];
    for (const [value, want] of cases) {
      expect(classify(value)).toEqual(want);
      expect(withRotatingFile(value)).toEqual(want);
    }
    // Short texts are still read.
    expect(classify(withProps({ status: 503, headers: { 'retry-after': ' 2 ' } }))).toEqual({ kind: 'transient', reason: 'HTTP 503', retryAfterMs: 2000 });
    expect(withRotatingFile(new SyntaxError('Unexpected end of JSON input'))).toEqual({ kind: 'transient', reason: 'truncated JSON' });
  });

  it('a throwing getter costs only the rule that read it', () => {
    const e = new Proxy(withCode('ECONNRESET'), {
      get: (target, key) => {
        if (key === 'name') throw new Error('no name');
        return Reflect.get(target, key);
      },
    });
    // The abort rule throws on name; the node rule still answers.
    expect(classify(e)).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
  });

  it('property: any value gives a valid verdict', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true }), (value) => {
        expectValidVerdict(classify(value));
        expectValidVerdict(generic(value));
        expectValidVerdict(withRotatingFile(value));
      }),
      { numRuns: 2000 },
    );
  });

  const leaves = [
    withCode('ECONNRESET'), withCode('EACCES'), withCode('ENOENT'), withCode('EPROTO', 'tlsv1 alert internal error'),
    withProps({ status: 503, headers: { 'retry-after': '2' } }), withProps({ statusCode: 404 }),
    apiException(429, statusText('TooManyRequests', 429, { retryAfterSeconds: 1 })), apiException(409, statusText('Conflict', 409)),
    new DOMException('x', 'AbortError'), new DOMException('x', 'TimeoutError'), new Error('plain'), new EmptyFileError('/f'),
    'a string', null, 42,
  ];

  /** A random graph of errors: causes, aggregates, and back references that make cycles. */
  const errorGraph = fc
    .array(
      fc.record({
        kind: fc.constantFrom('wrap', 'aggregate', 'leaf', 'fetch'),
        leaf: fc.integer({ min: 0, max: leaves.length - 1 }),
        links: fc.array(fc.nat(), { maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 20 },
    )
    .map((specs) => {
      const nodes: unknown[] = specs.map((s) =>
        s.kind === 'leaf' ? leaves[s.leaf] : s.kind === 'aggregate' ? new AggregateError([], 'agg') : s.kind === 'fetch' ? new TypeError('fetch failed') : new Error('wrap'),
      );
      specs.forEach((s, i) => {
        const node = nodes[i];
        if (s.kind === 'leaf' || s.links.length === 0) return;
        const targets = s.links.map((l) => nodes[l % nodes.length]);
        if (node instanceof AggregateError) node.errors.push(...targets);
        else Object.defineProperty(node, 'cause', { value: targets[0], configurable: true });
      });
      return nodes[0];
    });

  it('property: random cause chains and aggregates (with cycles) give valid verdicts, the same on every path', () => {
    fc.assert(
      fc.property(errorGraph, (root) => {
        expectValidVerdict(classify(root));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: objects built from the fields the rules read give valid verdicts', () => {
    const field = fc.oneof(
      fc.constantFrom('ECONNRESET', 'EPROTO', 'ABORT_ERR', 'AbortError', 'TimeoutError', 'Status', 'Conflict', 'tlsv1 alert internal error', 'ENOENT'),
      fc.integer({ min: 398, max: 601 }),
      fc.constantFrom(statusText('TooManyRequests', 429, { retryAfterSeconds: 2 }), statusText('NotFound', 404), '{"kind":"Status"'),
      fc.constant(undefined),
      fc.dictionary(fc.constantFrom('retry-after', 'status', 'statusCode', 'httpStatusCode', 'reason', 'kind', 'code'), fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom('1', 'TooManyRequests', 'Status'))),
    );
    const shaped = fc.dictionary(
      fc.constantFrom('name', 'code', 'message', 'status', 'statusCode', 'response', '$metadata', 'body', 'headers', 'kind', 'reason', 'details', 'errors'),
      field,
    );
    fc.assert(
      fc.property(shaped, (value) => {
        expectValidVerdict(classify(value));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('safeClassify (what retry, gate and kubernetes run a caller\'s classifier through)', () => {
  const original = withCode('ECONNRESET');

  it('passes a verdict through', () => {
    expect(safeClassify(classify, original)).toBe(classify(original));
  });

  it('judges a classifier that throws permanent', () => {
    const throws = (): Verdict => {
      throw new Error('classifier bug');
    };
    expect(safeClassify(throws, original)).toEqual({ kind: 'permanent', reason: 'classifier threw' });
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'transient'],
    ['an object without kind', { reason: 'x' }],
    ['an object with an unknown kind', { kind: 'maybe', reason: 'x' }],
  ])('judges a classifier that answers %s like one that throws (issue 14)', (_, answer) => {
    const broken = (() => answer) as unknown as (error: unknown) => Verdict;
    const v = safeClassify(broken, original);
    expect(v).toEqual({ kind: 'permanent', reason: 'classifier threw' });
    expect(Object.isFrozen(v)).toBe(true);
  });

  it('a getter on kind that throws is a classifier that throws', () => {
    const hostile = (() => ({ get kind(): never { throw new Error('kind') }, reason: 'x' })) as unknown as (error: unknown) => Verdict;
    expect(safeClassify(hostile, original)).toEqual({ kind: 'permanent', reason: 'classifier threw' });
  });
});
