/**
 * readFileWithRetry on the real file system: files that appear late, are empty for a moment, are
 * caught half-written (JSON, a PEM certificate), and errors that must fail at once (a directory,
 * a permission error, a parse error marked permanent). Defaults checked with a fake clock.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { bundleForOthers, nodeForOthers, othersMayEnter } from './support/as-nobody.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileWithRetry } from 'ridethrough/files';
import { EmptyFileError, permanent, type Verdict } from 'ridethrough/classify';
import type { Clock, RecoveredEvent, RetryEvent } from 'ridethrough';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-read-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const later = (ms: number, action: () => Promise<unknown>): Promise<unknown> =>
  new Promise((resolve, reject) => setTimeout(() => action().then(resolve, reject), ms));

/** Quick retries so the tests run fast; the behaviour under test does not depend on them. */
const quick = { initialDelayMs: 10, maxDelayMs: 50, deadlineMs: 10_000 } as const;

describe('readFileWithRetry: reading', () => {
  it('returns the text, the raw bytes with encoding: null, or what parse returns', async () => {
    const file = join(dir, 'settings.json');
    await writeFile(file, '{"replicas":3}');
    const text: string = await readFileWithRetry(file);
    expect(text).toBe('{"replicas":3}');
    const bytes: Buffer = await readFileWithRetry(pathToFileURL(file), { encoding: null });
    expect(Buffer.isBuffer(bytes) && bytes.toString()).toBe('{"replicas":3}');
    const parsed = await readFileWithRetry(file, { parse: (t) => JSON.parse(t) as { replicas: number } });
    expect(parsed.replicas).toBe(3);
    const size = await readFileWithRetry(file, { encoding: null, parse: (b) => b.length });
    expect(size).toBe(14);
    await writeFile(file, Buffer.from([0xe9]));
    expect(await readFileWithRetry(file, { encoding: 'latin1' })).toBe('é');
  });

  it('waits for a file that does not exist yet and reports the recovery', async () => {
    const file = join(dir, 'tls.crt');
    const recovered: RecoveredEvent[] = [];
    const appearing = later(80, () => writeFile(file, 'certificate'));
    const content = await readFileWithRetry(file, { ...quick, onRecovered: (event) => recovered.push(event) });
    await appearing;
    expect(content).toBe('certificate');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(recovered[0]!.lastError).toMatchObject({ code: 'ENOENT' });
  });

  it('treats an empty file as mid-rotation (EmptyFileError), unless allowEmpty', async () => {
    const file = join(dir, 'token');
    await writeFile(file, '');
    const recovered: RecoveredEvent[] = [];
    const filling = later(80, () => writeFile(file, 'token-v2'));
    expect(await readFileWithRetry(file, { ...quick, onRecovered: (event) => recovered.push(event) })).toBe('token-v2');
    await filling;
    const lastError = recovered[0]!.lastError;
    expect(lastError).toBeInstanceOf(EmptyFileError);
    expect(lastError).toMatchObject({ name: 'EmptyFileError', code: 'ERR_EMPTY_FILE', path: file });

    await writeFile(file, '');
    expect(await readFileWithRetry(file, { allowEmpty: true })).toBe('');
    expect((await readFileWithRetry(file, { allowEmpty: true, encoding: null })).length).toBe(0);
  });

  it('retries a JSON document caught half-written by a writer that rewrites in place', async () => {
    const file = join(dir, 'config.json');
    const whole = JSON.stringify({ name: 'app', replicas: 3, labels: { tier: 'web' } });
    // A naive writer: truncate, write half, pause, write the rest.
    const handle = await open(file, 'w');
    await handle.write(whole.slice(0, 20));
    const finishing = later(100, async () => {
      await handle.write(whole.slice(20));
      await handle.close();
    });
    const verdicts: Verdict[] = [];
    const parsed = await readFileWithRetry(file, {
      ...quick,
      parse: (text) => JSON.parse(text) as { replicas: number },
      onRetry: (event) => verdicts.push(event.verdict),
    });
    await finishing;
    expect(parsed.replicas).toBe(3);
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((v) => v.kind === 'transient')).toBe(true);
    expect(verdicts.map((v) => v.reason)).toContain('truncated JSON');
  });

  it('retries a PEM certificate caught half-written until it is whole', async (ctx) => {
    const pem = await selfSignedCertificate().catch(() => undefined);
    if (pem === undefined) return ctx.skip('openssl is not available to make a certificate');
    const file = join(dir, 'tls.crt');
    await writeFile(file, pem.slice(0, pem.length >> 1));
    const finishing = later(100, () => writeFile(file, pem));
    const reasons: string[] = [];
    const certificate = await readFileWithRetry(file, {
      ...quick,
      parse: (text) => new X509Certificate(text),
      onRetry: (event) => reasons.push(event.verdict.reason),
    });
    await finishing;
    expect(certificate.subject).toBe('CN=ridethrough-test');
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.every((r) => r.startsWith('PEM'))).toBe(true);
  });

  it('counts any error from parse as mid-rotation', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, '{"replicas":0}');
    const reasons: string[] = [];
    const fixing = later(80, () => writeFile(file, '{"replicas":2}'));
    const config = await readFileWithRetry(file, {
      ...quick,
      parse: (text) => {
        const value = JSON.parse(text) as { replicas: number };
        if (value.replicas < 1) throw new Error('replicas must be >= 1');
        return value;
      },
      onRetry: (event) => reasons.push(event.verdict.reason),
    });
    await fixing;
    expect(config.replicas).toBe(2);
    expect(reasons[0]).toBe('parse failed (file mid-rotation?)');
  });
});

