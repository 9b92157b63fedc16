/**
 * Who wrote a temp file, and whether that writer may still be writing it.
 *
 * A temp file's name carries its writer's incarnation: `<tag>-<pid>-<start>`.
 * - `<tag>` (8 hex) names the place where `<pid>` means something: a hash of the host name, the
 *   boot id (`/proc/sys/kernel/random/boot_id`), the pid namespace (`/proc/self/ns/pid`) and the
 *   time namespace. Where /proc does not tell (not Linux, /proc hidden) the tag is a random
 *   nonce drawn once per process: nobody else can claim that place, so nobody judges the file
 *   by its pid.
 * - `<start>` is the process's start time (field 22 of `/proc/self/stat`, clock ticks since
 *   boot, in base 36), `0` where /proc does not tell.
 *
 * Neither alone is unique. A pid namespace's number is reused as soon as the namespace dies, so
 * each run of a crash-looping container's pid 1 gets the tag of some earlier run; and a pid is
 * reused too. The three together name one process incarnation (two incarnations of a pid in a
 * namespace of the same number start at least one clock tick apart: the first lived to write).
 *
 * The sweep's rule, for a temp file of a target being written:
 * - same tag, same pid and start as ours: ours, kept (a concurrent write of this process);
 * - same tag, our pid, another start: an earlier incarnation that had our pid (a previous pid 1
 *   of a namespace with our number): dead, removed;
 * - same tag, another pid: removed when `kill(pid, 0)` says no such process, or when that pid's
 *   start time (from /proc, when /proc is this namespace's) is not the file's: the pid went to
 *   someone else. Kept when both match; when the start time cannot be read, the hour rule below;
 * - another tag (another host, container, boot, or a writer without /proc): it cannot be checked
 *   from here, so it is removed only once untouched for an hour.
 * Old names, `<tag>-<pid>-<12 hex>` from 0.1.0, whose tag hashed the host name and pid namespace:
 * when that tag is what 0.1.0 would compute here and the pid is dead, removed; otherwise the hour
 * rule (a live pid may be a reused one, or an older copy of this library still writing, even in
 * this process).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sha256Hex } from './content-hash.js';
import { errorCode } from './fs-errors.js';

interface Incarnation {
  /** `<tag>-<pid>-<start>`, the part of our temp names before the random part. */
  readonly prefix: string;
  readonly tag: string;
  readonly start: string;
  /** The tag 0.1.0 computed in this place, when /proc tells the pid namespace. */
  readonly legacyTag: string | undefined;
  /** Whether /proc is this pid namespace's, so that `/proc/<pid>` is the process `kill(pid)` reaches. */
  readonly procIsOurs: boolean;
}

let cached: Incarnation | undefined;

function ourIncarnation(): Incarnation {
  cached ??= readIncarnation(); // once per process: a handful of small /proc reads
  return cached;
}

function readIncarnation(): Incarnation {
  const pidNamespace = attempt(() => readlinkSync('/proc/self/ns/pid')); // 'pid:[4026531836]'
  const ticks = attempt(() => startTicks(readFileSync('/proc/self/stat', 'utf8')));
  if (pidNamespace === undefined || ticks === undefined) {
    const tag = randomBytes(4).toString('hex');
    return { prefix: `${tag}-${process.pid}-0`, tag, start: '0', legacyTag: undefined, procIsOurs: false };
  }
  const bootId = attempt(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()) ?? '';
  const timeNamespace = attempt(() => readlinkSync('/proc/self/ns/time')) ?? ''; // start times are read in it
  const tag = sha256Hex(`${hostname()}\0${bootId}\0${pidNamespace}\0${timeNamespace}`).slice(0, 8);
  const start = ticks.toString(36);
  return {
    prefix: `${tag}-${process.pid}-${start}`,
    tag,
    start,
    legacyTag: sha256Hex(`${hostname()}\0${pidNamespace}`).slice(0, 8),
    procIsOurs: attempt(() => readlinkSync('/proc/self')) === String(process.pid),
  };
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Field 22 of a `/proc/<pid>/stat` line; the command name (field 2) may hold spaces and parentheses. */
function startTicks(stat: string): number | undefined {
  const field = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const ticks = Number(field);
  return field !== undefined && /^\d+$/.test(field) && Number.isSafeInteger(ticks) ? ticks : undefined;
}

/** `<tag>-<pid>-<start>`: what every temp name of this process carries before its random part. */
export function ownerPrefix(): string {
  return ourIncarnation().prefix;
}

/** The tail of a temp name after `.<stem>.`: `<tag>-<pid>-<start>-<8 hex>`, or 0.1.0's `<tag>-<pid>-<12 hex>`. */
const TAIL = /^([0-9a-f]{8})-([1-9][0-9]{0,9})-([0-9a-z]{1,13})-[0-9a-f]{8}\.ridethrough-tmp$/;
const LEGACY_TAIL = /^([0-9a-f]{8})-([1-9][0-9]{0,9})-[0-9a-f]{12}\.ridethrough-tmp$/;

/**
 * What the sweep may do with a temp file, from the tail of its name: `'not-ours'` (not one of our
 * temp names at all: never touched), `'keep'`, `'remove'`, or `'if-untouched'` (its writer
 * cannot be checked from here: removed only once untouched for an hour).
 */
export type TempVerdict = 'not-ours' | 'keep' | 'remove' | 'if-untouched';

export async function judgeTemp(tail: string): Promise<TempVerdict> {
  const self = ourIncarnation();
  const current = TAIL.exec(tail);
  if (current) {
    const [, tag, pidText, start] = current as unknown as [string, string, string, string];
    if (tag !== self.tag) return 'if-untouched';
    const pid = Number(pidText);
    if (pid === process.pid) return start === self.start ? 'keep' : 'remove';
    if (!processExists(pid)) return 'remove';
    const theirs = self.procIsOurs ? await startOf(pid) : undefined;
    if (theirs === undefined) return processExists(pid) ? 'if-untouched' : 'remove';
    return theirs === start ? 'keep' : 'remove';
  }
  const legacy = LEGACY_TAIL.exec(tail);
  if (!legacy) return 'not-ours';
  const pid = Number(legacy[2]);
  return legacy[1] === self.legacyTag && pid !== process.pid && !processExists(pid) ? 'remove' : 'if-untouched';
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

/** The start time of `pid` in our temp names' form, or undefined when /proc does not say (hidepid, gone). */
async function startOf(pid: number): Promise<string | undefined> {
  try {
    return startTicks(await readFile(`/proc/${pid}/stat`, 'utf8'))?.toString(36);
  } catch {
    return undefined;
  }
}
