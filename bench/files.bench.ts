/**
 * atomicWriteFile against its peers, in one run: writes per second at 1 KiB and 256 KiB for
 * atomicWriteFile (durable and `durable: false`), write-file-atomic (fsync on), atomically,
 * a hand-written temp + fsync + rename + fsync(dir), and plain fs.promises.writeFile, as ratios to
 * write-file-atomic; then `skipIfUnchanged` on unchanged content against a durable write.
 *
 * The files live under the OS temp directory (put TMPDIR on the disk you care about). The write
 * tables are repeated on /dev/shm when it is a different file system: on tmpfs an fsync costs
 * nothing, which shows the cost of each code path without the disk's.
 *
 * The writers are measured in turns (short bursts, round robin), so that the noise of a shared
 * machine falls on all of them alike.
 */
import { createRequire } from 'node:module';
import { mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFile as atomicallyWriteFile } from 'atomically';
import { atomicWriteFile } from 'ridethrough/files';
import { printTable, type Row } from './harness.js';

// write-file-atomic is CommonJS without types of its own.
const writeFileAtomic = createRequire(import.meta.url)('write-file-atomic') as (
  file: string,
  data: string | Uint8Array,
  options?: { fsync?: boolean },
) => Promise<void>;

const SECONDS_PER_SIZE = 8;

/** What careful code does by hand: exclusive temp, write, fsync, rename, fsync the directory. */
let handWrittenCounter = 0;
async function handWritten(file: string, data: Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.${handWrittenCounter++}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.write(data, 0, data.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const directory = await open(dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

type Writer = [name: string, write: (file: string, data: Uint8Array) => Promise<unknown>];
const writers: Writer[] = [
  ['write-file-atomic (fsync: true)', (file, data) => writeFileAtomic(file, data, { fsync: true })],
  ['ridethrough atomicWriteFile', (file, data) => atomicWriteFile(file, data)],
  ['ridethrough atomicWriteFile (durable: false)', (file, data) => atomicWriteFile(file, data, { durable: false })],
  ['atomically (fsync default on)', (file, data) => atomicallyWriteFile(file, data)],
  ['hand-written tmp+fsync+rename+fsync(dir)', handWritten],
  ['fs.promises.writeFile (not atomic)', (file, data) => writeFile(file, data)],
];

/**
 * Mean ns per call of each case, measured in turns: each case runs a short burst, then the next,
 * round and round, so that the load of a shared machine, which drifts over seconds, falls on all
 * of them alike. A write here is milliseconds: timer resolution is not a concern.
 */
async function inTurns(cases: Array<[string, () => Promise<unknown>]>, seconds: number, burst = 5): Promise<number[]> {
  const spent = cases.map(() => 0);
  const calls = cases.map(() => 0);
  for (const [, fn] of cases) for (let i = 0; i < burst; i++) await fn(); // warm up
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (const [i, [, fn]] of cases.entries()) {
      const started = process.hrtime.bigint();
      for (let k = 0; k < burst; k++) await fn();
      spent[i]! += Number(process.hrtime.bigint() - started);
      calls[i]! += burst;
    }
  }
  return spent.map((ns, i) => ns / calls[i]!);
}

const sizes: Array<[label: string, bytes: number]> = [
  ['1 KiB', 1024],
  ['256 KiB', 256 * 1024],
];

async function writeTables(dir: string, where: string): Promise<void> {
  for (const [label, bytes] of sizes) {
    // Two contents that alternate, so each write really changes the file.
    const contents = [Buffer.alloc(bytes, 'a'), Buffer.alloc(bytes, 'b')];
    const cases = writers.map(([name, write], i): [string, () => Promise<unknown>] => {
      const file = join(dir, `w${i}-${bytes}`);
      let n = 0;
      return [name, () => write(file, contents[n++ & 1]!)];
    });
    const ns = await inTurns(cases, SECONDS_PER_SIZE);
    const baseline = ns[0]!;
    const rows: Row[] = cases.map(([name], i) => ({ name, value: 1e9 / ns[i]!, unit: 'ops/s', ratio: baseline / ns[i]! }));
    printTable(`writes per second, ${label}, ${where} (ratio: rate / write-file-atomic's rate, higher is faster)`, rows);
  }
}

async function skipTables(dir: string): Promise<void> {
  for (const [label, bytes] of sizes) {
    const file = join(dir, `skip-${bytes}`);
    const content = Buffer.alloc(bytes, 'c');
    await atomicWriteFile(file, content);
    const [durableNs, skipNs] = await inTurns(
      [
        ['durable write', () => atomicWriteFile(file, content)],
        ['skip', () => atomicWriteFile(file, content, { skipIfUnchanged: true })],
      ],
      SECONDS_PER_SIZE / 2,
    );
    printTable(`skipIfUnchanged on unchanged content, ${label} (ratio: speed-up over a durable write)`, [
      { name: 'atomicWriteFile, durable write', value: 1e9 / durableNs!, unit: 'ops/s', ratio: 1 },
      { name: 'atomicWriteFile, skipIfUnchanged, unchanged', value: 1e9 / skipNs!, unit: 'ops/s', ratio: durableNs! / skipNs! },
    ]);
  }
}

const diskDir = await mkdtemp(join(tmpdir(), 'ridethrough-bench-files-'));
try {
  await writeTables(diskDir, `in ${tmpdir()}`);
  await skipTables(diskDir);
} finally {
  await rm(diskDir, { recursive: true, force: true });
}

const shm = await stat('/dev/shm').catch(() => undefined);
if (shm?.isDirectory() && shm.dev !== (await stat(tmpdir())).dev) {
  const shmDir = await mkdtemp('/dev/shm/ridethrough-bench-files-');
  try {
    await writeTables(shmDir, 'on tmpfs /dev/shm, where fsync is free');
  } finally {
    await rm(shmDir, { recursive: true, force: true });
  }
}
