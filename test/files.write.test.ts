/**
 * atomicWriteFile on the real file system: content, modes, owners, symlinks, directories, bad
 * input, abort, skipIfUnchanged, the per-path queue, stale temp files, the temp file's mode while
 * it exists, diagnostics, and a reader in a tight loop that must only ever see whole versions.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, watch, type FSWatcher } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWriteFile, contentHash, type AtomicWriteEvent } from 'ridethrough/files';
import { classify } from 'ridethrough/classify';
import { diagnosticsChannels } from 'ridethrough';
import { paddingLength, recogniseVersion, versionContent } from './support/file-versions.js';
import { bindMountFile } from './support/mount.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');
const tempFiles = async (directory = dir): Promise<string[]> =>
  (await readdir(directory)).filter((name) => name.endsWith('.ridethrough-tmp'));

/** Resolves with the first temp file name created in `directory` while the returned watcher runs. */
function watchForTemp(directory: string): { name: Promise<string>; close(): void } {
  let watcher: FSWatcher | undefined;
  const name = new Promise<string>((resolve) => {
    watcher = watch(directory, (_event, filename) => {
      if (filename?.endsWith('.ridethrough-tmp')) resolve(filename);
    });
  });
  return { name, close: () => watcher?.close() };
}

describe('atomicWriteFile: content and result', () => {
  it('creates a file with the exact bytes and returns written:true and the sha256', async () => {
    const file = join(dir, 'config.json');
    const result = await atomicWriteFile(file, '{"a":1}\n');
    expect(result).toEqual({ written: true, hash: sha256('{"a":1}\n'), directorySynced: true });
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n');
    expect(await tempFiles()).toEqual([]);
  });

  it('replaces an existing file, writes bytes and encoded strings, and accepts a file: URL', async () => {
    const file = join(dir, 'data.bin');
    await writeFile(file, 'old content that is longer than the new one');
    const bytes = Uint8Array.from([0, 1, 2, 255, 254]);
    expect((await atomicWriteFile(pathToFileURL(file), bytes)).hash).toBe(sha256(bytes));
    expect([...(await readFile(file))]).toEqual([0, 1, 2, 255, 254]);
    // A view into a larger buffer: only its own bytes are written and hashed.
    const view = new Uint8Array(Uint8Array.from([9, 9, 9, 1, 2, 3, 9]).buffer, 3, 3);
    expect((await atomicWriteFile(file, view)).hash).toBe(sha256(Uint8Array.from([1, 2, 3])));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    expect((await atomicWriteFile(file, view, { skipIfUnchanged: true })).written).toBe(false);
    await atomicWriteFile(file, 'aGVsbG8=', { encoding: 'base64' });
    expect(await readFile(file, 'utf8')).toBe('hello');
    await atomicWriteFile(file, '');
    expect((await stat(file)).size).toBe(0);
  });

  it('returns the same hash as contentHash for the same content', async () => {
    const file = join(dir, 'f');
    const { hash } = await atomicWriteFile(file, 'héllo wörld');
    expect(hash).toBe(contentHash('héllo wörld'));
    expect(hash).toBe(sha256(await readFile(file)));
  });

  it('property: any content and size round-trips exactly, leaves no temp file and keeps the mode', async () => {
    const file = join(dir, 'prop.bin');
    await writeFile(file, 'seed', { mode: 0o640 });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.uint8Array({ minLength: 60_000, maxLength: 300_000 }),
          fc.string({ unit: 'binary', maxLength: 2000 }),
        ),
        fc.boolean(),
        async (content, durable) => {
          const { written, hash } = await atomicWriteFile(file, content, { durable });
          const onDisk = await readFile(file);
          const expected = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
          expect(written).toBe(true);
          expect(onDisk.equals(expected)).toBe(true);
          expect(hash).toBe(sha256(expected));
          expect((await stat(file)).mode & 0o777).toBe(0o640);
          expect(await tempFiles()).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('atomicWriteFile: mode and owner', () => {
  it('keeps the mode of the file it replaces', async () => {
    const file = join(dir, 'kept');
    await writeFile(file, 'v1', { mode: 0o640 });
    await atomicWriteFile(file, 'v2');
    expect((await stat(file)).mode & 0o7777).toBe(0o640);
  });

  it('applies an explicit mode exactly, whatever the umask', async () => {
    const previous = process.umask(0o077);
    try {
      const file = join(dir, 'explicit');
      await atomicWriteFile(file, 'x', { mode: 0o644 });
      expect((await stat(file)).mode & 0o7777).toBe(0o644);
      await atomicWriteFile(file, 'y', { mode: 0o600 });
      expect((await stat(file)).mode & 0o7777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('gives a new file 0o666 minus the umask, like fs.writeFile', async () => {
    const previous = process.umask(0o027);
    try {
      await atomicWriteFile(join(dir, 'new'), 'x');
      await writeFile(join(dir, 'reference'), 'x');
      expect((await stat(join(dir, 'new'))).mode & 0o7777).toBe(0o640);
      expect((await stat(join(dir, 'reference'))).mode & 0o7777).toBe(0o640);
    } finally {
      process.umask(previous);
    }
  });

  it('keeps the owner of the file it replaces when running as root', async (ctx) => {
    if (process.geteuid?.() !== 0) ctx.skip('only root can give a file to another owner');
    const file = join(dir, 'owned');
    await writeFile(file, 'v1', { mode: 0o600 });
    await chown(file, 4321, 4322);
    await atomicWriteFile(file, 'v2');
    const after = await stat(file);
    expect([after.uid, after.gid, after.mode & 0o777]).toEqual([4321, 4322, 0o600]);
    expect(await readFile(file, 'utf8')).toBe('v2');
  });

  it('creates the temp file with the final mode: a 0600 target is never readable by others, even mid-write', async () => {
    // umask 0 so that nothing but the writer itself keeps the temp file private.
    const previous = process.umask(0);
    const file = join(dir, 'kubeconfig');
    await writeFile(file, 'token: old', { mode: 0o600 });
    const modes: number[] = [];
    const sizes: number[] = [];
    let tempPath: string | undefined;
    const sample = (): void => {
      if (tempPath === undefined) return;
      try {
        const s = statSync(tempPath);
        modes.push(s.mode & 0o7777);
        sizes.push(s.size);
      } catch {
        // already renamed
      }
    };
    // Catch the temp file the moment inotify reports its creation, then keep sampling it
    // between the writer's steps until the write is done.
    const watcher = watch(dir, (_event, filename) => {
      if (tempPath === undefined && filename?.endsWith('.ridethrough-tmp')) {
        tempPath = join(dir, filename);
        sample();
      }
    });
    let done = false;
    const poll = (): void => {
      sample();
      if (!done) setImmediate(poll);
    };
    poll();
    try {
      await atomicWriteFile(file, `token: ${'s'.repeat(48 * 1024 * 1024)}`);
    } finally {
      done = true;
      watcher.close();
      process.umask(previous);
    }
    expect(tempPath).toBeDefined();
    expect(modes.length).toBeGreaterThan(0);
    expect(new Set(modes)).toEqual(new Set([0o600]));
    expect(sizes.some((size) => size > 0)).toBe(true); // seen while holding secret bytes
    expect((await stat(file)).mode & 0o7777).toBe(0o600);
  });
});

describe('atomicWriteFile: symlinks, directories, bad input', () => {
  it('writes through a symlink to the file it points to, and the link stays a link', async () => {
    await mkdir(join(dir, 'real'));
    await writeFile(join(dir, 'real', 'config'), 'v1', { mode: 0o600 });
    await symlink('real/config', join(dir, 'link'));
    await atomicWriteFile(join(dir, 'link'), 'v2');
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dir, 'link'))).toBe('real/config');
    expect(await readFile(join(dir, 'real', 'config'), 'utf8')).toBe('v2');
    expect((await stat(join(dir, 'real', 'config'))).mode & 0o777).toBe(0o600);
    expect(await tempFiles(join(dir, 'real'))).toEqual([]);
  });

  it('creates the file a dangling symlink points to, through a chain of links', async () => {
    await mkdir(join(dir, 'sub'));
    await symlink('sub/target', join(dir, 'second'));
    await symlink('second', join(dir, 'first'));
    await atomicWriteFile(join(dir, 'first'), 'created');
    expect(await readFile(join(dir, 'sub', 'target'), 'utf8')).toBe('created');
    expect((await lstat(join(dir, 'first'))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(dir, 'second'))).isSymbolicLink()).toBe(true);
  });

  it('rejects a symlink loop with ELOOP', async () => {
    await symlink('b', join(dir, 'a'));
    await symlink('a', join(dir, 'b'));
    await expect(atomicWriteFile(join(dir, 'a'), 'x')).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('names a missing directory, and creates it with mkdir: true', async () => {
    const file = join(dir, 'missing', 'deeper', 'config');
    const error = await atomicWriteFile(file, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ENOENT', path: join(dir, 'missing', 'deeper') });
    expect((error as Error).message).toContain(`"${join(dir, 'missing', 'deeper')}" does not exist`);
    expect((error as Error).message).toContain('mkdir: true');
    expect(await readdir(dir)).toEqual([]);

    await atomicWriteFile(file, 'x', { mkdir: true });
    expect(await readFile(file, 'utf8')).toBe('x');
  });

  it('rejects a directory target with EISDIR and leaves it alone', async () => {
    await mkdir(join(dir, 'adir'));
    await writeFile(join(dir, 'adir', 'inside'), 'keep');
    await expect(atomicWriteFile(join(dir, 'adir'), 'x')).rejects.toMatchObject({
      code: 'EISDIR',
      message: expect.stringContaining('is a directory'),
    });
    await expect(atomicWriteFile(`${join(dir, 'adir')}/`, 'x')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(atomicWriteFile(`${join(dir, 'nothing-yet')}/`, 'x')).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await readdir(join(dir, 'adir'))).toEqual(['inside']);
    expect((await readdir(dir)).sort()).toEqual(['adir']);
  });

  it('refuses to replace a FIFO or a socket, which a rename would turn into a regular file', async () => {
    const fifo = join(dir, 'fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    await expect(atomicWriteFile(fifo, 'x')).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringContaining('is a FIFO') });
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    const socketPath = join(dir, 'socket');
    const server = createServer().listen(socketPath);
    await once(server, 'listening');
    try {
      await expect(atomicWriteFile(socketPath, 'x')).rejects.toMatchObject({ message: expect.stringContaining('is a socket') });
      expect((await lstat(socketPath)).isSocket()).toBe(true);
    } finally {
      server.close();
    }
    expect(await tempFiles()).toEqual([]);
  });

  it('rejects, never throws at the call, naming the argument or option, for bad input', async () => {
    const file = join(dir, 'f');
    const call = (...args: unknown[]) => (atomicWriteFile as (...a: unknown[]) => Promise<unknown>)(...args);
    await expect(call(42, 'x')).rejects.toThrow(new TypeError('atomicWriteFile(): "path" must be a string or a file: URL, got 42'));
    await expect(call('', 'x')).rejects.toThrow(/"path" must not be empty/);
    await expect(call(new URL('https://example.com/f'), 'x')).rejects.toThrow(/"path" must be a file: URL, got https: URL/);
    await expect(call(file, 42)).rejects.toThrow(new TypeError('atomicWriteFile(): "data" must be a string, a Buffer or a Uint8Array, got 42'));
    await expect(call(file, { a: 1 })).rejects.toThrow(/"data" must be a string, a Buffer or a Uint8Array, got an object/);
    await expect(call(file, undefined)).rejects.toThrow(/"data"/);
    await expect(call(file, new Float32Array(2))).rejects.toThrow(/"data"/);
    await expect(call(file, 'x', 'utf8')).rejects.toThrow(/options must be an object/);
    await expect(call(file, 'x', { mode: '600' })).rejects.toThrow(TypeError);
    await expect(call(file, 'x', { mode: -1 })).rejects.toThrow(new RangeError('atomicWriteFile(): option "mode" must be an integer from 0 to 0o777, got -1'));
    await expect(call(file, 'x', { mode: 0o10000 })).rejects.toThrow(RangeError);
    await expect(call(file, 'x', { mode: 1.5 })).rejects.toThrow(RangeError);
    await expect(call(file, 'x', { durable: 'yes' })).rejects.toThrow(/option "durable" must be a boolean, got "yes"/);
    await expect(call(file, 'x', { skipIfUnchanged: 1 })).rejects.toThrow(/option "skipIfUnchanged"/);
    await expect(call(file, 'x', { mkdir: null })).rejects.toThrow(/option "mkdir"/);
    await expect(call(file, 'x', { encoding: 'klingon' })).rejects.toThrow(RangeError);
    await expect(call(file, 'x', { signal: {} })).rejects.toThrow(/option "signal" must be an AbortSignal/);
    // The issue's own case: a .catch() sees it, nothing escapes past it.
    let caught: unknown;
    expect(() => void atomicWriteFile(file, 12345 as never).catch((error: unknown) => (caught = error))).not.toThrow();
    await expect.poll(() => caught).toBeInstanceOf(TypeError);
    // Unknown names are refused, with the peers' spellings mapped (mkdirp -> mkdir).
    await expect(call(file, 'x', { mkdirp: true })).rejects.toThrow(new TypeError('atomicWriteFile(): unknown option "mkdirp"; did you mean "mkdir"?'));
    await expect(call(file, 'x', { fsync: true })).rejects.toThrow(/unknown option "fsync"/);
    // Only permission bits; a decimal slip gets the octal literal it meant.
    await expect(call(file, 'x', { mode: 600 })).rejects.toThrow(new RangeError('atomicWriteFile(): option "mode" must be an integer from 0 to 0o777, got 600 (0o1130); did you mean 0o600?'));
    await expect(call(file, 'x', { mode: 0o4755 })).rejects.toThrow(/0o777, got 2541 \(0o4755\); write permission bits as an octal literal/);
    await expect(call(file, 'x', { mode: 644 })).rejects.toThrow(/did you mean 0o644\?/);
    // Every optional option accepts undefined explicitly.
    await expect(atomicWriteFile(file, 'x', { mode: undefined, durable: undefined, skipIfUnchanged: undefined, mkdir: undefined, encoding: undefined, signal: undefined })).resolves.toMatchObject({ written: true });
    expect(await tempFiles()).toEqual([]);
  });

  it('rejects with the reason of an already aborted signal and touches nothing', async () => {
    const file = join(dir, 'f');
    await writeFile(file, 'old');
    const reason = new Error('shutting down');
    const controller = new AbortController();
    controller.abort(reason);
    await expect(atomicWriteFile(file, 'new', { signal: controller.signal })).rejects.toBe(reason);
    await expect(atomicWriteFile(join(dir, 'g'), 'new', { signal: controller.signal })).rejects.toBe(reason);
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['f']);
  });

  it('an abort during a large write removes the temp file and leaves the target untouched', async () => {
    const file = join(dir, 'big');
    await writeFile(file, 'old');
    const controller = new AbortController();
    const temp = watchForTemp(dir);
    const writing = atomicWriteFile(file, Buffer.alloc(64 * 1024 * 1024, 7), { signal: controller.signal });
    await temp.name; // the temp file exists: the write is under way
    temp.close();
    controller.abort(new Error('stop'));
    await expect(writing).rejects.toThrow('stop');
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await tempFiles()).toEqual([]);
  });
});

describe('atomicWriteFile: skipIfUnchanged', () => {
  it('writes nothing when the bytes on disk are equal, and writes when they differ', async () => {
    const file = join(dir, 'config');
    await atomicWriteFile(file, 'same');
    const before = await stat(file);
    const skipped = await atomicWriteFile(file, Buffer.from('same'), { skipIfUnchanged: true });
    expect(skipped).toEqual({ written: false, hash: sha256('same'), directorySynced: false });
    const after = await stat(file);
    expect([after.ino, after.mtimeMs, after.ctimeMs]).toEqual([before.ino, before.mtimeMs, before.ctimeMs]);

    expect((await atomicWriteFile(file, 'sama', { skipIfUnchanged: true })).written).toBe(true);
    expect(await readFile(file, 'utf8')).toBe('sama');
    expect((await atomicWriteFile(file, 'longer', { skipIfUnchanged: true })).written).toBe(true);
    expect((await atomicWriteFile(join(dir, 'new'), 'x', { skipIfUnchanged: true })).written).toBe(true);
  });

  it('compares through a symlink, and never hangs on a FIFO or mistakes a directory for content', async () => {
    await writeFile(join(dir, 'real'), 'same');
    await symlink('real', join(dir, 'link'));
    expect((await atomicWriteFile(join(dir, 'link'), 'same', { skipIfUnchanged: true })).written).toBe(false);
    expect((await atomicWriteFile(join(dir, 'link'), 'new', { skipIfUnchanged: true })).written).toBe(true);
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, 'real'), 'utf8')).toBe('new');

    const fifo = join(dir, 'fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    await expect(atomicWriteFile(fifo, '', { skipIfUnchanged: true })).rejects.toMatchObject({ code: 'EINVAL' });
    await mkdir(join(dir, 'adir'));
    await expect(atomicWriteFile(join(dir, 'adir'), '', { skipIfUnchanged: true })).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('wakes no watcher when nothing changed', async () => {
    const file = join(dir, 'watched');
    await atomicWriteFile(file, 'same');
    const events: string[] = [];
    const watcher = watch(dir, (event, name) => events.push(`${event}:${name}`));
    try {
      await atomicWriteFile(file, 'same', { skipIfUnchanged: true });
      // A sentinel write after it: once its events arrive, any from the skipped write would have too.
      await atomicWriteFile(join(dir, 'sentinel'), 'x');
      await expect.poll(() => events.some((e) => e.endsWith(':sentinel')), { timeout: 5000 }).toBe(true);
    } finally {
      watcher.close();
    }
    expect(events.filter((e) => e.includes('watched'))).toEqual([]);
  });

  it('still writes when an explicit mode differs from the file, same bytes or not', async () => {
    const file = join(dir, 'secret');
    await atomicWriteFile(file, 'token', { mode: 0o644 });
    const result = await atomicWriteFile(file, 'token', { skipIfUnchanged: true, mode: 0o600 });
    expect(result.written).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await atomicWriteFile(file, 'token', { skipIfUnchanged: true, mode: 0o600 })).written).toBe(false);
  });
});

describe('atomicWriteFile: concurrency', () => {
  it('runs calls for one path in call order; the last one wins', async () => {
    const file = join(dir, 'queue');
    const settled: number[] = [];
    const calls = Array.from({ length: 25 }, (_, i) =>
      atomicWriteFile(file, `${i}:${'x'.repeat((i * 7919) % 50_000)}`).then(() => settled.push(i)),
    );
    await Promise.all(calls);
    expect(settled).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect((await readFile(file, 'utf8')).startsWith('24:')).toBe(true);
    expect(await tempFiles()).toEqual([]);
  });

  it('the same file through a relative and an absolute path shares one queue', async () => {
    const file = join(dir, 'q2');
    const order: string[] = [];
    await Promise.all([
      atomicWriteFile(file, 'a'.repeat(1_000_000)).then(() => order.push('absolute')),
      atomicWriteFile(relative(process.cwd(), file), 'b').then(() => order.push('relative')),
    ]);
    expect(order).toEqual(['absolute', 'relative']);
    expect(await readFile(file, 'utf8')).toBe('b');
  });

  it('an abort while waiting behind another write rejects before that write ends and writes nothing', async () => {
    const file = join(dir, 'queued');
    const order: string[] = [];
    const controller = new AbortController();
    const first = atomicWriteFile(file, Buffer.alloc(32 * 1024 * 1024, 1)).then(() => order.push('first done'));
    const second = atomicWriteFile(file, 'second', { signal: controller.signal }).catch((error: unknown) => {
      order.push(`second rejected: ${(error as Error).message}`);
    });
    const third = atomicWriteFile(file, 'third').then(() => order.push('third done'));
    controller.abort(new Error('not needed any more'));
    await Promise.all([first, second, third]);
    expect(order).toEqual(['second rejected: not needed any more', 'first done', 'third done']);
    expect(await readFile(file, 'utf8')).toBe('third');
  });

  it('property: concurrent calls settle in call order and the file ends with the last content', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40_000 }), { minLength: 1, maxLength: 8 }), async (contents) => {
        const file = join(dir, 'concurrent');
        const settled: number[] = [];
        await Promise.all(contents.map((c, i) => atomicWriteFile(file, c, { durable: false }).then(() => settled.push(i))));
        expect(settled).toEqual(contents.map((_, i) => i));
        expect((await readFile(file)).equals(Buffer.from(contents.at(-1)!))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('a reader in a tight loop in another process only ever sees whole versions', async () => {
    const file = join(dir, 'live.json');
    await atomicWriteFile(file, versionContent(0));
    // The reader is a separate process so that it truly runs in parallel with the writer.
    const reader = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { readFileSync, existsSync } from 'node:fs';
        const [file, stopFile] = process.argv.slice(1);
        const seen = new Map();
        let reads = 0;
        while (!existsSync(stopFile)) {
          const text = readFileSync(file, 'utf8');
          reads++;
          seen.set(text.length, text.slice(0, 40) + '|' + text.slice(-20));
          if (seen.size > 5000) break;
          if (reads % 50 === 0) process.stdout.write(JSON.stringify({ reads, samples: [...seen.values()] }) + '\\n'), seen.clear();
        }
        process.stdout.write(JSON.stringify({ reads, samples: [...seen.values()] }) + '\\n');
        `,
        file,
        join(dir, 'stop'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    reader.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => reader.on('exit', resolve));
    for (let n = 1; n <= 150; n++) await atomicWriteFile(file, versionContent(n), { durable: n % 2 === 0 });
    await writeFile(join(dir, 'stop'), '');
    expect(await exited).toBe(0);

    // Every sample is the head and tail of one read; check each is one whole version.
    const reports = output.trim().split('\n').map((line) => JSON.parse(line) as { reads: number; samples: string[] });
    const samples = reports.flatMap((r) => r.samples);
    const versions = new Set<number>();
    for (const sample of samples) {
      const match = /^\{"version":(\d+),"padding":"/.exec(sample);
      expect(match, sample).not.toBeNull();
      const version = Number(match![1]);
      const fill = String.fromCharCode(97 + (version % 26));
      const expectedTail = `${fill.repeat(Math.min(18, paddingLength(version)))}"}\n`.slice(-20);
      expect(sample.endsWith(expectedTail), sample).toBe(true);
      versions.add(version);
    }
    expect(reports.at(-1)!.reads).toBeGreaterThan(50);
    expect(versions.size).toBeGreaterThan(1);
    // And the final file is the last version, whole.
    expect(recogniseVersion(await readFile(file, 'utf8'))).toEqual({ version: 150 });
  });
});

describe('atomicWriteFile: temp files', () => {
  interface Owner {
    tag: string;
    pid: number;
    start: string;
  }
  /** Our temp files are `.<name>.<tag>-<pid>-<start>-<8 hex>.ridethrough-tmp`; learn this process's owner part from a real one. */
  async function ownOwner(): Promise<Owner> {
    const probeDir = await mkdtemp(join(dir, 'probe-'));
    const temp = watchForTemp(probeDir);
    await atomicWriteFile(join(probeDir, 'p'), 'x');
    const name = await temp.name;
    temp.close();
    const match = /^\.p\.([0-9a-f]{8})-(\d+)-([0-9a-z]+)-[0-9a-f]{8}\.ridethrough-tmp$/.exec(name);
    expect(match, name).not.toBeNull();
    expect(match![2]).toBe(String(process.pid));
    await rm(probeDir, { recursive: true });
    return { tag: match![1]!, pid: Number(match![2]), start: match![3]! };
  }

  /** A process's start time as temp names carry it: field 22 of /proc/<pid>/stat, in base 36. */
  const startOf = (pid: number | 'self'): string => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]).toString(36);
  };

  /** The tag 0.1.0 gave this process: a hash of the host name and the pid namespace. */
  const legacyTag = (): string => sha256(`${hostname()}\0${readlinkSync('/proc/self/ns/pid')}`).slice(0, 8);

  /** A process that ran and exited: its pid (free again) and its start time (another incarnation's). */
  async function deadProcess(): Promise<{ pid: number; start: string }> {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    await once(child, 'spawn');
    const start = startOf(child.pid!);
    child.kill('SIGKILL');
    await once(child, 'exit');
    return { pid: child.pid!, start };
  }

  it.skipIf(!existsSync('/proc/self/stat'))(
    'the first write to a file in a process removes temp files of dead writers of that file, and only those',
    async () => {
      const { tag, start } = await ownOwner();
      expect(start).toBe(startOf('self'));
      const file = join(dir, 'config.yaml');
      await writeFile(file, 'v1');
      const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
      try {
        await once(sleeper, 'spawn');
        const dead = await deadProcess();
        const live = { pid: sleeper.pid!, start: startOf(sleeper.pid!) };
        const foreignTag = tag === 'ffffffff' ? 'eeeeeeee' : 'ffffffff';
        const old = legacyTag();
        const names = {
          dead: `.config.yaml.${tag}-${dead.pid}-${dead.start}-01234567.ridethrough-tmp`,
          live: `.config.yaml.${tag}-${live.pid}-${live.start}-01234567.ridethrough-tmp`,
          // The live pid, but another incarnation's start time (a second before this one's): that
          // writer died and its pid went to someone else.
          livePidReused: `.config.yaml.${tag}-${live.pid}-${(parseInt(live.start, 36) - 100).toString(36)}-01234567.ridethrough-tmp`,
          ours: `.config.yaml.${tag}-${process.pid}-${start}-01234567.ridethrough-tmp`,
          // Our pid, another start time: an earlier incarnation that had our pid (a previous pid 1).
          ourPidEarlier: `.config.yaml.${tag}-${process.pid}-${dead.start}-01234567.ridethrough-tmp`,
          foreignFresh: `.config.yaml.${foreignTag}-${dead.pid}-${dead.start}-01234567.ridethrough-tmp`,
          foreignOld: `.config.yaml.${foreignTag}-${dead.pid}-${dead.start}-aaaaaaaa.ridethrough-tmp`,
          // 0.1.0's names, `<tag>-<pid>-<12 hex>`:
          legacyDead: `.config.yaml.${old}-${dead.pid}-0123456789ab.ridethrough-tmp`,
          legacyLive: `.config.yaml.${old}-${live.pid}-0123456789ab.ridethrough-tmp`,
          legacyOurPid: `.config.yaml.${old}-${process.pid}-0123456789ab.ridethrough-tmp`,
          legacyOurPidOld: `.config.yaml.${old}-${process.pid}-aaaaaaaaaaaa.ridethrough-tmp`,
          legacyForeignOld: `.config.yaml.${foreignTag}-${dead.pid}-aaaaaaaaaaaa.ridethrough-tmp`,
          otherTarget: `.other.${tag}-${dead.pid}-${dead.start}-01234567.ridethrough-tmp`,
          userLookalike: `.config.yaml.${tag}-${dead.pid}-${dead.start}-01234567.ridethrough-tmp.bak`,
          userFile: `config.yaml.tmp`,
        };
        for (const name of Object.values(names)) await writeFile(join(dir, name), 'partial');
        const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
        for (const name of [names.foreignOld, names.legacyOurPidOld, names.legacyForeignOld]) {
          await utimes(join(dir, name), twoHoursAgo, twoHoursAgo);
        }

        await atomicWriteFile(file, 'v2');
        const left = new Set(await readdir(dir));
        const removed = [names.dead, names.livePidReused, names.ourPidEarlier, names.foreignOld];
        const removedLegacy = [names.legacyDead, names.legacyOurPidOld, names.legacyForeignOld];
        for (const gone of [...removed, ...removedLegacy]) expect(left.has(gone), gone).toBe(false);
        const kept = [names.live, names.ours, names.foreignFresh, names.otherTarget, names.userLookalike, names.userFile];
        // A fresh 0.1.0 name with a live pid, ours included, may be an older copy of the library still writing.
        const keptLegacy = [names.legacyLive, names.legacyOurPid];
        for (const stays of [...kept, ...keptLegacy]) expect(left.has(stays), stays).toBe(true);
        expect(await readFile(file, 'utf8')).toBe('v2');

        // Later writes in this process sweep at most once a minute: a new leftover waits for that.
        await writeFile(join(dir, names.dead), 'partial');
        await atomicWriteFile(file, 'v3');
        expect((await readdir(dir)).includes(names.dead)).toBe(true);
      } finally {
        sleeper.kill();
      }
    },
  );

  it.skipIf(!existsSync('/proc/self/stat'))(
    'removes a temp file of an earlier incarnation that had this very pid, and keeps this one\'s own',
    async () => {
      const { tag, start } = await ownOwner();
      const earlier = await deadProcess(); // a real start time of another incarnation
      const file = join(dir, 'pid1.state');
      const leftover = `.pid1.state.${tag}-${process.pid}-${earlier.start}-89abcdef.ridethrough-tmp`;
      const concurrent = `.pid1.state.${tag}-${process.pid}-${start}-89abcdef.ridethrough-tmp`;
      await writeFile(join(dir, leftover), 'a dead pid 1 was writing this');
      await writeFile(join(dir, concurrent), 'this process is writing this');
      await atomicWriteFile(file, 'v1');
      const left = await readdir(dir);
      expect(left).not.toContain(leftover);
      expect(left).toContain(concurrent);
    },
  );

  it('keeps temp names within NAME_MAX for a very long file name', async () => {
    const file = join(dir, `${'n'.repeat(250)}`);
    await atomicWriteFile(file, 'long');
    expect(await readFile(file, 'utf8')).toBe('long');
    expect(await tempFiles()).toEqual([]);
  });
});

