/**
 * liveTlsCredentials with real TLS: an https server on 127.0.0.1 whose certificate a kubelet-style
 * volume rotates while clients connect in a loop; an mTLS client whose own certificate rotates;
 * the last good pair kept on a bad one; attach, check, close.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveTlsCredentials, type CredentialsRejectedEvent } from 'ridethrough/credentials';
import { listenOnLoopback } from '../src/testing/loopback.js';
import { createCa, issue, type Issued, type TestCa } from './support/certs.js';
import { KubeletVolume } from 'ridethrough/testing';
import { pollUntil } from './support/poll.js';
import { leftovers } from './support/leftovers.js';

let dir: string;
let ca: TestCa;
/** Server certificates of successive generations (IP:127.0.0.1). */
const servers: Issued[] = [];
/** Client certificates of successive generations. */
const clients: Issued[] = [];
let expired: Issued;
let notYetValid: Issued;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-credentials-'));
  ca = await createCa(join(dir, 'ca'));
  // `openssl ca` keeps a serial file: one leaf at a time.
  for (let i = 0; i < 6; i++) servers.push(await issue(ca, `server-${i}`, { commonName: `server-${i}`, subjectAltName: 'IP:127.0.0.1' }));
  for (let i = 0; i < 4; i++) clients.push(await issue(ca, `client-${i}`, { commonName: `client-${i}` }));
  expired = await issue(ca, 'expired', { commonName: 'expired', subjectAltName: 'IP:127.0.0.1', startDate: '20200101000000Z', endDate: '20200102000000Z' });
  notYetValid = await issue(ca, 'future', { commonName: 'future', subjectAltName: 'IP:127.0.0.1', startDate: '20990101000000Z', endDate: '20990102000000Z' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const payload = (cert: Issued, key: Issued = cert): Record<string, string> => ({ 'tls.crt': cert.certPem, 'tls.key': key.keyPem });
const filesOf = (volume: KubeletVolume) => ({ cert: volume.path('tls.crt'), key: volume.path('tls.key') });

/** One TLS handshake; resolves with the fingerprint of the certificate the server presented. */
function handshake(port: number, options: ConnectionOptions = { ca: ca.certPem }, awaitAnswer = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ...options }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      const done = (): void => {
        socket.destroy();
        resolve(fingerprint);
      };
      if (awaitAnswer) socket.once('data', done);
      else done();
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

async function startServer(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: HttpsServer; port: number }> {
  const server = createServer(options, (_request, response) => response.end('ok'));
  const port = await listenOnLoopback(server);
  return { server, port };
}

function closeServer(server: HttpsServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Clients that connect in a loop until stopped, recording what they were served and when. */
function connectInLoop(port: number, clients: number, options?: ConnectionOptions) {
  const firstSeen = new Map<string, number>();
  const failures: unknown[] = [];
  let handshakes = 0;
  let stopped = false;
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped) {
      try {
        const fingerprint = await handshake(port, options);
        handshakes++;
        if (!firstSeen.has(fingerprint)) firstSeen.set(fingerprint, performance.now());
      } catch (error) {
        failures.push(error);
      }
    }
  });
  return {
    firstSeen,
    failures,
    get handshakes() {
      return handshakes;
    },
    async stop(): Promise<void> {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

describe('liveTlsCredentials: a server whose certificate rotates', () => {
  it('serves every new certificate within 1 s of its swap, fails no handshake, never serves a cert with the wrong key', async () => {
    const volume = await KubeletVolume.create(payload(servers[0]!), { dir: join(dir, 'rotating-server') });
    const rejected: CredentialsRejectedEvent[] = [];
    await using tls = await liveTlsCredentials(filesOf(volume), { name: 'webhook', onRejected: (event) => void rejected.push(event) });
    const { server, port } = await startServer();
    tls.attach(server);
    const load = connectInLoop(port, 3);
    try {
      await pollUntil(() => load.firstSeen.has(servers[0]!.fingerprint), 'the first certificate to be served');
      const swappedAt = new Map<string, number>();
      let mismatchedAt = 0;
      for (let i = 1; i < servers.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        if (i === 3) {
          // The intermediate state of a careless rotation: the new certificate with the old key.
          mismatchedAt = (await volume.update(payload(servers[3]!, servers[2]!))).renamedAt;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        swappedAt.set(servers[i]!.fingerprint, (await volume.update(payload(servers[i]!))).renamedAt);
      }
      await pollUntil(() => load.firstSeen.has(servers.at(-1)!.fingerprint), 'the last certificate to be served');
      await load.stop();

      expect(load.failures).toEqual([]);
      expect(load.handshakes).toBeGreaterThan(20);
      for (const [fingerprint, at] of swappedAt) {
        const seen = load.firstSeen.get(fingerprint);
        expect(seen, `certificate ${fingerprint.slice(0, 11)} served`).toBeDefined();
        expect(seen! - at, `certificate ${fingerprint.slice(0, 11)} served after its swap`).toBeLessThan(1_000);
      }
      // servers[3]'s certificate sat next to the old key for 300 ms: it was served only once its own key came.
      expect(mismatchedAt).toBeGreaterThan(0);
      expect(load.firstSeen.get(servers[3]!.fingerprint)!).toBeGreaterThan(swappedAt.get(servers[3]!.fingerprint)!);
      expect([...load.firstSeen.keys()].sort()).toEqual(servers.map((s) => s.fingerprint).sort());
      expect(tls.certificate.fingerprint256).toBe(servers.at(-1)!.fingerprint);
      expect(rejected).toEqual([]); // a mismatch that resolves within the re-read's budget is ridden through
    } finally {
      await load.stop();
      await closeServer(server);
      await volume.cleanup();
    }
  });

  it('an mTLS client whose client certificate rotates keeps connecting', async () => {
    const volume = await KubeletVolume.create({ ...payload(clients[0]!), 'ca.crt': ca.certPem }, { dir: join(dir, 'rotating-client') });
    await using tls = await liveTlsCredentials({ ...filesOf(volume), ca: volume.path('ca.crt') }, { name: 'agent' });
    const seenByServer = new Set<string>();
    // Under TLS 1.3 the client certificate reaches the server after the client's handshake is
    // over: the server answers once it has checked it, and the client waits for that answer.
    const server = createTlsServer(
      { cert: servers[0]!.certPem, key: servers[0]!.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (socket) => {
        seenByServer.add(socket.getPeerCertificate().fingerprint256);
        socket.end('ok');
      },
    );
    const port = await listenOnLoopback(server);
    // The client's context carries its certificate and the CA it trusts the server by (ca.crt).
    const load = { failures: [] as unknown[], handshakes: 0, stopped: false };
    const loop = (async () => {
      while (!load.stopped) {
        try {
          await handshake(port, { secureContext: tls.secureContext }, true);
          load.handshakes++;
        } catch (error) {
          load.failures.push(error);
        }
      }
    })();
    try {
      for (let i = 1; i < clients.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await volume.update({ ...payload(clients[i]!), 'ca.crt': ca.certPem });
        await pollUntil(() => seenByServer.has(clients[i]!.fingerprint), `client certificate ${i} to reach the server`);
      }
    } finally {
      load.stopped = true;
      await loop;
      await new Promise((resolve) => server.close(resolve));
      await volume.cleanup();
    }
    expect(load.failures).toEqual([]);
    expect(load.handshakes).toBeGreaterThan(10);
    expect([...seenByServer].sort()).toEqual(clients.map((c) => c.fingerprint).sort());
  });
});

describe('liveTlsCredentials: a bad new version keeps the last good pair', () => {
  const cases: Array<[string, (files: { cert: string; key: string }) => Promise<void>, RegExp]> = [
    ['unreadable (tls.crt gone)', async ({ cert }) => unlink(cert), /ENOENT/],
    ['mismatched (the new certificate with the old key)', async ({ cert }) => writeFile(cert, servers[2]!.certPem), /KEY_VALUES_MISMATCH/],
    ['expired', async ({ cert, key }) => writeBoth(cert, key, expired), /expired/],
    ['not yet valid', async ({ cert, key }) => writeBoth(cert, key, notYetValid), /not valid before/],
    ['not PEM at all', async ({ cert }) => writeFile(cert, 'garbage\n'), /PEM|NO_START_LINE/],
  ];

  it.each(cases)('%s', async (_label, spoil, why) => {
    const caseDir = await mkdtemp(join(dir, 'bad-'));
    const files = { cert: join(caseDir, 'tls.crt'), key: join(caseDir, 'tls.key') };
    await writeBoth(files.cert, files.key, servers[1]!);
    const rejected: CredentialsRejectedEvent[] = [];
    await using tls = await liveTlsCredentials(files, { onRejected: (event) => void rejected.push(event), debounceMs: 20 });
    const { server, port } = await startServer();
    tls.attach(server);
    const hash = tls.hash;
    try {
      await spoil(files);
      await pollUntil(() => rejected.length > 0, 'the bad version to be refused', 15_000);
      expect(String((rejected[0]!.error as Error).message ?? rejected[0]!.error) + String((rejected[0]!.error as { code?: string }).code)).toMatch(why);
      expect(rejected[0]!.keptHash).toBe(hash);
      expect(Object.isFrozen(rejected[0])).toBe(true);
      expect(tls.hash).toBe(hash);
      expect(tls.certificate.fingerprint256).toBe(servers[1]!.fingerprint);
      expect(await handshake(port)).toBe(servers[1]!.fingerprint);
      expect(tls.check()).toMatchObject({ ok: true });
      // And a good version after it is taken.
      await writeBoth(files.cert, files.key, servers[4]!);
      await pollUntil(() => tls.certificate.fingerprint256 === servers[4]!.fingerprint, 'the good version to be loaded', 15_000);
      expect(await handshake(port)).toBe(servers[4]!.fingerprint);
    } finally {
      await closeServer(server);
    }
  }, 40_000);
});

async function writeBoth(cert: string, key: string, pair: Issued): Promise<void> {
  // Key first, then certificate: each write alone may be seen mid-way; the pair must match to be taken.
  await writeFile(key, pair.keyPem);
  await writeFile(cert, pair.certPem);
}

describe('liveTlsCredentials: attach, check, close', () => {
  let files: { cert: string; key: string };
  beforeAll(async () => {
    const d = await mkdtemp(join(dir, 'attach-'));
    files = { cert: join(d, 'tls.crt'), key: join(d, 'tls.key') };
    await writeBoth(files.cert, files.key, servers[0]!);
  });

  it('attach applies the pair at once, follows changes, and lets go on detach and on close', async () => {
    const d = await mkdtemp(join(dir, 'attach-follow-'));
    const own = { cert: join(d, 'tls.crt'), key: join(d, 'tls.key') };
    await writeBoth(own.cert, own.key, servers[0]!);
    await using tls = await liveTlsCredentials(own, { debounceMs: 20 });
    const a = await startServer(); // no certificate of its own: nothing to serve until attached
    const b = await startServer();
    let bCalls = 0;
    const set = b.server.setSecureContext.bind(b.server);
    b.server.setSecureContext = (options) => {
      bCalls++;
      set(options);
    };
    try {
      tls.attach(a.server);
      const detachB = tls.attach(b.server);
      expect(bCalls).toBe(1);
      expect(await handshake(a.port)).toBe(servers[0]!.fingerprint);
      expect(await handshake(b.port)).toBe(servers[0]!.fingerprint);
      detachB();
      await writeBoth(own.cert, own.key, servers[1]!);
      await pollUntil(() => tls.hash !== undefined && tls.certificate.fingerprint256 === servers[1]!.fingerprint, 'the rotation');
      expect(await handshake(a.port)).toBe(servers[1]!.fingerprint);
      expect(await handshake(b.port)).toBe(servers[0]!.fingerprint); // detached: keeps what it had
      expect(bCalls).toBe(1);
      expect(() => tls.attach({} as never)).toThrow(/TlsCredentials\.attach\(\).*"server"/);
    } finally {
      await closeServer(a.server);
      await closeServer(b.server);
    }
  });

  it('a server that closes is let go by itself', async () => {
    const d = await mkdtemp(join(dir, 'attach-close-'));
    const own = { cert: join(d, 'tls.crt'), key: join(d, 'tls.key') };
    await writeBoth(own.cert, own.key, servers[0]!);
    await using tls = await liveTlsCredentials(own, { debounceMs: 20 });
    const { server } = await startServer();
    let calls = 0;
    const set = server.setSecureContext.bind(server);
    server.setSecureContext = (options) => {
      calls++;
      set(options);
    };
    tls.attach(server);
    await closeServer(server);
    await writeBoth(own.cert, own.key, servers[1]!);
    await pollUntil(() => tls.certificate.fingerprint256 === servers[1]!.fingerprint, 'the rotation');
    expect(calls).toBe(1);
  });

  it('check passes with the validity in its detail, fails once expired, not yet valid, or closed', async () => {
    let offsetMs = 0;
    const tls = await liveTlsCredentials(files, { now: () => Date.now() + offsetMs });
    const validTo = servers[0]!.certificate.validTo;
    expect(tls.check()).toEqual({ ok: true, detail: `valid until ${validTo}` });
    expect(tls.notAfter.getTime()).toBe(Date.parse(validTo));
    offsetMs = 2 * 86_400_000;
    expect(tls.check()).toEqual({ ok: false, detail: `certificate expired at ${validTo}` });
    offsetMs = -86_400_000;
    expect(tls.check()).toMatchObject({ ok: false, detail: expect.stringContaining('not valid before') });
    offsetMs = 0;
    await tls.close();
    expect(tls.check()).toMatchObject({ ok: false, detail: expect.stringContaining('closed') });
    expect(tls.signal.aborted).toBe(true);
  });

  it('close() and Symbol.asyncDispose leave no timer, watcher or handle; a signal closes it too', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const baseline = process.getActiveResourcesInfo();
    const first = await liveTlsCredentials(files);
    await first.close();
    await first.close(); // idempotent
    {
      await using second = await liveTlsCredentials(files);
      expect(second.check()).toMatchObject({ ok: true });
    }
    const controller = new AbortController();
    const third = await liveTlsCredentials(files, { signal: controller.signal });
    controller.abort();
    await pollUntil(() => third.signal.aborted, 'the signal to close it');
    await third.close();
    expect(await leftovers(baseline)).toEqual([]);
  });

  it('an aborted signal rejects the call, with nothing left behind', async () => {
    const baseline = process.getActiveResourcesInfo();
    await expect(liveTlsCredentials(files, { signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop');
    expect(await leftovers(baseline)).toEqual([]);
  });

  it('the first load waits for a pair that is not there yet (missing, then mismatched, then matching)', async () => {
    const d = await mkdtemp(join(dir, 'first-'));
    const own = { cert: join(d, 'tls.crt'), key: join(d, 'tls.key') };
    const loading = liveTlsCredentials(own, { deadlineMs: 20_000 });
    await writeFile(own.cert, servers[1]!.certPem);
    await writeFile(own.key, servers[0]!.keyPem);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writeFile(own.key, servers[1]!.keyPem);
    await using tls = await loading;
    expect(tls.certificate.fingerprint256).toBe(servers[1]!.fingerprint);
  });
});
