/** Small helpers for file-system errors, shared by the writer and the readers of this folder. */
import type { Stats } from 'node:fs';

export function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

export function noop(): void {}

export function isDirectoryError(path: string): Error {
  return Object.assign(new Error(`atomicWriteFile(): "${path}" is a directory; the target must be a file`), {
    code: 'EISDIR',
    path,
  });
}

export function notRegularFileError(path: string, stats: Stats): Error {
  const kind = stats.isFIFO()
    ? 'a FIFO'
    : stats.isSocket()
      ? 'a socket'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : 'not a regular file';
  return Object.assign(new Error(`atomicWriteFile(): "${path}" is ${kind}; only regular files are replaced`), {
    code: 'EINVAL',
    path,
  });
}

