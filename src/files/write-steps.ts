/**
 * The file-system steps of an atomic write that need care beyond one call: writing every byte
 * (short writes continued), renaming over the target (a bind-mounted file explained), and
 * fsyncing directories (a directory that cannot be synced reported, not hidden).
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { permanent } from '../classify/index.js';
import { errorCode } from './fs-errors.js';

/** Larger writes go in pieces so an abort is seen between them. */
const WRITE_CHUNK = 4 * 1024 * 1024;

export async function writeAll(handle: FileHandle, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    signal?.throwIfAborted();
    const length = Math.min(bytes.length - offset, WRITE_CHUNK);
    // write(2) may write fewer bytes than asked without an error (a disk filling up): continue
    // from where it stopped; the next call then reports the real error (ENOSPC).
    const { bytesWritten } = await handle.write(bytes, offset, length, offset);
    if (bytesWritten === 0) {
      throw Object.assign(new Error(`atomicWriteFile(): write made no progress at byte ${offset} of ${bytes.length}`), { code: 'EIO' });
    }
    offset += bytesWritten;
  }
}

export async function renameOver(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    if (errorCode(error) !== 'EBUSY') throw error;
    const { errno } = error as NodeJS.ErrnoException;
    // Marked permanent: EBUSY is usually worth a retry, but a mount point stays a mount point.
    throw permanent(Object.assign(
      new Error(
        `atomicWriteFile(): "${target}" cannot be replaced by rename (EBUSY): it is most likely a bind mount of a single file ` +
          '(a Kubernetes subPath or a file mounted into a container); mount its directory instead',
        { cause: error },
      ),
      { code: 'EBUSY', errno, syscall: 'rename', path: target },
    ));
  }
}

/** Fsyncs a directory; returns the error that made it impossible (a write-only directory), or `undefined`. */
export async function syncDirectory(directory: string): Promise<unknown> {
  let handle: FileHandle;
  try {
    handle = await open(directory, 'r');
  } catch (error) {
    if (cannotSyncDirectory(error)) return error;
    throw error;
  }
  try {
    await handle.sync();
    return undefined;
  } catch (error) {
    if (!cannotSyncDirectory(error)) throw error;
    return error;
  } finally {
    await handle.close();
  }
}

/** Errors that mean "this platform or file system cannot fsync a directory", not "I/O failed". */
function cannotSyncDirectory(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'EINVAL' || code === 'ENOTSUP' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM';
}

export async function syncCreatedDirectories(first: string, last: string): Promise<void> {
  // mkdir -p created `first` .. `last`; each one's entry lives in its parent (`last`'s own
  // content was synced already).
  for (let directory = last; ; directory = dirname(directory)) {
    await syncDirectory(dirname(directory));
    if (directory === first || dirname(directory) === directory) return;
  }
}
