/**
 * A full disk, for real: a 64 KiB tmpfs. Our writer must reject with ENOSPC and leave the old
 * file and no temp file; write-file-atomic 7.0.1 and atomically 2.1.1 are shown next to it
 * resolving with a truncated file (one write, byte count ignored): the reason this module does
 * not build on them. Needs root to mount; skips with the reason otherwise.
 */
import { createRequire } from 'node:module';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFile as atomicallyWriteFile } from 'atomically';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { atomicWriteFile } from 'ridethrough/files';
import { mountTmpfs, type Mounted } from './support/mount.js';

// write-file-atomic is CommonJS without types of its own.
const writeFileAtomic = createRequire(import.meta.url)('write-file-atomic') as (
  file: string,
  data: string | Uint8Array,
  options?: { fsync?: boolean },
) => Promise<void>;

const PAYLOAD = 200_000; // three times what the file system holds

let tmpfs: Mounted;
beforeAll(async () => {
  tmpfs = await mountTmpfs('64k');
});
afterAll(async () => {
  if (tmpfs.ok) await tmpfs.unmount();
});
beforeEach(async () => {
  if (!tmpfs.ok) return;
  for (const name of await readdir(tmpfs.dir)) await rm(join(tmpfs.dir, name), { recursive: true });
});

function mounted(ctx: TestContext): string {
  if (!tmpfs.ok) ctx.skip(tmpfs.reason);
  return (tmpfs as { dir: string }).dir;
}

describe('a full disk', () => {
  it('atomicWriteFile rejects with ENOSPC, keeps the old content and leaves no temp file', async (ctx) => {
    const dir = mounted(ctx);
    const file = join(dir, 'config');
    await atomicWriteFile(file, 'v1');
    const error = await atomicWriteFile(file, Buffer.alloc(PAYLOAD, 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ENOSPC', syscall: 'write' });
    expect(await readFile(file, 'utf8')).toBe('v1');
    expect(await readdir(dir)).toEqual(['config']);
    // The space is back: a write that fits succeeds.
    await atomicWriteFile(file, Buffer.alloc(20_000, 2));
    expect((await stat(file)).size).toBe(20_000);
  });

  it('atomicWriteFile rejects with ENOSPC when the disk is already full and nothing fits', async (ctx) => {
    const dir = mounted(ctx);
    const filler = join(dir, 'filler');
    await atomicWriteFile(join(dir, 'config'), 'v1');
    // Fill what is left with a plain write (which loops and stops at ENOSPC).
    await expect(writeFile(filler, Buffer.alloc(PAYLOAD))).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(atomicWriteFile(join(dir, 'config'), 'v2 is longer')).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await readFile(join(dir, 'config'), 'utf8')).toBe('v1');
    expect((await readdir(dir)).sort()).toEqual(['config', 'filler']);
  });

  it('regression: write-file-atomic 7.0.1 resolves and leaves a truncated file (why we do not use it)', async (ctx) => {
    const dir = mounted(ctx);
    const file = join(dir, 'config');
    await writeFileAtomic(file, 'v1', { fsync: true });
    await writeFileAtomic(file, Buffer.alloc(PAYLOAD, 1), { fsync: true }); // resolves: no error
    const { size } = await stat(file);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(PAYLOAD); // the good 'v1' is gone, replaced by a cut-off file
  });

  it('regression: atomically 2.1.1 resolves and leaves a truncated file too', async (ctx) => {
    const dir = mounted(ctx);
    const file = join(dir, 'config');
    await atomicallyWriteFile(file, 'v1');
    await atomicallyWriteFile(file, Buffer.alloc(PAYLOAD, 1));
    const { size } = await stat(file);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(PAYLOAD);
  });
});
