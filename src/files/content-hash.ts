/**
 * contentHash: SHA-256 of bytes, a string, or a JSON value in canonical form (RFC 8785 for the
 * values it accepts), and the off-thread hash the writer uses for large data.
 */
import { createHash, webcrypto } from 'node:crypto';
import { describe } from '../shared/validate.js';


/**
 * The SHA-256 of some content, as 64 lowercase hex digits.
 *
 * - A `Uint8Array` (a `Buffer`) is hashed as its bytes.
 * - A string is hashed as its UTF-8 bytes, so the hash of a file's text equals the hash of its
 *   bytes and the `hash` that {@link atomicWriteFile} returns for it.
 * - Any other value is hashed as the UTF-8 bytes of its canonical JSON text: object keys sorted
 *   (by UTF-16 code units, recursively), no whitespace, strings and numbers written exactly as
 *   `JSON.stringify` writes them. For the values it accepts this is the JSON Canonicalization
 *   Scheme (RFC 8785), so equal content gives equal hashes whatever the key order, and other
 *   languages can reproduce the hash.
 *
 * Values JSON cannot represent faithfully are refused with a `TypeError` naming where they are
 * (`value.spec.replicas`) instead of being hashed as something surprising: `undefined` (except
 * as an object property, which JSON omits), functions, symbols, bigints, `NaN` and `Infinity`,
 * cycles, values nested deeper than 1,000 levels, and objects whose JSON form loses their content (`Map`, `Set`, `RegExp`, `Error`,
 * `Promise`, typed arrays nested inside a value). An object with a `toJSON()` method (a `Date`)
 * is hashed as what that method returns, as `JSON.stringify` does.
 *
 * A typical use: stamp a pod template with the hash of the configuration it mounts, so the
 * pods roll when the configuration changes and only then.
 *
 * Guide: [Atomic writes and rotation-tolerant reads](../../docs/guides/atomic-writes.md).
 *
 * @param value - Bytes, a string, or a JSON value.
 * @returns 64 lowercase hex digits.
 * @throws TypeError for a value JSON cannot represent faithfully.
 *
 * @example
 * ```ts
 * import { contentHash } from 'ridethrough';
 *
 * const a = contentHash({ image: 'app:1.2', env: { LOG: 'debug', PORT: 8080 } });
 * const b = contentHash({ env: { PORT: 8080, LOG: 'debug' }, image: 'app:1.2' });
 * console.log(a === b); // true: key order does not matter
 * console.log(contentHash('hello') === contentHash(Buffer.from('hello'))); // true
 * const annotations = { 'example.com/config-hash': a.slice(0, 16) };
 * console.log(annotations);
 * ```
 */
export function contentHash(value: unknown): string {
  if (typeof value === 'string' || value instanceof Uint8Array) return sha256Hex(value);
  return sha256Hex(canonicalJson(value, 'value', new Set()));
}

export function sha256Hex(content: string | Uint8Array): string {
  // A string is hashed as its UTF-8 bytes (Hash#update's default encoding).
  return createHash('sha256').update(content).digest('hex');
}

/** From this size on, a write hashes its data on the thread pool: ~1.3 ms of main thread per MiB saved. */
const HASH_OFF_THREAD_BYTES = 64 * 1024;

/** sha256Hex of bytes; large ones on the thread pool (WebCrypto copies them first), so the event loop keeps running. */
export async function sha256HexOffThread(bytes: Uint8Array): Promise<string> {
  if (bytes.length < HASH_OFF_THREAD_BYTES) return sha256Hex(bytes);
  try {
    return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
  } catch {
    return sha256Hex(bytes); // so that it never rejects
  }
}

function canonicalJson(value: unknown, where: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw notJson(where, `${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'object':
      break;
    case 'undefined':
      throw notJson(where, 'undefined is not a JSON value');
    default:
      throw notJson(where, `${describe(value)} (${typeof value}) is not a JSON value`);
  }
  if (value === null) return 'null';
  if (ancestors.has(value)) throw notJson(where, 'the value contains a cycle');
  // The recursion would overflow the stack (a RangeError) long before a real configuration nests this deep.
  if (ancestors.size >= MAX_DEPTH) throw notJson(where.slice(0, 80) + '...', `the value nests deeper than ${MAX_DEPTH} levels`);
  const lossy = lossyKind(value);
  if (lossy !== undefined) throw notJson(where, `a ${lossy} has no faithful JSON form`);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // As JSON.stringify does: a Date becomes its ISO string.
    ancestors.add(value);
    try {
      return canonicalJson(toJSON.call(value, ''), where, ancestors);
    } finally {
      ancestors.delete(value);
    }
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    return canonicalJson(value.valueOf(), where, ancestors);
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items: string[] = [];
      for (let i = 0; i < value.length; i++) items.push(canonicalJson(value[i], `${where}[${i}]`, ancestors));
      return `[${items.join(',')}]`;
    }
    const record = value as Record<string, unknown>;
    const members: string[] = [];
    // Default sort compares UTF-16 code units, the order RFC 8785 prescribes.
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member === undefined) continue; // JSON omits it; so do we
      members.push(`${JSON.stringify(key)}:${canonicalJson(member, propertyPath(where, key), ancestors)}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}

/** How deep a value may nest: far beyond any configuration, far below the stack's limit. */
const MAX_DEPTH = 1_000;

function lossyKind(value: object): string | undefined {
  if (value instanceof Map) return 'Map';
  if (value instanceof Set) return 'Set';
  if (value instanceof WeakMap) return 'WeakMap';
  if (value instanceof WeakSet) return 'WeakSet';
  if (value instanceof RegExp) return 'RegExp';
  if (value instanceof Error) return 'Error';
  if (value instanceof Promise) return 'Promise';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 'binary buffer (hash it on its own)';
  return undefined;
}

function propertyPath(where: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;
}

function notJson(where: string, why: string): TypeError {
  return new TypeError(`contentHash(): ${where}: ${why}; pass bytes, a string, or a JSON value`);
}

