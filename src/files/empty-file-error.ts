/**
 * The error the files module throws for a file read empty. A leaf: it imports no primitive, so
 * files owns it and classify can re-export it (0.1.0 imported it from `ridethrough/classify`).
 *
 * @module
 */
import { describe } from '../shared/validate.js';

/**
 * Thrown by the files module when a file that is being replaced is read empty. Node accepts an
 * empty string as a certificate without complaint, so emptiness has to be checked, not caught;
 * this is what the check throws. The classifier's `rules.rotatingFile` judges it
 * transient (by its `code`).
 *
 * Guide: [Atomic writes and rotation-tolerant reads](../../docs/guides/atomic-writes.md).
 *
 * @example
 * ```ts
 * import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { EmptyFileError, createClassifier, defaultRules, rules } from 'ridethrough';
 *
 * const dir = mkdtempSync(join(tmpdir(), 'empty-'));
 * const path = join(dir, 'tls.crt');
 * writeFileSync(path, ''); // caught mid-rotation
 * const classify = createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });
 * try {
 *   if (readFileSync(path, 'utf8') === '') throw new EmptyFileError(path);
 * } catch (error) {
 *   console.log(classify(error)); // { kind: 'transient', reason: 'empty file' }
 * } finally {
 *   rmSync(dir, { recursive: true });
 * }
 * ```
 */
export class EmptyFileError extends Error {
  /** Always `'EmptyFileError'`. */
  override readonly name = 'EmptyFileError' as const;
  /** Always `'ERR_EMPTY_FILE'`. */
  readonly code = 'ERR_EMPTY_FILE' as const;
  /** The file that was read empty. */
  readonly path: string;

  /**
   * @param path - The file that was read empty.
   * @param options - Standard error options (`cause`).
   * @throws TypeError when `path` is not a string.
   */
  constructor(path: string, options?: ErrorOptions) {
    if (typeof path !== 'string') throw new TypeError(`EmptyFileError: "path" must be a string, got ${describe(path)}`);
    super(`file is empty: ${path}`, options);
    this.path = path;
  }
}
