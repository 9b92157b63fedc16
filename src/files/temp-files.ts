/**
 * Temporary files of atomicWriteFile: their names (which carry the writer's incarnation, see
 * temp-owner.ts), their exclusive creation, and the sweep that removes the ones a killed writer
 * left behind.
 *
 * Names: `.<stem>.<tag>-<pid>-<start>-<8 hex>.ridethrough-tmp`, the last part random per file.
 * With a stem of at most 200 bytes, a pid of at most 7 digits (Linux's limit) and a start time of
 * at most 11 base-36 digits (36^11 clock ticks is 40 million years), that is 255 bytes at most.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { realClock } from '../shared/clock.js';
import { sha256Hex } from './content-hash.js';
import { errorCode, noop } from './fs-errors.js';
import { judgeTemp, ownerPrefix } from './temp-owner.js';

const TEMP_SUFFIX = '.ridethrough-tmp';
/** A temp file whose writer cannot be checked from here counts as abandoned once untouched this long. */
const UNCHECKABLE_TEMP_STALE_MS = 60 * 60 * 1000;

/** The target's name as it appears in temp names: itself, or a hash when too long for NAME_MAX. */
export function tempStem(name: string): string {
  return Buffer.byteLength(name) <= 200 ? name : `#${sha256Hex(name).slice(0, 16)}`;
}

export interface TempFile {
  readonly path: string;
  readonly handle: FileHandle;
}

export async function createTempFile(directory: string, stem: string, mode: number | undefined): Promise<TempFile> {
  const createMode = mode === undefined ? 0o666 : mode & 0o777;
  for (let tries = 1; ; tries++) {
    const path = join(directory, `.${stem}.${ownerPrefix()}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    try {
      // 'wx' = O_CREAT|O_EXCL: fails on anything already there, a planted symlink included.
      return { path, handle: await open(path, 'wx', createMode) };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST' || tries === 3) throw error;
    }
  }
}

/**
 * Listing a directory costs about a millisecond per thousand entries, so a target is swept on its
 * first write in this process (which finds what crashed writers, a previous run of this process
 * included, left behind) and then at most once a minute, not on every write.
 */
const SWEEP_INTERVAL_MS = 60_000;
const lastSweeps = new Map<string, number>();

export function sweepDue(target: string): boolean {
  const now = realClock.now();
  const last = lastSweeps.get(target);
  if (last !== undefined && now - last < SWEEP_INTERVAL_MS) return false;
  if (lastSweeps.size >= 10_000) lastSweeps.clear(); // forgetting only costs an early sweep
  lastSweeps.set(target, now);
  return true;
}

/** Removes the temp files of `stem` in `directory` whose writers are dead (temp-owner.ts says which). */
export async function removeStaleTemps(directory: string, stem: string): Promise<void> {
  try {
    const prefix = `.${stem}.`;
    for (const name of await readdir(directory)) {
      if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
      const verdict = await judgeTemp(name.slice(prefix.length));
      if (verdict === 'not-ours' || verdict === 'keep') continue;
      const path = join(directory, name);
      if (verdict === 'remove' || (await untouchedFor(path, directory, UNCHECKABLE_TEMP_STALE_MS))) await unlink(path).catch(noop);
    }
  } catch {
    // Best effort: an unreadable directory must not fail the write.
  }
}

async function untouchedFor(path: string, directory: string, ms: number): Promise<boolean> {
  // "Now" is the directory's mtime, just set by the creation of our own temp file: the file
  // system's clock (the server's, on a network file system), not this machine's.
  const [theirs, now] = await Promise.all([lstat(path), lstat(directory)]);
  return now.mtimeMs - theirs.mtimeMs > ms;
}
