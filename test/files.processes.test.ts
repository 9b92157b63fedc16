/**
 * atomicWriteFile seen from outside the process:
 * - several processes writing one file at once: every write stays atomic (a reader only ever
 *   sees whole versions, the file ends as one writer's last version, no temp file is left);
 * - crashes, for real: child processes rewrite a file in a loop and are killed with SIGKILL at
 *   random instants. After every kill the file must be one whole version (never empty, never cut
 *   off), and the temp files the dead writers leave must not pile up;
 * - the system calls, traced with strace: the temp file is created with O_EXCL and its final
 *   mode in the same openat(2), with no chmod after it; it is fsynced before the rename and the
 *   directory after it (durable: false: no fsync at all). Skipped, with the reason, without strace.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomicWriteFile } from 'ridethrough/files';
import { recogniseVersion, versionContent } from './support/file-versions.js';

const writerScript = fileURLToPath(new URL('./support/files-writer.ts', import.meta.url));
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tempFilesOf = async (name: string): Promise<string[]> =>
  (await readdir(dir)).filter((entry) => entry.startsWith(`.${name}.`) && entry.endsWith('.ridethrough-tmp'));

/** Starts a writer, waits until its first version is on disk, lets it run `ms`, then SIGKILLs it. */
async function killWriterAfter(file: string, first: number, ms: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, file, String(first)], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited early with code ${code}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

describe('atomicWriteFile from several processes at once', () => {
  it('keeps every write whole while three processes rewrite one file and a reader reads it in a loop', async () => {
    const file = join(dir, 'shared.json');
    await atomicWriteFile(file, versionContent(0));
    const writes = 15;
    // Three writers with disjoint version ranges: 1000+, 2000+, 3000+.
    const writers = [1000, 2000, 3000].map((first) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', writerScript, file, String(first), String(writes)], {
        cwd: projectRoot,
        timeout: 60_000,
      }),
    );
    let done = false;
    const finished = Promise.all(writers).finally(() => (done = true));
    const problems: string[] = [];
    let reads = 0;
    while (!done) {
      const seen = recogniseVersion(await readFile(file, 'utf8'));
      reads++;
      if ('problem' in seen) problems.push(seen.problem);
    }
    await finished;
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    const last = recogniseVersion(await readFile(file, 'utf8'));
    expect(last).toSatisfy((v: { version?: number }) => [1014, 2014, 3014].includes(v.version ?? -1));
    expect(await tempFilesOf('shared.json')).toEqual([]);
  });
});

describe('atomicWriteFile under SIGKILL', () => {
  it('after every kill the file is one whole version, and dead writers\' temp files do not pile up', async () => {
    const lanes = ['state-a.json', 'state-b.json']; // two at once: the machine has two cores
    const rounds = 8;
    let killedMidWrite = 0;
    const outcomes = await Promise.allSettled(
      lanes.map(async (name, lane) => {
        const file = join(dir, name);
        for (let round = 0; round < rounds; round++) {
          const first = (lane * rounds + round) * 100_000;
          await killWriterAfter(file, first, Math.random() * 150);
          const seen = recogniseVersion(await readFile(file, 'utf8'));
          expect(seen, `${name} after kill ${round}`).toHaveProperty('version');
          expect((seen as { version: number }).version).toBeGreaterThanOrEqual(first);
          // The next writer's first write swept the previous one's leftovers: at most the last one's remains.
          const temps = await tempFilesOf(name);
          expect(temps.length).toBeLessThanOrEqual(1);
          killedMidWrite += temps.length;
        }
      }),
    );
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    // A kill between two writes proves little; most of them must have hit a write under way.
    expect(killedMidWrite).toBeGreaterThanOrEqual(1);
    // One more write to each file sweeps what the last dead writers left.
    for (const name of lanes) {
      await atomicWriteFile(join(dir, name), '{"version":-1}');
      expect(await tempFilesOf(name)).toEqual([]);
    }
  });
});

