/**
 * contentHash: sha256 of bytes, of a string's UTF-8 bytes, or of a JSON value's canonical text
 * (RFC 8785 for the values it accepts); refuses what JSON cannot represent faithfully.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash } from 'ridethrough/files';

const sha256 = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex');

/** A reference canonical form, written independently of the module: keys sorted, no whitespace. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The same value with every object's keys in reverse insertion order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((key) => [key, reversedKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

describe('contentHash: bytes and strings', () => {
  it('is the sha256 hex of the bytes, and of a string\'s UTF-8 bytes', () => {
    expect(contentHash('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(contentHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(contentHash(Buffer.from('abc'))).toBe(contentHash('abc'));
    expect(contentHash(new Uint8Array([0x61, 0x62, 0x63]))).toBe(contentHash('abc'));
    expect(contentHash('héllo ✓')).toBe(sha256(Buffer.from('héllo ✓', 'utf8')));
    expect(contentHash('abc')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('property: a string and its UTF-8 bytes hash the same', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(contentHash(text)).toBe(contentHash(Buffer.from(text, 'utf8')));
      }),
      { numRuns: 100 },
    );
  });
});

describe('contentHash: JSON values', () => {
  it('hashes the canonical text: keys sorted recursively, no whitespace', () => {
    expect(contentHash({ b: 1, a: [1, 'x', { d: null, c: true }] })).toBe(sha256('{"a":[1,"x",{"c":true,"d":null}],"b":1}'));
    // Integer-like keys too: JavaScript enumerates them first, the canonical form does not.
    expect(contentHash({ '2': 'b', '10': 'a', '': 'empty', x: 0 })).toBe(sha256('{"":"empty","10":"a","2":"b","x":0}'));
    expect(contentHash([])).toBe(sha256('[]'));
    expect(contentHash({})).toBe(sha256('{}'));
    expect(contentHash(42)).toBe(sha256('42'));
    expect(contentHash(null)).toBe(sha256('null'));
    expect(contentHash(false)).toBe(sha256('false'));
  });

  it('writes numbers and strings as RFC 8785 does', () => {
    // Number serialisation examples from RFC 8785, appendix B.
    expect(contentHash([1e21, 1e-7, 0.1, -0, 333333333.3333333, 5e-324, 9007199254740992])).toBe(
      sha256('[1e+21,1e-7,0.1,0,333333333.3333333,5e-324,9007199254740992]'),
    );
    expect(contentHash({ s: '\u20ac$\u000f\nA\'B"\\\\"/' })).toBe(sha256('{"s":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'));
    // Keys compare by UTF-16 code units (RFC 8785 section 3.2.3 example, shortened).
    const keys = { '\u20ac': 'Euro', '\r': 'CR', '\ufb33': 'Hebrew', '1': 'One', '\u{1f600}': 'Emoji', '\u0080': 'Control', 'ö': 'Latin' };
    expect(contentHash(keys)).toBe(
      sha256('{"\\r":"CR","1":"One","\u0080":"Control","ö":"Latin","€":"Euro","\u{1f600}":"Emoji","\ufb33":"Hebrew"}'),
    );
  });

  it('property: equal content gives equal hashes whatever the key order, and matches a reference canonical form', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const hash = contentHash(value);
        expect(contentHash(reversedKeys(value))).toBe(hash);
        expect(contentHash(structuredClone(value))).toBe(hash);
        if (typeof value !== 'string') expect(hash).toBe(sha256(reference(value)));
      }),
      { numRuns: 200 },
    );
  });

  it('property: different canonical text gives different hashes', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (a, b) => {
        fc.pre(typeof a !== 'string' && typeof b !== 'string');
        const same = reference(a) === reference(b);
        expect(contentHash(a) === contentHash(b)).toBe(same);
      }),
      { numRuns: 200 },
    );
  });

  it('omits undefined properties as JSON does, follows toJSON, unwraps boxed primitives, reads class instances', () => {
    expect(contentHash({ a: 1, b: undefined })).toBe(contentHash({ a: 1 }));
    const when = new Date(Date.UTC(2024, 4, 1, 12));
    expect(contentHash({ when })).toBe(sha256('{"when":"2024-05-01T12:00:00.000Z"}'));
    expect(contentHash(when)).toBe(sha256('"2024-05-01T12:00:00.000Z"'));
    expect(contentHash([new String('x'), new Number(2), new Boolean(true)])).toBe(sha256('["x",2,true]'));
    class Spec {
      replicas = 3;
      image = 'app:1';
    }
    expect(contentHash(new Spec())).toBe(contentHash({ image: 'app:1', replicas: 3 }));
    const shared = { x: 1 };
    expect(contentHash({ a: shared, b: shared })).toBe(sha256('{"a":{"x":1},"b":{"x":1}}'));
    const own = JSON.parse('{"__proto__": 1, "a": 2}') as unknown;
    expect(contentHash(own)).toBe(sha256('{"__proto__":1,"a":2}'));
  });
});

describe('contentHash: refusals', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const selfJson = { toJSON(): unknown {
    return selfJson;
  } };

  it.each([
    ['undefined', undefined, /value: undefined is not a JSON value/],
    ['a function', () => 1, /value: a function \(function\) is not a JSON value/],
    ['a symbol', Symbol('s'), /value: a symbol \(symbol\) is not a JSON value/],
    ['a bigint', 10n, /value: 10 \(bigint\) is not a JSON value/],
    ['NaN', Number.NaN, /value: NaN is not a JSON number/],
    ['Infinity deep inside', { spec: { 'max-cpu': [1, -Infinity] } }, /value\.spec\["max-cpu"\]\[1\]: -Infinity is not a JSON number/],
    ['undefined in an array', [1, undefined], /value\[1\]: undefined/],
    // eslint-disable-next-line no-sparse-arrays -- a hole is the point
    ['a hole in an array', [1, , 3], /value\[1\]: undefined/],
    ['a function property', { run: () => 1 }, /value\.run: a function/],
    ['a cycle', cyclic, /value\.self: the value contains a cycle/],
    ['a toJSON that returns itself', selfJson, /cycle/],
    ['a Map', { data: new Map([['a', 1]]) }, /value\.data: a Map has no faithful JSON form/],
    ['a Set', new Set([1]), /a Set has no faithful JSON form/],
    ['a RegExp', /x/, /a RegExp/],
    ['an Error', new Error('boom'), /an? Error/],
    ['a Promise', Promise.resolve(1), /a Promise/],
    ['bytes inside a value', { cert: Buffer.from('x') }, /value\.cert: a binary buffer/],
  ])('refuses %s with a TypeError saying where', (_name, value, message) => {
    expect(() => contentHash(value)).toThrow(TypeError);
    expect(() => contentHash(value)).toThrow(message);
  });

  it('refuses a value nested 100,000 deep with the documented TypeError, not a stack overflow (issue 14)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(() => contentHash(deep)).toThrow(TypeError);
    expect(() => contentHash(deep)).toThrow(/nests deeper than 1000 levels; pass bytes, a string, or a JSON value$/);
    let fine: unknown = 1;
    for (let i = 0; i < 999; i++) fine = [fine];
    expect(contentHash(fine)).toMatch(/^[0-9a-f]{64}$/);
  });
});
