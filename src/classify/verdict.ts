/** Verdicts and the small readers every rule uses. */
import type { Verdict, VerdictKind } from './index.js';

/** Any object, read property by property; rules run inside try/catch, so reads need no guard. */
export type Bag = Record<string, unknown>;

/** A frozen verdict. The common ones are built once and shared: classifying allocates nothing unless a server asked for a delay. */
export function verdict(kind: VerdictKind, reason: string): Verdict {
  return Object.freeze({ kind, reason });
}

export function withRetryAfter(base: Verdict, retryAfterMs: number | undefined): Verdict {
  if (retryAfterMs === undefined || retryAfterMs === base.retryAfterMs) return base;
  return Object.freeze({ kind: base.kind, reason: base.reason, retryAfterMs });
}

export function isObject(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null;
}

export function longer(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}
