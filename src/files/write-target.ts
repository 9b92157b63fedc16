/**
 * Which file a write replaces (symlinks followed), whether it already holds the data, and whose
 * it stays. The checks that keep a root writer from being steered through a shared directory
 * live here too.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, readlink, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { permanent } from '../classify/index.js';
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
 * The file that will be replaced, and its stats if it exists. A symlink is followed, link by
 * link, to the file it points to; for a dangling one that is the missing file at the end of the
 * chain, which the write then creates (as fs.writeFile does) instead of replacing the link.
 * Symlinked parent directories need no resolving: the temp file goes beside the target either
 * way, and the kernel resolves them.
 *
 * Each link followed must pass the kernel's `fs.protected_symlinks` rule (which does not apply
 * here, since the writer reads the links itself): in a sticky, world-writable directory only a
 * link owned by this process's user or by the directory's owner is followed.
 */
export async function resolveTarget(file: string): Promise<{ target: string; existing: Stats | undefined }> {
  let candidate = file;
  for (let hops = 0; ; hops++) {
    let entry: Stats;
    try {
      entry = await lstat(candidate);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { target: candidate, existing: undefined }; // the end of the chain
      throw error;
    }
    if (!entry.isSymbolicLink()) return { target: candidate, existing: entry };
    if (hops === 40) {
      throw Object.assign(new Error(`atomicWriteFile(): too many symbolic links resolving "${file}"`), { code: 'ELOOP', path: file });
    }
    await checkFollowable(candidate, entry);
    candidate = resolve(dirname(candidate), await readlink(candidate));
  }
}

/** A directory where anyone may create entries but only their owners may remove them: /tmp. */
function isSharedDirectory(stats: Stats): boolean {
  return (stats.mode & 0o1002) === 0o1002;
}

function effectiveUid(): number | undefined {
  return process.geteuid?.();
}

async function checkFollowable(link: string, entry: Stats): Promise<void> {
  const euid = effectiveUid();
  if (euid === undefined || entry.uid === euid) return;
  const directory = dirname(link);
  const parent = await stat(directory);
  if (!isSharedDirectory(parent) || entry.uid === parent.uid) return;
  throw refused(
    link,
    `atomicWriteFile(): refusing to follow the symlink "${link}": it belongs to uid ${entry.uid}, and in a sticky world-writable ` +
      `directory ("${directory}") only links owned by this process's user (uid ${euid}) or the directory's owner (uid ${parent.uid}) ` +
      'are followed, as the kernel\'s fs.protected_symlinks does; anyone could have planted it. Write to the real path, or keep ' +
      'the file in a directory that others cannot write to',
  );
}

/**
 * The kernel's `fs.protected_regular` rule: in a sticky, world-writable directory a file that
 * belongs to someone other than the writer or the directory's owner is not replaced. Its owner
 * may have created it to be handed the content (a root writer keeps the old owner).
 */
export async function checkReplaceable(target: string, existing: Stats, directory: string): Promise<void> {
  const euid = effectiveUid();
  if (euid === undefined || existing.uid === euid) return;
  const parent = await stat(directory);
  if (!isSharedDirectory(parent) || existing.uid === parent.uid) return;
  throw refused(
    target,
    `atomicWriteFile(): refusing to replace "${target}": it belongs to uid ${existing.uid}, not to this process's user (uid ${euid}) ` +
      `or the owner of the sticky world-writable directory "${directory}" (uid ${parent.uid}), so whoever created it would be ` +
      'handed the new content (the kernel\'s fs.protected_regular rule). Remove the file first if it is really yours, or keep ' +
      'the file in a directory that others cannot write to',
  );
}

/**
 * Before `mkdir -p`: the deepest existing ancestor of `directory` must not be reached through
 * a link that {@link resolveTarget} would refuse, or the directories would be created wherever
 * that link points.
 */
export async function checkCreatableDirectory(directory: string): Promise<void> {
  for (let path = directory; dirname(path) !== path; path = dirname(path)) {
    let entry: Stats;
    try {
      entry = await lstat(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue;
      throw error;
    }
    // The first entry that exists is where mkdir starts; what lies above it the kernel resolves.
    if (entry.isSymbolicLink()) await checkFollowable(path, entry);
    return;
  }
}

function refused(path: string, message: string): Error {
  return permanent(Object.assign(new Error(message), { code: 'EACCES', path }));
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
