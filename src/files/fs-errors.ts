/** Small helpers for file-system errors, shared by the writer and the readers of this folder. */
import type { Stats } from 'node:fs';

export function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** The shared no-op (for `.catch(noop)` on best-effort cleanup). */
export { noop } from '../shared/signals.js';

export function isDirectoryError(path: string): Error {
  return Object.assign(new Error(`atomicWriteFile(): "${path}" is a directory; the target must be a file`), {
    code: 'EISDIR',
    path,
  });
}

export function notRegularFileError(path: string, stats: Stats): Error {
  return Object.assign(new Error(`atomicWriteFile(): "${path}" is ${kindOf(stats)}; only regular files are replaced`), {
    code: 'EINVAL',
    path,
  });
}

/** What a file that is not a regular file is, for messages. */
export function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}
