/**
 * A child process for the pid-namespace tests of the temp-file sweep (files.namespaces.test.ts,
 * bench/pid1-crash-loop.ts), meant to run as pid 1 (or another pid) of a fresh pid namespace made
 * by `unshare`. It is bundled with esbuild first (support/as-nobody.ts `bundleForOthers`), so it
 * also runs where /proc is hidden and tsx could not start.
 *
 * First it prints `identity {"pid":..,"ns":..,"start":..}`: its pid, its pid namespace
 * (`/proc/self/ns/pid`) and its start time (field 22 of `/proc/self/stat`), `null` where /proc
 * does not say. Then, by mode:
 * - `loop <file> <bytes>`: rewrites `file` with `bytes` bytes forever, printing `ready` once the
 *   first write (whose sweep runs before it resolves) is done: the crash loop kills it mid-write;
 * - `once <file> <bytes>`: one write, then `done` and exit;
 * - `hold <file>`: a live writer caught mid-write, deterministically: it creates a temp file for
 *   `file` with the library's own `createTempFile` (the name every write of this process uses),
 *   prints `holding <name>` and keeps it open until its stdin closes; then it renames it over
 *   `file`, printing `renamed` (or `failed <code>`: ENOENT if someone swept it meanwhile);
 * - `writes <file> <count>`: `count` writes to `file.0` ... `file.9` in turn (the first write to
 *   each runs a sweep), printing `failed <code>` for each write that fails and `done` at the end.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { atomicWriteFile } from 'ridethrough/files';
import { createTempFile, tempStem } from '../../src/files/temp-files.js';

const [mode, file, argument] = process.argv.slice(2);
if (mode === undefined || file === undefined) {
  console.error('usage: pid1-writer <loop|once|hold|writes> <file> [bytes|count]');
  process.exit(2);
}

const attempt = <T>(read: () => T): T | null => {
  try {
    return read();
  } catch {
    return null;
  }
};
const ns = attempt(() => readlinkSync('/proc/self/ns/pid'));
const stat = attempt(() => readFileSync('/proc/self/stat', 'utf8'));
const start = stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
process.stdout.write(`identity ${JSON.stringify({ pid: process.pid, ns, start })}\n`);

const content = (n: number): Buffer => Buffer.alloc(Number(argument ?? 1024), 97 + (n % 26));

switch (mode) {
  case 'loop': {
    await atomicWriteFile(file, content(0));
    process.stdout.write('ready\n');
    for (let n = 1; ; n++) await atomicWriteFile(file, content(n));
  }
  case 'once':
    await atomicWriteFile(file, content(0));
    process.stdout.write('done\n');
    break;
  case 'hold': {
    const temp = await createTempFile(dirname(file), tempStem(basename(file)), 0o644);
    await temp.handle.write('half-written');
    process.stdout.write(`holding ${basename(temp.path)}\n`);
    // Its stdin closed, it finishes the write as atomicWriteFile would: close, rename.
    process.stdin.resume().on('end', () => {
      void temp.handle
        .close()
        .then(() => rename(temp.path, file))
        .then(
          () => process.stdout.write('renamed\n'),
          (error: unknown) => process.stdout.write(`failed ${(error as { code?: string }).code ?? String(error)}\n`),
        );
    });
    break;
  }
  case 'writes': {
    const count = Number(argument ?? 100);
    for (let n = 0; n < count; n++) {
      await atomicWriteFile(`${file}.${n % 10}`, content(n)).catch((error: unknown) => {
        process.stdout.write(`failed ${(error as { code?: string }).code ?? String(error)}\n`);
      });
    }
    process.stdout.write('done\n');
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
