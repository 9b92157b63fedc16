/**
 * Temporary files of atomicWriteFile: their names (which carry the writer's owner tag), their
 * exclusive creation, and the sweep that removes the ones a killed writer left behind.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { lstat, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { realClock } from '../shared/clock.js';
import { sha256Hex } from './content-hash.js';
import { errorCode, noop } from './fs-errors.js';

// Temporary files: `.<stem>.<tag>-<pid>-<12 hex>.ridethrough-tmp`. The tag identifies the host and
// pid namespace, so a pid is only ever checked in the namespace where it means something.
const TEMP_SUFFIX = '.ridethrough-tmp';
const TEMP_TAIL = /^([0-9a-f]{8})-([1-9][0-9]{0,9})-[0-9a-f]{12}\.ridethrough-tmp$/;
/** A temp file from another host or pid namespace counts as abandoned once untouched this long. */
const FOREIGN_TEMP_STALE_MS = 60 * 60 * 1000;

let cachedOwnerTag: string | undefined;
function ownerTag(): string {
  if (cachedOwnerTag === undefined) {
    let pidNamespace = '';
    try {
      pidNamespace = readlinkSync('/proc/self/ns/pid'); // 'pid:[4026531836]' on Linux; once per process
    } catch {
      // not Linux: hostname alone
    }
    cachedOwnerTag = sha256Hex(`${hostname()}\0${pidNamespace}`).slice(0, 8);
  }
  return cachedOwnerTag;
}

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
    const path = join(directory, `.${stem}.${ownerTag()}-${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
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

export async function removeStaleTemps(directory: string, stem: string): Promise<void> {
  try {
    const prefix = `.${stem}.`;
    const tag = ownerTag();
    for (const name of await readdir(directory)) {
      if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
      const match = TEMP_TAIL.exec(name.slice(prefix.length));
      if (!match) continue;
      const path = join(directory, name);
      const abandoned =
        match[1] === tag ? !processIsAlive(Number(match[2])) : await untouchedFor(path, directory, FOREIGN_TEMP_STALE_MS);
      if (abandoned) await unlink(path).catch(noop);
    }
  } catch {
    // Best effort: an unreadable directory must not fail the write.
  }
}

function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

async function untouchedFor(path: string, directory: string, ms: number): Promise<boolean> {
  // "Now" is the directory's mtime, just set by the creation of our own temp file: the file
  // system's clock (the server's, on a network file system), not this machine's.
  const [theirs, now] = await Promise.all([lstat(path), lstat(directory)]);
  return now.mtimeMs - theirs.mtimeMs > ms;
}
