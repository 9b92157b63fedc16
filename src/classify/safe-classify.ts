/** Running a classifier that may be user code. */
import type { Classifier, Verdict } from './index.js';

const CLASSIFIER_THREW: Verdict = Object.freeze({ kind: 'permanent', reason: 'classifier threw' });

/**
 * Classifies `error` with `classifier`; if the classifier itself throws, the error is judged
 * permanent (`reason: 'classifier threw'`) rather than lost.
 */
export function safeClassify(classifier: Classifier, error: unknown): Verdict {
  try {
    return classifier(error);
  } catch {
    return CLASSIFIER_THREW;
  }
}
