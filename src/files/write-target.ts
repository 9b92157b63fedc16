/**
 * Which file a write replaces (symlinks followed), whether it already holds the data, and whose
 * it stays. The checks that keep a root writer from being steered through a shared directory
 * live here too.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { errorCode } from './fs-errors.js';

/**
 * Whether `file` (through any symlink) is a regular file holding exactly `bytes`, with permission
 * bits `mode` if given. Three round trips: open, then read and stat together, then close. Any
 * failure (no file, no read permission) just means "write it".
 */
export async function holdsSameContent(file: string, bytes: Uint8Array, mode: number | undefined): Promise<boolean> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (for a regular file it changes nothing).
    handle = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch {
    return false;
  }
  try {
    const buffer = Buffer.allocUnsafe(bytes.length + 1);
    // A regular file reads short only at its end, so one read of a byte more than expected sees
    // all of it, or that it is longer. (Past 2 GiB, Linux caps a read: such a file is rewritten.)
    const [stats, { bytesRead }] = await Promise.all([handle.stat(), handle.read(buffer, 0, buffer.length, 0)]);
    return (
      stats.isFile() &&
      (mode === undefined || (stats.mode & 0o7777) === mode) &&
      bytesRead === bytes.length &&
      buffer.subarray(0, bytesRead).equals(bytes)
    );
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/**
 * The file that will be replaced, and its stats if it exists. A symlink is followed to the file
 * it points to; for a dangling one that is the missing file at the end of the chain, which the
 * write then creates (as fs.writeFile does) instead of replacing the link. Symlinked parent
 * directories need no resolving: the temp file goes beside the target either way.
 */
export async function resolveTarget(file: string): Promise<{ target: string; existing: Stats | undefined }> {
  let entry: Stats;
  try {
    entry = await lstat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { target: file, existing: undefined };
    throw error;
  }
  if (!entry.isSymbolicLink()) return { target: file, existing: entry };
  try {
    const target = await realpath(file);
    return { target, existing: await stat(target) };
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  let candidate = file;
  for (let hops = 0; ; hops++) {
    let link: string;
    try {
      link = await readlink(candidate);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EINVAL' || code === 'ENOENT') return { target: candidate, existing: undefined }; // the end of the chain
      throw error;
    }
    if (hops === 40) {
      throw Object.assign(new Error(`atomicWriteFile(): too many symbolic links resolving "${file}"`), { code: 'ELOOP', path: file });
    }
    candidate = resolve(dirname(candidate), link);
  }
}


export async function keepOwner(handle: FileHandle, existing: { uid: number; gid: number } | undefined): Promise<void> {
  if (!existing || !process.geteuid || !process.getegid) return;
  if (existing.uid === process.geteuid() && existing.gid === process.getegid()) return;
  try {
    await handle.chown(existing.uid, existing.gid);
  } catch (error) {
    // Only root may give a file away; others get the file as their own, as with any rewrite.
    if (errorCode(error) !== 'EPERM') throw error;
  }
}
