/**
 * What an attack review of 0.1.0 found in the writer (issue 14, items 1-3 and 11), on the real
 * parts: a sticky world-writable (1777) directory, links and files planted by uid 65534 while
 * this process writes as root, a write-only directory.
 */
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundleForOthers, nodeForOthers, othersMayEnter } from './support/as-nobody.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { diagnosticsChannels } from 'ridethrough';
import { atomicWriteFile, type AtomicWriteEvent } from 'ridethrough/files';

const NOBODY = 65534;
const isRoot = process.geteuid?.() === 0;
const run = promisify(execFile);
/** Runs a command as uid 65534, as the attacker would. */
const asNobody = (command: string, ...args: string[]) => run(command, args, { uid: NOBODY, gid: NOBODY });

let base: string;
let shared: string; // 1777, owned by root: /tmp's kind
let rootOnly: string; // 0700, root's
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ridethrough-security-'));
  await chmod(base, 0o755);
  shared = join(base, 'shared');
  await mkdir(shared);
  await chmod(shared, 0o1777);
  rootOnly = join(base, 'root-only');
  await mkdir(rootOnly, { mode: 0o700 });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(base, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('in a sticky world-writable directory, as root (skipped when not root: it needs a second uid)', () => {
  it('refuses to follow a link uid 65534 planted at the target name: the secret it points to stays as it was', async () => {
    const secret = join(rootOnly, 'secret');
    await writeFile(secret, 'root secret', { mode: 0o600 });
    await asNobody('ln', '-s', secret, join(shared, 'app.state'));

    const error = await atomicWriteFile(join(shared, 'app.state'), 'state').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EACCES', path: join(shared, 'app.state') });
    expect((error as Error).message).toMatch(/refusing to follow the symlink .* belongs to uid 65534.*fs\.protected_symlinks.*Write to the real path/);
    expect(await readFile(secret, 'utf8')).toBe('root secret');
    expect(await readdir(rootOnly)).toEqual(['secret']);
  });

  it('refuses a dangling planted link: nothing is created in the directory it points into', async () => {
    await asNobody('ln', '-s', join(rootOnly, 'new'), join(shared, 'app.cache'));
    await expect(atomicWriteFile(join(shared, 'app.cache'), 'cache')).rejects.toMatchObject({ code: 'EACCES' });
    expect(await readdir(rootOnly)).toEqual([]);
  });

  it('mkdir: true creates no directory through a planted link', async () => {
    await asNobody('ln', '-s', join(rootOnly, 'made'), join(shared, 'conf.d'));
    await expect(atomicWriteFile(join(shared, 'conf.d', 'sub', 'app.conf'), 'x', { mkdir: true })).rejects.toMatchObject({ code: 'EACCES' });
    expect(await readdir(rootOnly)).toEqual([]);
  });

  it('still follows links of its own user or of the directory owner, and links anywhere outside shared directories', async () => {
    const own = join(rootOnly, 'own');
    await writeFile(own, 'old');
    await run('ln', ['-s', own, join(shared, 'mine')]);
    await atomicWriteFile(join(shared, 'mine'), 'new');
    expect(await readFile(own, 'utf8')).toBe('new');
    expect((await lstat(join(shared, 'mine'))).isSymbolicLink()).toBe(true);

    // A private directory of uid 65534's, not sticky: its links are followed as before.
    const theirs = join(base, 'theirs');
    await mkdir(theirs);
    await chown(theirs, NOBODY, NOBODY);
    const file = join(base, 'plain');
    await writeFile(file, 'old');
    await asNobody('ln', '-s', file, join(theirs, 'link'));
    await atomicWriteFile(join(theirs, 'link'), 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
  });

  it('refuses to replace a file uid 65534 pre-created, so the secret is never handed to them', async () => {
    const target = join(shared, 'db-password');
    await asNobody('touch', target);
    const error = await atomicWriteFile(target, 'hunter2', { mode: 0o600 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EACCES', path: target });
    expect((error as Error).message).toMatch(/refusing to replace .* belongs to uid 65534.*fs\.protected_regular/);
    expect(await readFile(target, 'utf8')).toBe('');
    expect((await readdir(shared)).filter((name) => name.endsWith('.ridethrough-tmp'))).toEqual([]);
    // The old owner is still kept outside shared directories.
    const elsewhere = join(base, 'owned-by-nobody');
    await writeFile(elsewhere, 'old');
    await chown(elsewhere, NOBODY, NOBODY);
    await atomicWriteFile(elsewhere, 'new', { mode: 0o600 });
    expect((await stat(elsewhere)).uid).toBe(NOBODY);
  });
});

describe('the umask (issue 14, item 2)', () => {
  it('never calls process.umask() on the write path, and still applies an explicit mode exactly', async () => {
    const previous = process.umask(0o077);
    const umask = vi.spyOn(process, 'umask');
    try {
      const file = join(base, 'f');
      await atomicWriteFile(file, 'x', { mode: 0o644 });
      await atomicWriteFile(file, 'y'); // keeps 0o644
      await atomicWriteFile(join(base, 'g'), 'z'); // 0o666 minus the umask, by the kernel
      expect(umask).not.toHaveBeenCalled();
      expect((await stat(file)).mode & 0o7777).toBe(0o644);
      expect((await stat(join(base, 'g'))).mode & 0o7777).toBe(0o600);
    } finally {
      umask.mockRestore();
      process.umask(previous);
    }
  });
});

describe.skipIf(!isRoot)('a directory that cannot be fsynced (issue 14, item 11; needs root to run a child as uid 65534)', () => {
  it('says so in the result and on the channel when the directory is write-only', async ({ skip }) => {
    const dir = join(base, 'write-only');
    await mkdir(dir);
    await chown(dir, NOBODY, NOBODY);
    await chmod(dir, 0o300); // write and search, no read: open(dir, O_RDONLY) fails with EACCES
    // The writer must not be root (root opens any directory): a child as uid 65534, loading
    // nothing from the clone (see support/as-nobody.ts).
    const node = nodeForOthers();
    if (node === undefined || !othersMayEnter(tmpdir()) || !othersMayEnter(base)) {
      return skip(`uid 65534 cannot reach ${node === undefined ? 'a Node binary' : base}: no child to write as nobody`);
    }
    // Inside base (0755, removed after each test), so nothing outlives the test.
    const childDir = join(base, 'child');
    await mkdir(childDir, { mode: 0o755 });
    const child = await bundleForOthers(fileURLToPath(new URL('./support/fsync-child.ts', import.meta.url)), childDir);
    const { stdout } = await run(node, [child, join(dir, 'f')], { uid: NOBODY, gid: NOBODY, cwd: childDir });
    const out = JSON.parse(stdout) as { result: { written: boolean; directorySynced: boolean }; event: { directorySynced: boolean; code: string; frozen: boolean } };
    expect(out.result).toMatchObject({ written: true, directorySynced: false });
    expect(out.event).toEqual({ directorySynced: false, code: 'EACCES', frozen: true });
  });
});

it('reports directorySynced: true for a durable write, false for durable: false, on a frozen event', async () => {
  const events: AtomicWriteEvent[] = [];
  const listener = (message: unknown) => events.push(message as AtomicWriteEvent);
  subscribe(diagnosticsChannels.files.write, listener);
  try {
    expect((await atomicWriteFile(join(base, 'a'), 'x')).directorySynced).toBe(true);
    expect((await atomicWriteFile(join(base, 'b'), 'x', { durable: false })).directorySynced).toBe(false);
  } finally {
    unsubscribe(diagnosticsChannels.files.write, listener);
  }
  expect(events.map((e) => [e.directorySynced, Object.isFrozen(e)])).toEqual([[true, true], [false, true]]);
});