describe('atomicWriteFile seen by strace', () => {
  /** Runs one write of version 1 to `file` in a traced child; the trace lines, or a reason to skip. */
  async function traceOneWrite(file: string, durability: 'durable' | 'scratch'): Promise<string[] | { skip: string }> {
    const log = join(dir, `strace-${durability}.log`);
    const syscalls = 'trace=openat,open,creat,chmod,fchmod,fchmodat,rename,renameat,renameat2,fsync,fdatasync';
    try {
      await promisify(execFile)(
        'strace',
        ['-f', '-qq', '-e', syscalls, '-o', log, process.execPath, '--import', 'tsx', writerScript, file, '1', '1', durability],
        { cwd: projectRoot, timeout: 20_000 },
      );
    } catch (error) {
      const { code, stderr } = error as { code?: unknown; stderr?: string };
      if (code === 'ENOENT') return { skip: 'strace is not installed' };
      if (stderr?.includes('ptrace')) return { skip: `strace cannot trace here: ${stderr.trim()}` };
      throw error;
    }
    return joinResumed((await readFile(log, 'utf8')).split('\n'));
  }

  /**
   * strace -f splits a call that another thread interrupts into `fsync(19 <unfinished ...>` and a
   * later `<... fsync resumed>) = 0`; put each back together, at the place where the call began.
   */
  function joinResumed(lines: string[]): string[] {
    const out: string[] = [];
    const pending = new Map<string, number>();
    for (const line of lines) {
      const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(line);
      const at = resumed ? pending.get(resumed[1]!) : undefined;
      if (resumed && at !== undefined) {
        out[at] = out[at]!.replace(' <unfinished ...>', resumed[2]!);
        pending.delete(resumed[1]!);
        continue;
      }
      if (line.endsWith('<unfinished ...>')) pending.set(/^\d+/.exec(line)?.[0] ?? '', out.length);
      out.push(line);
    }
    return out;
  }

  it('creates the temp file with O_CREAT|O_EXCL and mode 0600, fixed by an fchmod of its descriptor, umask 0 or not', async (ctx) => {
    const file = join(dir, 'kubeconfig');
    await writeFile(file, 'token: old', { mode: 0o600 });
    const previous = process.umask(0); // inherited by the child: only the writer can keep it private
    let trace: string[] | { skip: string };
    try {
      trace = await traceOneWrite(file, 'durable');
    } finally {
      process.umask(previous);
    }
    if (!Array.isArray(trace)) return ctx.skip(trace.skip);
    const calls = trace.filter((line) => line.includes('.ridethrough-tmp'));
    const creates = calls.filter((line) => /\bopen(at)?\(|\bcreat\(/.test(line));
    expect(creates, calls.join('\n')).toHaveLength(1);
    expect(creates[0]).toMatch(/O_CREAT\|O_EXCL/);
    expect(creates[0]).toMatch(/, 0600\) = \d+$/);
    // open() applies the umask, so the mode is made exact with fchmod on the descriptor (never a
    // chmod by path, which a swapped name could redirect, and never process.umask(): issue 14).
    const chmods = trace.filter((line) => /chmod/.test(line));
    expect(chmods.length, trace.join('\n')).toBeLessThanOrEqual(1);
    for (const line of chmods) expect(line).toMatch(/\bfchmod\(\d+, 0600\)\s+= 0$/);
    expect(await readFile(file, 'utf8')).toContain('"version":1');
  });

  it('fsyncs the temp file before the rename and the directory after it; durable: false does neither', async (ctx) => {
    const file = join(dir, 'state.json');
    const trace = await traceOneWrite(file, 'durable');
    if (!Array.isArray(trace)) return ctx.skip(trace.skip);
    const fdOf = (line: string | undefined): string | undefined => /= (\d+)$/.exec(line ?? '')?.[1];
    const create = trace.findIndex((line) => line.includes('.ridethrough-tmp') && line.includes('O_EXCL'));
    const renamed = trace.findIndex((line) => /\brename(at2?)?\(/.test(line) && line.includes('.ridethrough-tmp'));
    const tempFd = fdOf(trace[create]);
    expect(create, trace.join('\n')).toBeGreaterThanOrEqual(0);
    expect(renamed).toBeGreaterThan(create);
    const syncsOfTemp = trace.slice(create, renamed).filter((line) => new RegExp(`\\bf(data)?sync\\(${tempFd}\\b`).test(line));
    expect(syncsOfTemp, trace.slice(create, renamed + 1).join('\n')).toHaveLength(1);
    // After the rename: the directory is opened and that descriptor fsynced.
    const openDir = trace.findIndex((line, i) => i > renamed && line.includes(`"${dir}"`) && !line.includes('O_DIRECTORY'));
    expect(openDir, trace.slice(renamed).join('\n')).toBeGreaterThan(renamed);
    const dirFd = fdOf(trace[openDir]);
    expect(trace.slice(openDir).some((line) => new RegExp(`\\bfsync\\(${dirFd}\\b`).test(line))).toBe(true);

    const scratch = await traceOneWrite(join(dir, 'scratch.json'), 'scratch');
    if (!Array.isArray(scratch)) return ctx.skip(scratch.skip);
    expect(scratch.filter((line) => /\bf(data)?sync\(/.test(line))).toEqual([]);
    expect(scratch.some((line) => /\brename(at2?)?\(/.test(line) && line.includes('.ridethrough-tmp'))).toBe(true);
  });
});