describe('atomicWriteFile: EBUSY on a bind-mounted file', () => {
  it('says the target cannot be replaced by rename, keeps the code and cause, and leaves it intact', async (ctx) => {
    const target = join(dir, 'app.conf');
    const source = join(dir, 'mounted.conf');
    await writeFile(target, 'underneath');
    await writeFile(source, 'from the mount');
    const mount = await bindMountFile(source, target);
    if (!mount.ok) return ctx.skip(mount.reason);
    try {
      const error = await atomicWriteFile(target, 'new').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ code: 'EBUSY', syscall: 'rename', path: target });
      expect((error as Error).message).toMatch(/cannot be replaced by rename \(EBUSY\).*bind mount.*subPath/);
      expect((error as Error).cause).toMatchObject({ code: 'EBUSY' });
      expect(classify(error).kind).toBe('permanent');
      expect(await readFile(target, 'utf8')).toBe('from the mount');
      expect(await tempFiles()).toEqual([]);
    } finally {
      await mount.unmount();
    }
  });
});

describe('atomicWriteFile: diagnostics and leftovers', () => {
  it('publishes one event per call on ridethrough:files:write, failures included', async () => {
    const events: AtomicWriteEvent[] = [];
    const listener = (message: unknown): void => void events.push(message as AtomicWriteEvent);
    subscribe(diagnosticsChannels.files.write, listener);
    try {
      const file = join(dir, 'observed');
      await atomicWriteFile(file, 'abc');
      await atomicWriteFile(file, 'abc', { skipIfUnchanged: true, durable: false });
      await atomicWriteFile(join(dir, 'no', 'dir'), 'abc').catch(() => {});
      expect(events).toHaveLength(3);
      expect(events[0]).toMatchObject({ path: file, target: file, written: true, hash: sha256('abc'), bytes: 3, durable: true });
      expect(events[0]!.elapsedMs).toBeGreaterThanOrEqual(0);
      expect('error' in events[0]!).toBe(false);
      expect(events[1]).toMatchObject({ written: false, durable: false });
      expect(events[2]).toMatchObject({ written: false, target: join(dir, 'no', 'dir'), error: { code: 'ENOENT' } });
    } finally {
      unsubscribe(diagnosticsChannels.files.write, listener);
    }
  });

  it('leaves no file handle, request or timer behind after settling', async () => {
    const file = join(dir, 'clean');
    // An open FileHandle is no "active resource" (only its pending requests are): count the
    // process's open descriptors too. Both are shared with vitest's own work, hence "no more than
    // before", given a few seconds to settle on a loaded machine.
    const openDescriptors = (): number => readdirSync('/proc/self/fd').length;
    const count = (list: string[], kind: string): number => list.filter((r) => r === kind).length;
    const noMoreThan = (before: string[]): boolean => {
      const after = process.getActiveResourcesInfo();
      return [...new Set([...after, ...before])].every((kind) => count(after, kind) <= count(before, kind));
    };
    await new Promise(setImmediate);
    const before = process.getActiveResourcesInfo();
    const descriptorsBefore = openDescriptors();
    await Promise.all([
      atomicWriteFile(file, 'a'),
      atomicWriteFile(file, 'b', { skipIfUnchanged: true }),
      atomicWriteFile(file, 'b', { skipIfUnchanged: true }),
      atomicWriteFile(join(dir, 'missing', 'x'), 'c').catch(() => {}),
      atomicWriteFile(join(dir, 'other'), 'd', { mkdir: true, durable: false }),
      atomicWriteFile(join(dir, 'big'), Buffer.alloc(256 * 1024, 1)), // hashed on the thread pool
    ]);
    await expect.poll(() => openDescriptors(), { timeout: 5000 }).toBeLessThanOrEqual(descriptorsBefore);
    await expect.poll(() => noMoreThan(before), { timeout: 5000 }).toBe(true);
  });
});