describe('readFileWithRetry: failing at once', () => {
  it('rejects at once with the very error parse marked permanent()', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, '{"replicas":0}');
    const invalid = permanent(new RangeError('replicas must be >= 1'));
    const retries: RetryEvent[] = [];
    const error = await readFileWithRetry(file, {
      ...quick,
      parse: () => {
        throw invalid;
      },
      onRetry: (event) => retries.push(event),
    }).catch((e: unknown) => e);
    expect(error).toBe(invalid);
    expect(retries).toEqual([]);
  });

  it('rejects at once with EISDIR for a directory', async () => {
    await mkdir(join(dir, 'certs'));
    const retries: RetryEvent[] = [];
    await expect(readFileWithRetry(join(dir, 'certs'), { ...quick, onRetry: (e) => retries.push(e) })).rejects.toMatchObject({
      code: 'EISDIR',
    });
    expect(retries).toEqual([]);
  });

  it('rejects at once with EACCES for a file it may not read', async ({ skip }) => {
    const file = join(dir, 'secret');
    await writeFile(file, 'token');
    await chmod(file, 0o600);
    await chmod(dir, 0o755);
    if (process.geteuid?.() !== 0) {
      await chmod(file, 0o000);
      const retries: RetryEvent[] = [];
      await expect(readFileWithRetry(file, { ...quick, onRetry: (e) => retries.push(e) })).rejects.toMatchObject({ code: 'EACCES' });
      expect(retries).toEqual([]);
      return;
    }
    // Root reads anything: ask a child running as nobody. The clone may sit where nobody may not
    // enter (`mktemp -d` makes 0700 directories), so the child does not load tsx or anything else
    // from it: it runs as one bundled file, in a directory of its own that everyone may read.
    const node = nodeForOthers();
    if (node === undefined || !othersMayEnter(dir)) {
      return skip(`uid 65534 cannot reach ${node === undefined ? 'a Node binary' : tmpdir()}: no child to read as nobody`);
    }
    const childDir = await mkdtemp(join(tmpdir(), 'ridethrough-read-child-'));
    try {
      await chmod(childDir, 0o755);
      const child = await bundleForOthers(fileURLToPath(new URL('./support/read-file-child.ts', import.meta.url)), childDir);
      const { stdout } = await promisify(execFile)(node, [child, file], { cwd: childDir, uid: 65534, gid: 65534, timeout: 20_000 });
      expect(JSON.parse(stdout)).toEqual({ code: 'EACCES', name: 'Error', retries: 0 });
    } finally {
      await rm(childDir, { recursive: true, force: true });
    }
  });

  it('uses a classify of the caller for read errors', async () => {
    const retries: RetryEvent[] = [];
    await expect(
      readFileWithRetry(join(dir, 'missing'), {
        ...quick,
        classify: () => ({ kind: 'permanent', reason: 'no waiting here' }),
        onRetry: (e) => retries.push(e),
      }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
    expect(retries).toEqual([]);
  });
});

