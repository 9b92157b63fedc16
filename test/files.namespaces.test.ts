/**
 * The temp-file sweep across pid namespaces, with real namespaces made by `unshare` (issue 14,
 * item 10): writers that are pid 1 of their namespace, as a container's main process is.
 * - Writers in different pid namespaces writing the same files in one directory at once, with
 *   /proc mounted for their namespace and with /proc hidden: none of their writes fails, and a
 *   temp file that a live writer is still writing survives their sweeps.
 * - A crash-looping pid 1, SIGKILLed mid-write again and again: each start's sweep removes what
 *   earlier runs in a namespace of the same number left (pid 1 then, but another incarnation);
 *   what runs in namespaces of other numbers left cannot be told from a live neighbour's, and
 *   goes once untouched for an hour, so in the end nothing is left.
 * Skipped, saying why, where `unshare` cannot make pid and mount namespaces (not root, no
 * util-linux).
 */
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleWriter,
  startInPidNamespace,
  unshareUnavailable,
  type NamespacedWriter,
  type ProcView,
  type WriterIdentity,
} from './support/pid-namespace.js';

const unavailable = await unshareUnavailable();
if (unavailable !== undefined) console.warn(`files.namespaces.test.ts skipped: ${unavailable}`);

let dir: string;
let bundle: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-pidns-'));
  if (unavailable === undefined) bundle = await bundleWriter(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tempsIn = async (directory: string): Promise<string[]> =>
  (await readdir(directory)).filter((name) => name.endsWith('.ridethrough-tmp'));

async function started(writer: NamespacedWriter, pid1: boolean): Promise<WriterIdentity> {
  const identity = await writer.identity();
  if (pid1) expect(identity.pid).toBe(1);
  else expect(identity.pid).toBeGreaterThan(40);
  return identity;
}

describe.skipIf(unavailable !== undefined)(`temp files of writers in pid namespaces${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const setups: { view: ProcView; holder: boolean; first: boolean; second: boolean; what: string }[] = [
    { view: 'mounted', holder: true, first: true, second: true, what: '/proc mounted for each namespace, every writer pid 1' },
    { view: 'hidden', holder: true, first: true, second: true, what: '/proc hidden, every writer pid 1' },
    // Without /proc, 0.1.0 gave all of these one tag, and a writer judged the others' pids in its own namespace.
    { view: 'hidden', holder: false, first: true, second: false, what: '/proc hidden, pid 1 and pids above 40' },
  ];

  it.each(setups)('writers in three pid namespaces share a directory, $what: no write fails, no live temp file is swept', async (setup) => {
    const data = join(dir, `shared-${setup.view}-${String(setup.holder)}`);
    await mkdir(data);
    const base = join(data, 'state');
    const writers: NamespacedWriter[] = [];
    try {
      // A writer caught mid-write of state.0, deterministically: it holds its temp file open.
      const holder = startInPidNamespace(bundle, ['hold', `${base}.0`], setup.view, setup.holder);
      writers.push(holder);
      await started(holder, setup.holder);
      const held = (await holder.line('holding ')).slice('holding '.length);
      // Two writers rewrite state.0 ... state.9 at once; the first write to each file sweeps it.
      const first = startInPidNamespace(bundle, ['writes', base, '150'], setup.view, setup.first);
      const second = startInPidNamespace(bundle, ['writes', base, '150'], setup.view, setup.second);
      writers.push(first, second);
      const identities = [await started(first, setup.first), await started(second, setup.second)];
      await Promise.all([first.line('done', 120_000), second.line('done', 120_000)]);
      await Promise.all([first.exited, second.exited]);
      if (setup.view === 'hidden') expect(identities.map((i) => i.ns)).toEqual([null, null]);
      else expect(new Set(identities.map((i) => i.ns)).size).toBe(2);

      const failures = [...first.lines, ...second.lines].filter((line) => line.startsWith('failed'));
      expect(failures).toEqual([]);
      // The held temp file survived both writers' sweeps (theirs are all renamed away), and the
      // held write completes: its rename finds its temp file (with 0.1.0: ENOENT).
      const tempsLeft = await tempsIn(data);
      holder.child.stdin.end();
      await holder.exited;
      const heldWrite = holder.lines.filter((line) => line === 'renamed' || line.startsWith('failed'));
      expect({ tempsLeft, heldWrite }).toEqual({ tempsLeft: [held], heldWrite: ['renamed'] });
    } finally {
      for (const writer of writers) writer.child.stdin.end();
      await Promise.all(writers.map((writer) => writer.exited));
    }
  });

  it('a crash-looping pid 1, SIGKILLed mid-write: each start sweeps what earlier runs in its namespace number left, and in the end nothing is left', async () => {
    const data = join(dir, 'crash-loop');
    await mkdir(data);
    const file = join(data, 'state.bin');
    const bytes = String(4 * 1024 * 1024); // so that a kill lands in a write that is under way
    /** Leftover temp file -> the pid namespace of the run that left it. */
    const leftovers = new Map<string, string>();
    const namespaces: string[] = [];
    let sweptFromOwnNamespace = 0;
    for (let round = 0; round < 16; round++) {
      const writer = startInPidNamespace(bundle, ['loop', file, bytes], 'mounted');
      try {
        const { ns } = await started(writer, true);
        expect(ns).not.toBeNull();
        namespaces.push(ns!);
        await writer.line('ready', 60_000); // its first write is done, and the sweep that ran with it
        const present = new Set(await tempsIn(data));
        for (const [name, leftBy] of leftovers) {
          if (leftBy !== ns) continue;
          expect(present.has(name), `${name}, left by an earlier pid 1 of ${ns}, after a new start in ${ns}`).toBe(false);
          leftovers.delete(name);
          sweptFromOwnNamespace++;
        }
        for (const [name] of leftovers) expect(present.has(name), `${name} (another namespace number's) is kept`).toBe(true);
        await killMidWrite(writer, data, present);
      } finally {
        writer.child.kill('SIGKILL');
        await writer.exited;
      }
      const after = await tempsIn(data);
      for (const name of after) if (!leftovers.has(name)) leftovers.set(name, namespaces.at(-1)!);
      if (round >= 5 && sweptFromOwnNamespace >= 2) break;
    }
    // Namespace numbers are reused once the kernel has freed them; runs back to back alternate.
    expect(sweptFromOwnNamespace, `namespaces of the runs: ${namespaces.join(' ')}`).toBeGreaterThanOrEqual(2);

    // What is left came from runs under other namespace numbers: once untouched for an hour, the
    // next start takes it too.
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const name of leftovers.keys()) await utimes(join(data, name), twoHoursAgo, twoHoursAgo);
    const last = startInPidNamespace(bundle, ['once', file, '1024'], 'mounted');
    await last.line('done', 60_000);
    await last.exited;
    expect(await tempsIn(data)).toEqual([]);
  });
});

/** SIGKILLs the writer as soon as a temp file it is writing shows up (one not in `before`). */
async function killMidWrite(writer: NamespacedWriter, data: string, before: ReadonlySet<string>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error('no temp file of the writer showed up within 60 s'));
    }, 60_000);
    const watcher = watch(data, (_event, name) => {
      if (name?.endsWith('.ridethrough-tmp') && !before.has(name) && existsSync(join(data, name))) {
        clearTimeout(timer);
        watcher.close();
        resolve();
      }
    });
  });
  await writer.killWriter();
}
