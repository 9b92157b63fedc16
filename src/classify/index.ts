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
import { checkOptionNames, describe, enumOption, optionsObject } from '../shared/validate.js';
import { beginParseAllowance, endParseAllowance } from './http.js';
import { defaultRules } from './rules.js';
import { verdict } from './verdict.js';
import { walk } from './walk.js';

export { defaultRules, EmptyFileError, permanent, rules, transient } from './rules.js';

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

const UNRECOGNISED_PERMANENT = verdict('permanent', 'unrecognised error');
const UNRECOGNISED_TRANSIENT = verdict('transient', 'unrecognised error');

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
 * Guide: [Classifying errors](../../docs/guides/classification.md).
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
  return judge(defaultRules, error) ?? UNRECOGNISED_PERMANENT;
}

/**
 * Builds a classifier from your own list of rules (first opinion wins) and fallback. Like
 * {@link classify}, it walks `cause` chains and aggregates, and never throws: a rule that throws
 * is skipped.
 *
 * Guide: [Classifying errors](../../docs/guides/classification.md).
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
  return (error: unknown): Verdict => judge(list, error) ?? fallback;
}

/** One classifier call: the walk, with its own allowance of Status text to parse (the walk never throws). */
function judge(list: readonly Rule[], error: unknown): Verdict | undefined {
  const outer = beginParseAllowance();
  const found = walk(list, error, 0, undefined);
  endParseAllowance(outer);
  return found;
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
