/**
 * A measurement, not a timing: how many temp files a crash-looping writer that is pid 1 of its
 * pid namespace (a container's main process) leaves behind. Each round starts
 * `unshare --pid --fork --mount-proc node <writer>` rewriting one file of `MiB` MiB in a loop,
 * waits for its first write (whose sweep runs first), then SIGKILLs it at a random instant of a
 * later write (0-50 ms after its temp file appears; a write of 15 MiB takes longer). After the last kill one more start writes once; what is left then is what
 * the sweep could not take. Linux, root (or CAP_SYS_ADMIN) and util-linux `unshare` needed.
 *
 * Run: `node --import tsx bench/pid1-crash-loop.ts [kills=30] [MiB=15]` (it bundles the writer
 * from src/, so it measures the working tree, no build needed).
 */
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWriter, startInPidNamespace, unshareUnavailable } from '../test/support/pid-namespace.js';

const kills = Number(process.argv[2] ?? 30);
const mib = Number(process.argv[3] ?? 15);
const why = await unshareUnavailable();
if (why !== undefined) {
  console.error(why);
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'ridethrough-pid1-'));
const data = join(dir, 'data');
await mkdir(data);
const bundle = await bundleWriter(dir);
const file = join(data, 'state.bin');
const temps = async (): Promise<string[]> => (await readdir(data)).filter((name) => name.endsWith('.ridethrough-tmp'));
const namespaces = new Map<string, number>();
let midWrite = 0;
let seen = new Set<string>();
try {
  for (let round = 0; round < kills; round++) {
    const writer = startInPidNamespace(bundle, ['loop', file, String(mib * 1024 * 1024)], 'mounted');
    const { pid, ns } = await writer.identity();
    if (pid !== 1) throw new Error(`the writer is pid ${pid}, not 1`);
    namespaces.set(String(ns), (namespaces.get(String(ns)) ?? 0) + 1);
    await writer.line('ready', 120_000);
    // Kill it while one of its temp files is there (a write under way).
    await new Promise<void>((resolve) => {
      const watcher = watch(data, (_event, name) => {
        if (name?.endsWith('.ridethrough-tmp') && !seen.has(name) && existsSync(join(data, name))) {
          watcher.close();
          resolve();
        }
      });
    });
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 50));
    await writer.killWriter();
    const now = await temps();
    if (now.some((name) => !seen.has(name))) midWrite++;
    seen = new Set(now);
  }
  const before = await temps();
  const next = startInPidNamespace(bundle, ['once', file, String(mib * 1024 * 1024)], 'mounted');
  await next.line('done', 120_000);
  await next.exited;
  const left = await temps();
  let bytes = 0;
  for (const name of left) bytes += (await stat(join(data, name))).size;
  console.log(`kills: ${kills} of a pid-1 writer of ${mib} MiB files (node ${process.version})`);
  console.log(`pid namespace inodes used (inode: starts): ${[...namespaces].map(([n, c]) => `${n}: ${c}`).join(', ')}`);
  console.log(`kills that left a temp file: ${midWrite}; temp files there after the last kill: ${before.length}`);
  console.log(`temp files left after the next start's sweep: ${left.length}, ${(bytes / 1024 / 1024).toFixed(0)} MiB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
