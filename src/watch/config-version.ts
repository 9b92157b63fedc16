/**
 * The two helpers of {@link liveConfig} that decide about a version: its `hash` (of the parsed
 * value when that is JSON data, else of the text) and a `parse` call bounded in time and
 * cancellable.
 */
import { contentHash } from '../files/index.js';
import { startTimer, type Clock } from '../shared/clock.js';
import { noop, onAbort, timeoutError } from '../shared/signals.js';
import type { LiveConfigParseContext } from './live-config.js';

/**
 * The `hash` of a version: {@link contentHash} of the parsed value when it hashes as what it
 * holds (a string, bytes, or JSON data: plain objects, arrays, finite numbers, booleans, `null`,
 * `Date`s), so that the same configuration in another key order or spacing keeps its hash;
 * otherwise (a class instance such as an `X509Certificate` or a `KeyObject`, a `Map`, a nested
 * `Buffer`, `undefined`, a cycle...) the hash of the file's text, `textHash`. A class instance is
 * never hashed as JSON: a `KeyObject` has no own properties, so every key would hash as `{}`.
 */
export function versionHash(value: unknown, textHash: string): string {
  if (typeof value === 'string' || value instanceof Uint8Array) return contentHash(value);
  if (!isJsonData(value)) return textHash;
  try {
    return contentHash(value);
  } catch {
    return textHash; // NaN, undefined in an array, a cycle, too deep: contentHash refuses them
  }
}

/** Whether every object in `value` is an array, a plain object or a `Date` (what else it holds, contentHash checks). */
function isJsonData(value: unknown): boolean {
  const pending: unknown[] = [value];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const item = pending.pop();
    if (item === null || typeof item !== 'object') {
      if (typeof item === 'function') return false;
      continue;
    }
    if (seen.has(item)) continue; // shared or cyclic: contentHash tells the two apart
    seen.add(item);
    if (Array.isArray(item)) {
      for (const member of item as unknown[]) pending.push(member);
      continue;
    }
    if (item instanceof Date) continue;
    const prototype: unknown = Object.getPrototypeOf(item);
    if (prototype !== Object.prototype && prototype !== null) return false;
    for (const key in item) if (Object.hasOwn(item, key)) pending.push((item as Record<string, unknown>)[key]);
  }
  return true;
}

/**
 * Calls `parse` with a signal of its own, and settles when it does, when `timeoutMs` runs out
 * (rejecting with a `TimeoutError`) or when `parent` aborts (with its reason), whichever comes
 * first; either of the last two aborts the parse's signal. Leaves no timer and no listener.
 */
export function parseWithin(
  parse: (content: string, context: LiveConfigParseContext) => unknown,
  content: string,
  parent: AbortSignal | undefined,
  timeoutMs: number,
  clock: Clock,
): Promise<unknown> {
  if (parent?.aborted) return Promise.reject(parent.reason);
  const controller = new AbortController();
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      cancelTimer();
      detach();
      return true;
    };
    const giveUp = (reason: unknown): void => {
      if (!settle()) return;
      controller.abort(reason);
      reject(reason);
    };
    const cancelTimer = startTimer(clock, timeoutMs, () =>
      giveUp(timeoutError(`liveConfig(): parse did not settle within ${timeoutMs} ms (parseTimeoutMs)`)),
    );
    const detach = parent === undefined ? noop : onAbort(parent, () => giveUp(parent.reason));
    let result: unknown;
    try {
      result = parse(content, Object.freeze({ signal: controller.signal }));
    } catch (error) {
      if (settle()) reject(error);
      return;
    }
    // A later settlement is ignored, a later rejection handled: nothing reaches the host.
    Promise.resolve(result).then(
      (value) => void (settle() && resolve(value)),
      (error: unknown) => void (settle() && reject(error)),
    );
  });
}
