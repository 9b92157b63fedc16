/**
 * The error classifier: is this failure worth retrying?
 * SKELETON: the types below are the public API; the implementation is being written.
 */

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

/** A rule gives a verdict on errors it recognises and `undefined` on the rest. */
export type Rule = (error: unknown) => Verdict | undefined;

/** A function that classifies any value thrown. It never throws. */
export type Classifier = (error: unknown) => Verdict;

/** Classifies with the {@link defaultRules}. */
export const classify: Classifier = () => ({ kind: 'permanent', reason: 'unrecognised error' });
