/** The walk: the rules on a thrown value, then down its `cause` chain and into aggregates, within caps. */
import type { Rule, Verdict } from './index.js';
import { isObject, longer, withRetryAfter, type Bag } from './verdict.js';

/** Causes followed from the thrown value (and aggregate nesting). Real chains are 1 to 3 deep. */
const MAX_DEPTH = 8;
/** Inner errors read from one aggregate. */
const MAX_INNER = 32;
/** Values examined in one call once aggregates are involved (they branch). */
const MAX_VISITS = 256;

function isVerdict(value: unknown): value is Verdict {
  if (!isObject(value)) return false;
  const kind = value.kind;
  return (kind === 'transient' || kind === 'permanent') && typeof value.reason === 'string';
}

/** Rules in order, each guarded: a rule that throws, or answers something that is not a verdict, has no opinion. */
export function applyRules(list: readonly Rule[], value: unknown): Verdict | undefined {
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
 * No cycle detection: a cyclic chain ends at {@link MAX_DEPTH} like any long one (at most 9
 * values), and once an aggregate is met at most {@link MAX_VISITS} more values are examined in
 * the whole call, so the work stays bounded whatever the graph.
 */
export function walk(list: readonly Rule[], value: unknown, depth: number, budget: Budget | undefined): Verdict | undefined {
  let current = value;
  for (;;) {
    if (budget !== undefined && budget.visits-- <= 0) return undefined;
    const found = applyRules(list, current);
    if (found !== undefined) return found;
    if (typeof current !== 'object' || current === null) return undefined;
    const inner = innerErrorsOf(current);
    if (inner !== undefined) {
      const combined = aggregate(list, inner, depth, (budget ??= { visits: MAX_VISITS }));
      if (combined !== undefined) return combined;
    }
    if (++depth > MAX_DEPTH) return undefined;
    const next = causeOf(current);
    if (next === undefined || next === null) return undefined;
    current = next;
  }
}

/**
 * AggregateError (or any `errors` array): permanent if any inner error is, transient if all are
 * (with the longest retryAfterMs); otherwise no opinion, and the walk follows `cause`.
 */
function aggregate(list: readonly Rule[], inner: readonly unknown[], depth: number, budget: Budget): Verdict | undefined {
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
    const found = walk(list, item, depth + 1, budget);
    if (found === undefined) allTransient = false;
    else if (found.kind === 'permanent') return found;
    else {
      first ??= found;
      retryAfterMs = longer(retryAfterMs, found.retryAfterMs);
    }
  }
  return allTransient && first !== undefined ? withRetryAfter(first, retryAfterMs) : undefined;
}
