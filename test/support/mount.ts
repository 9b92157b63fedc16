/**
 * Real mounts for the file tests: a small tmpfs to fill up (ENOSPC) and a bind-mounted single
 * file (rename over it fails with EBUSY, as with a Kubernetes subPath mount). Mounting needs
 * root (this machine and CI have it); where it is impossible each helper returns the reason, so
 * the test can skip with a message that says why instead of passing silently.
 *
 * Usage:
 * ```ts
 * const tmpfs = await mountTmpfs('64k');
 * if (!tmpfs.ok) ctx.skip(tmpfs.reason);
 * ...
 * await tmpfs.unmount(); // in afterAll
 * ```
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A mount that worked, or why it could not be made. */
export type Mounted = { ok: true; dir: string; unmount(): Promise<void> } | { ok: false; reason: string };

/** Mounts a fresh tmpfs of `size` (`'64k'`) on a new temp directory. */
export async function mountTmpfs(size: string): Promise<Mounted> {
  const dir = await mkdtemp(join(tmpdir(), 'ridethrough-tmpfs-'));
  const mounted = await mountCommand(['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  if (mounted !== undefined) {
    await rm(dir, { recursive: true, force: true });
    return { ok: false, reason: `cannot mount a tmpfs (needs root): ${mounted}` };
  }
  return {
    ok: true,
    dir,
    async unmount() {
      await run('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Bind-mounts the file `source` onto the existing file `target` (`mount --bind`). */
export async function bindMountFile(source: string, target: string): Promise<Mounted> {
  const mounted = await mountCommand(['--bind', source, target]);
  if (mounted !== undefined) return { ok: false, reason: `cannot bind-mount a file (needs root): ${mounted}` };
  return {
    ok: true,
    dir: target,
    async unmount() {
      await run('umount', [target]);
    },
  };
}

/** Runs mount(8); undefined on success, else what went wrong. */
async function mountCommand(args: string[]): Promise<string | undefined> {
  if (process.platform !== 'linux') return `mount is only used on Linux, this is ${process.platform}`;
  try {
    await run('mount', args, { timeout: 10_000 });
    return undefined;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    return (stderr || message).trim();
  }
}
