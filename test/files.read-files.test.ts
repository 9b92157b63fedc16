/**
 * readFilesWithRetry on the real file system: one generation from a kubelet volume under swaps
 * and from plain files rewritten in place; a mismatched key retried, never returned; a change
 * ends the backoff wait; bad arguments reject.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext as tlsContext } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFilesWithRetry } from 'ridethrough/files';
import { selfSignedPair, type CertificatePair } from '../examples/support/certs.js';
import { KubeletVolume } from 'ridethrough/testing';

let dir: string;
let certs: string;
let a: CertificatePair;
let b: CertificatePair;
beforeAll(async () => {
  certs = await mkdtemp(join(tmpdir(), 'ridethrough-certs-'));
  [a, b] = await Promise.all([
    selfSignedPair(certs, 'a', { commonName: 'a', subjectAltName: 'IP:127.0.0.1' }),
    selfSignedPair(certs, 'b', { commonName: 'b', subjectAltName: 'IP:127.0.0.1' }),
  ]);
});
afterAll(async () => {
  await rm(certs, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-read-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pairContext = (files: Readonly<Record<'cert' | 'key', Buffer>>) => tlsContext({ cert: files.cert, key: files.key });

describe('readFilesWithRetry: one generation', () => {
  it('reads plain files into a record of bytes, or what parse returns', async () => {
    await writeFile(join(dir, 'x'), 'one');
    await writeFile(join(dir, 'y'), 'two');
    const files = await readFilesWithRetry({ x: join(dir, 'x'), y: join(dir, 'y') });
    expect(Buffer.isBuffer(files.x) && files.x.toString()).toBe('one');
    expect(files.y.toString()).toBe('two');
    expect(Object.isFrozen(files)).toBe(true);
    const joined = await readFilesWithRetry({ x: join(dir, 'x'), y: join(dir, 'y') }, { parse: (f) => `${f.x}+${f.y}` });
    expect(joined).toBe('one+two');
  });

  it('never pairs files of two kubelet generations while ..data flips under it', async () => {
    const volume = await KubeletVolume.create({ 'tls.crt': 'gen-0', 'tls.key': 'gen-0' }, { dir: join(dir, 'vol') });
    let stop = false;
    const swapping = (async () => {
      for (let i = 1; !stop; i++) await volume.update({ 'tls.crt': `gen-${i}`, 'tls.key': `gen-${i}` });
    })();
    const paths = { cert: volume.path('tls.crt'), key: volume.path('tls.key') };
    let mixed = 0;
    const generations = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const files = await readFilesWithRetry(paths, { initialDelayMs: 1, deadlineMs: 10_000 });
      if (files.cert.toString() !== files.key.toString()) mixed++;
      generations.add(files.cert.toString());
    }
    stop = true;
    await swapping;
    expect(mixed).toBe(0);
    expect(generations.size).toBeGreaterThan(1); // the swaps really happened under the reads
  });

  it('re-reads plain files that changed while the others were read', async () => {
    const x = join(dir, 'x');
    const y = join(dir, 'y');
    await writeFile(x, 'v0000');
    await writeFile(y, 'v0000');
    let stop = false;
    const writing = (async () => {
      for (let i = 1; !stop; i++) {
        const text = `v${String(i).padStart(4, '0')}`;
        await writeFile(x, text);
        await writeFile(y, text);
        await new Promise((resolve) => setTimeout(resolve, 2)); // a rotation, then a quiet moment
      }
    })();
    let mixed = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const files = await readFilesWithRetry(
        { x, y },
        {
          initialDelayMs: 1,
          deadlineMs: 10_000,
          // The writer pairs them only after both writes: a check in parse is what tells a mix.
          parse: (f) => {
            if (f.x.toString() !== f.y.toString()) throw new Error('mixed');
            return f;
          },
        },
      );
      if (files.x.toString() !== files.y.toString()) mixed++;
      seen.add(files.x.toString());
    }
    stop = true;
    await writing;
    expect(mixed).toBe(0);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('retries a certificate paired with the wrong key, and returns only the matching pair', async () => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    await writeFile(cert, b.certPem);
    await writeFile(key, a.keyPem); // the new cert with the old key: mid-rotation
    const errors: unknown[] = [];
    setTimeout(() => void writeFile(key, b.keyPem), 150);
    const loaded = await readFilesWithRetry(
      { cert, key },
      {
        parse: (files) => ({ context: pairContext(files), certificate: new X509Certificate(files.cert) }),
        initialDelayMs: 20,
        deadlineMs: 10_000,
        onRetry: ({ error }) => errors.push(error),
      },
    );
    expect(loaded.certificate.fingerprint256).toBe(b.fingerprint);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => (e as { code?: string }).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH')).toBe(true);
  });

  it('gives up with the mismatch itself when the pair never matches within the deadline', async () => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    await writeFile(cert, b.certPem);
    await writeFile(key, a.keyPem);
    await expect(readFilesWithRetry({ cert, key }, { parse: pairContext, initialDelayMs: 20, deadlineMs: 200 })).rejects.toMatchObject({
      code: 'ERR_OSSL_X509_KEY_VALUES_MISMATCH',
    });
  });
});

describe('readFilesWithRetry: a change ends the wait', () => {
  it('picks up a certificate that was missing, then half-written, within milliseconds of being whole', async () => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    await writeFile(key, a.keyPem);
    // Backoff waits of 3 s: without the wake the whole certificate would wait for the next one.
    const reading = readFilesWithRetry(
      { cert, key },
      { parse: pairContext, initialDelayMs: 3_000, maxDelayMs: 3_000, jitter: 'none', deadlineMs: 30_000 },
    ).then(() => performance.now());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await writeFile(cert, a.certPem.slice(0, a.certPem.length / 2)); // half-written: ERR_OSSL_PEM_BAD_END_LINE
    await new Promise((resolve) => setTimeout(resolve, 100));
    const wholeAt = performance.now();
    await writeFile(cert, a.certPem);
    const doneAt = await reading;
    expect(doneAt - wholeAt).toBeLessThan(1_000); // the wait it cut was 3,000 ms
  });

  it('a change does not end the deadline early', async () => {
    const file = join(dir, 'x');
    const started = performance.now();
    const writer = setInterval(() => void writeFile(join(dir, 'noise'), String(Math.random())), 10);
    try {
      await expect(
        readFilesWithRetry({ x: file }, { initialDelayMs: 20, maxDelayMs: 20, deadlineMs: 400 }),
      ).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      clearInterval(writer);
    }
    expect(performance.now() - started).toBeGreaterThan(350);
  });
});

describe('readFilesWithRetry: arguments', () => {
  it('rejects, never throws, on bad arguments and unknown options', async () => {
    const call = (paths: unknown, options?: unknown) =>
      readFilesWithRetry(paths as Record<string, string>, options as Parameters<typeof readFilesWithRetry>[1]);
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = call('/x'))).not.toThrow();
    await expect(promise).rejects.toThrow(TypeError);
    await expect(call({})).rejects.toThrow(RangeError);
    await expect(call({ cert: '' })).rejects.toThrow(/paths\.cert/);
    await expect(call({ cert: '/x' }, { retries: 2 })).rejects.toThrow(/unknown option "retries".*maxAttempts/);
    await expect(call({ cert: '/x' }, { encoding: 'utf8' })).rejects.toThrow(/unknown option "encoding"/);
    await expect(call({ cert: '/x' }, { parse: 3 })).rejects.toThrow(/option "parse"/);
    await expect(call({ cert: '/x' }, { name: 3 })).rejects.toThrow(/option "name"/);
  });
});
