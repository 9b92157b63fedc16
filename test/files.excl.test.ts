/**
 * The temp file is created with O_CREAT|O_EXCL: a symlink someone planted at the temp file's name
 * is never followed (it would let them redirect the secret, or overwrite a file of their choice).
 * To plant one at the exact name the writer will pick, the random part of the name is fixed here
 * by mocking `randomBytes`; the file system, the symlink and the writer are real.
 */
import { watch } from 'node:fs';
import { lstat, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { atomicWriteFile } from 'ridethrough/files';

const random = vi.hoisted(() => ({ next: [] as Buffer[] }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, randomBytes: (size: number) => random.next.shift() ?? actual.randomBytes(size) };
});

const R1 = Buffer.from('aaaaaaaa', 'hex');
const R2 = Buffer.from('bbbbbbbb', 'hex');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-excl-'));
});
afterEach(async () => {
  random.next = [];
  await rm(dir, { recursive: true, force: true });
});

/** Writes once with the random part R1 and returns the temp file name that write used. */
async function tempNameFor(file: string): Promise<string> {
  random.next = [R1];
  let name: string | undefined;
  const watcher = watch(dir, (_event, filename) => {
    if (filename?.endsWith('.ridethrough-tmp')) name ??= filename;
  });
  try {
    await atomicWriteFile(file, 'v1', { mode: 0o600 });
    await expect.poll(() => name, { timeout: 5000 }).toBeDefined();
  } finally {
    watcher.close();
  }
  expect(name).toMatch(/-aaaaaaaa\.ridethrough-tmp$/);
  return name!;
}

it('does not follow a symlink planted at the temp name: it picks another name and the victim is untouched', async () => {
  const file = join(dir, 'kubeconfig');
  const planted = join(dir, await tempNameFor(file));
  const victim = join(dir, 'victim');
  await writeFile(victim, 'not yours', { mode: 0o644 });
  await symlink(victim, planted);

  random.next = [R1, R2]; // the first name collides with the planted link
  const result = await atomicWriteFile(file, 'token: secret');
  expect(result.written).toBe(true);
  expect(await readFile(file, 'utf8')).toBe('token: secret');
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(await readFile(victim, 'utf8')).toBe('not yours');
  expect((await stat(victim)).mode & 0o777).toBe(0o644);
  expect((await lstat(planted)).isSymbolicLink()).toBe(true);
  expect(await readlink(planted)).toBe(victim);
});

it('gives up with EEXIST after three taken names, leaving target and victim untouched', async () => {
  const file = join(dir, 'kubeconfig');
  const planted = join(dir, await tempNameFor(file));
  const victim = join(dir, 'victim');
  await writeFile(victim, 'not yours');
  await symlink(victim, planted);

  random.next = [R1, R1, R1];
  await expect(atomicWriteFile(file, 'token: secret')).rejects.toMatchObject({ code: 'EEXIST' });
  expect(await readFile(file, 'utf8')).toBe('v1');
  expect(await readFile(victim, 'utf8')).toBe('not yours');
});