describe('readFileWithRetry: budget and cancellation', () => {
  it('by default retries for 2 minutes (no attempt limit, waits of at most 5 s), then rejects with the last error', async () => {
    // A fake clock on which time moves only when retry waits between attempts (it announces each
    // wait through onRetry just before sleeping): that wait passes at once. Any other sleep (the
    // overall deadline) stays pending until time reaches it. The wait is known by its length: a
    // wait that a change in the directory ends before it starts never reaches the clock, and must
    // not make the next sleep (an attempt's deadline timer) pass for it.
    let now = 0;
    let announcedWaitMs: number | undefined;
    const pending = new Set<{ at: number; fire: () => void }>();
    const clock: Clock = {
      now: () => now,
      sleep: (ms, signal) =>
        new Promise<void>((resolve, reject) => {
          if (ms === announcedWaitMs) {
            announcedWaitMs = undefined;
            now += ms;
            for (const timer of pending) if (timer.at <= now) timer.fire();
            resolve();
            return;
          }
          const timer = { at: now + ms, fire: () => (pending.delete(timer), resolve()) };
          pending.add(timer);
          signal?.addEventListener('abort', () => (pending.delete(timer), reject(signal.reason)), { once: true });
        }),
    };
    const retries: RetryEvent[] = [];
    const onRetry = (event: RetryEvent): void => {
      retries.push(event);
      announcedWaitMs = event.delayMs;
    };
    const error = await readFileWithRetry(join(dir, 'never'), { clock, onRetry }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOENT' });
    expect(retries.length).toBeGreaterThan(10);
    expect(Math.max(...retries.map((r) => r.delayMs))).toBeLessThanOrEqual(5000);
    expect(now).toBeLessThan(120_000);
    expect(now).toBeGreaterThan(120_000 - 2 * 5000); // gave up only when the next wait would pass the deadline
  });

  it('honours a shorter deadline', async () => {
    const started = performance.now();
    const error = await readFileWithRetry(join(dir, 'never'), { initialDelayMs: 10, deadlineMs: 300 }).catch((e: unknown) => e);
    const lastError = (error as { name?: string }).name === 'TimeoutError' ? (error as Error).cause : error;
    expect(lastError).toMatchObject({ code: 'ENOENT' });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('an abort mid-wait rejects with the reason and leaves no timer behind', async () => {
    await new Promise(setImmediate);
    const before = process.getActiveResourcesInfo();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    let waiting!: () => void;
    const waitStarted = new Promise<void>((resolve) => (waiting = resolve));
    const reading = readFileWithRetry(join(dir, 'never'), {
      initialDelayMs: 10_000,
      maxDelayMs: 10_000,
      jitter: 'none',
      signal: controller.signal,
      onRetry: () => waiting(),
    });
    await waitStarted; // the first read failed; now it waits 10 s
    const started = performance.now();
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5000);
    await new Promise(setImmediate);
    expect(process.getActiveResourcesInfo()).toEqual(before);
  });
});

describe('readFileWithRetry: bad input', () => {
  it('rejects, never throws at the call, naming the argument or option', async () => {
    const call = (...args: unknown[]) => (readFileWithRetry as (...a: unknown[]) => Promise<unknown>)(...args);
    await expect(call(7)).rejects.toThrow(new TypeError('readFileWithRetry(): "path" must be a string or a file: URL, got 7'));
    await expect(call('')).rejects.toThrow(/"path" must not be empty/);
    await expect(call('f', { encoding: 'nope' })).rejects.toThrow(RangeError);
    await expect(call('f', { encoding: 5 })).rejects.toThrow(/option "encoding"/);
    await expect(call('f', { parse: 'JSON' })).rejects.toThrow(/option "parse" must be a function/);
    await expect(call('f', { allowEmpty: 'no' })).rejects.toThrow(/option "allowEmpty" must be a boolean/);
    await expect(call('f', { classify: {} })).rejects.toThrow(/option "classify" must be a function/);
    await expect(call('f', { maxAttempts: 0 })).rejects.toThrow(RangeError);
    await expect(call('f', { deadlineMs: -1 })).rejects.toThrow(/deadlineMs/);
    await expect(call('f', [])).rejects.toThrow(/options must be an object/);
    await expect(call('f', { retries: 2 })).rejects.toThrow(/unknown option "retries".*maxAttempts/);
    await expect(call('f', { encodng: 'utf8' })).rejects.toThrow(/unknown option "encodng"; did you mean "encoding"\?/);
    await expect(call('f', { name: 7 })).rejects.toThrow(new TypeError('readFileWithRetry(): option "name" must be a string, got 7'));
    let caught: unknown;
    expect(() => void readFileWithRetry(7 as never).catch((error: unknown) => (caught = error))).not.toThrow();
    await expect.poll(() => caught).toBeInstanceOf(TypeError);
    // A first wait longer than the default 5 s cap is accepted: the cap rises to meet it.
    expect(() => void readFileWithRetry(join(dir, 'f'), { initialDelayMs: 10_000, maxAttempts: 1 }).catch(() => {})).not.toThrow();
  });
});

/** A fresh self-signed certificate (PEM) from the openssl command line. */
async function selfSignedCertificate(): Promise<string> {
  const child = spawn(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=ridethrough-test', '-days', '1'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let pem = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (pem += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0 || !pem.includes('BEGIN CERTIFICATE')) throw new Error(`openssl exited with ${code}`);
  return pem;
}

