/**
 * Writers in pid namespaces of their own, made with `unshare` (util-linux), for the tests of the
 * temp-file sweep: a writer that is pid 1 of its namespace, as in a container, with /proc mounted
 * for that namespace (`--mount-proc`, what a container runtime does) or hidden (an empty tmpfs
 * over /proc, as some sandboxes do). The writer is support/pid1-writer.ts, bundled.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundleForOthers } from './as-nobody.js';

/** What the writer says of itself first: `null` where /proc does not tell. */
export interface WriterIdentity {
  readonly pid: number;
  readonly ns: string | null;
  readonly start: string | null;
}

export type ProcView = 'mounted' | 'hidden';

/** Why writers in pid namespaces cannot run here (so the test says why it skips), or undefined. */
export async function unshareUnavailable(): Promise<string | undefined> {
  const run = promisify(execFile);
  try {
    await run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { timeout: 20_000 });
    await run('unshare', ['--pid', '--fork', '--kill-child', '--mount', 'sh', '-c', 'mount -t tmpfs -o size=16k hidden /proc'], {
      timeout: 20_000,
    });
    return undefined;
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: string };
    if (code === 'ENOENT') return 'unshare (util-linux) is not installed';
    return `unshare cannot make a pid and mount namespace here (root or CAP_SYS_ADMIN needed): ${stderr?.trim() || String(error)}`;
  }
}

/** Bundles support/pid1-writer.ts into `outDir`; the path of the bundle. */
export function bundleWriter(outDir: string): Promise<string> {
  return bundleForOthers(fileURLToPath(new URL('./pid1-writer.ts', import.meta.url)), outDir);
}

export interface NamespacedWriter {
  /** The `unshare` process. */
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** What `unshare`, the shell and the writer wrote on stderr (unshare --kill-child says `sigprocmask unblock failed` when its child is killed: noise). */
  readonly stderr: () => string;
  /** Every line the writer printed so far. */
  readonly lines: readonly string[];
  /** Resolves with the first line starting with `prefix` (rejects if the writer exits first). */
  line(prefix: string, timeoutMs?: number): Promise<string>;
  identity(): Promise<WriterIdentity>;
  /** SIGKILLs the writer itself (pid 1 of its namespace: the namespace dies with it); resolves once `unshare` exited. */
  killWriter(): Promise<void>;
  /** Resolves once `unshare` exited. */
  readonly exited: Promise<void>;
}

/**
 * Starts `node <bundle> ...args` in a new pid namespace. `pid1: false` runs it under a shell that
 * stays pid 1 and first runs `true` 40 times, so the writer gets a pid above 40: not one that a
 * thread of a Node process in another namespace has there (`kill(tid, 0)` succeeds on Linux).
 */
export function startInPidNamespace(bundle: string, args: readonly string[], view: ProcView, pid1 = true): NamespacedWriter {
  const node = [process.execPath, bundle, ...args];
  const hide = 'mount -t tmpfs -o size=16k,mode=555 hidden /proc || exit 97';
  const run = pid1 ? 'exec "$0" "$@"' : 'for i in $(seq 40); do /bin/true; done; "$0" "$@"; exit $?';
  const command =
    view === 'mounted'
      ? ['--pid', '--fork', '--kill-child', '--mount-proc', ...(pid1 ? node : ['sh', '-c', run, ...node])]
      : ['--pid', '--fork', '--kill-child', '--mount', 'sh', '-c', `${hide}; ${run}`, ...node];
  const child = spawn('unshare', command, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let errors = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters) wake();
  });
  let done = false;
  const exited = new Promise<void>((resolve) =>
    child.on('close', () => {
      done = true;
      for (const wake of waiters) wake();
      resolve();
    }),
  );
  const line = (prefix: string, timeoutMs = 30_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out waiting for "${prefix}" from the writer; it said: ${lines.join(' | ')} ${errors}`)), timeoutMs);
      const check = (): void => {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) finish(found);
        else if (done) finish(new Error(`the writer exited before "${prefix}"; it said: ${lines.join(' | ')} ${errors}`));
      };
      const finish = (outcome: string | Error): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (typeof outcome === 'string') resolve(outcome);
        else reject(outcome);
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    stderr: () => errors,
    lines,
    line,
    exited,
    identity: async () => JSON.parse((await line('identity ')).slice('identity '.length)) as WriterIdentity,
    killWriter: async () => {
      const writer = writerPid(child.pid!);
      if (writer !== undefined) process.kill(writer, 'SIGKILL');
      else child.kill('SIGKILL'); // --kill-child passes it on
      await exited;
    },
  };
}

/** The writer's pid as this process sees it: the first descendant of `unshare` that is not a shell. */
function writerPid(unsharePid: number): number | undefined {
  let pid = unsharePid;
  for (let depth = 0; depth < 3; depth++) {
    let children: string;
    try {
      children = readFileSync(join('/proc', String(pid), 'task', String(pid), 'children'), 'utf8').trim();
    } catch {
      return undefined;
    }
    const first = Number(children.split(' ')[0]);
    if (!Number.isInteger(first) || first <= 0) return undefined;
    pid = first;
    try {
      if (readFileSync(join('/proc', String(pid), 'comm'), 'utf8').trim() !== 'sh') return pid;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
