/** Running a classifier that may be user code. */
import type { Classifier, Verdict } from './index.js';

const CLASSIFIER_THREW: Verdict = Object.freeze({ kind: 'permanent', reason: 'classifier threw' });

/**
 * Classifies `error` with `classifier`. If the classifier throws, or answers something that is
 * not a verdict (`undefined`, `null`, an object without a valid `kind`), the error is judged
 * permanent (`reason: 'classifier threw'`): the caller then fails with the original error rather
 * than an internal TypeError.
 */
export function safeClassify(classifier: Classifier, error: unknown): Verdict {
  try {
    const found: unknown = classifier(error);
    if (typeof found === 'object' && found !== null) {
      const kind = (found as { kind?: unknown }).kind;
      if (kind === 'transient' || kind === 'permanent') return found as Verdict;
    }
  } catch {
    // Judged below, like a verdict that is not one.
  }
  return CLASSIFIER_THREW;
}
