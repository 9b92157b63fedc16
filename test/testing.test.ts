/**
 * ridethrough/testing: each stand-in does what its documentation says, refuses bad input like
 * the rest of the library, and leaves nothing listening or pending after close.
 */
import { lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realClock } from 'ridethrough';
import { classify } from 'ridethrough/classify';
import { retry } from 'ridethrough/retry';
import { FakeClock, flush, KubeletVolume, projectVolume, startFaultServer, startTlsAlertServer, TLS_ALERT_INTERNAL_ERROR, type SwapStep } from 'ridethrough/testing';
import { describe, expect, it } from 'vitest';
import { selfSignedPair } from '../examples/support/certs.js';

/** Resolves with the error code (or 'ECONNREFUSED' ...) a plain HTTP GET ends with, or its status and body. */
function get(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: string } | { code: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code ?? error.message }));
    req.end();
  });
}

describe('KubeletVolume / projectVolume', () => {
  it('lays the volume out as kubelet does and swaps ..data on update, in the documented step order', async () => {
    const steps: SwapStep[] = [];
    const volume = await projectVolume({ token: 'v1', 'nested/ca.crt': 'ca' }, { fileMode: 0o600, onStep: (s) => void steps.push(s) });
    try {
      expect(await readlink(volume.path('token'))).toBe('..data/token');
      expect(await readlink(volume.path('nested'))).toBe('..data/nested');
      const [first] = await volume.timestampDirs();
      expect(first).toMatch(/^\.\.\d{4}(_\d\d){5}\.\d+$/);
      expect(await readlink(volume.path('..data'))).toBe(first);
      expect((await stat(volume.path('token'))).mode & 0o777).toBe(0o600);
      expect((await stat(volume.path(first!))).mode & 0o777).toBe(0o755);
      expect(steps).toEqual(['mkdir', 'write', 'symlink-tmp', 'rename', 'links', 'prune', 'remove-old']);

      const swap = await volume.update({ token: 'v2' });
      expect(await readFile(volume.path('token'), 'utf8')).toBe('v2');
      expect(await volume.timestampDirs()).toEqual([swap.timestampDir]);
      expect(swap.renamedAt).toBe(volume.renamedAt);
      await expect(lstat(volume.path('nested'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(volume.updates).toBe(2);
      expect(volume.payload).toEqual({ token: 'v2' });

      await volume.set('extra', 'x');
      await volume.remove('token');
      expect(Object.keys(volume.payload)).toEqual(['extra']);
      await expect(lstat(volume.path('token'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await volume.cleanup();
    }
    await expect(stat(volume.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('readers during an update see the old or the new content, never a missing file', async () => {
    const seen = new Set<string>();
    let volume: KubeletVolume | undefined = undefined;
    volume = await KubeletVolume.create(
      { token: 'old' },
      {
        onStep: async () => {
          if (volume !== undefined) seen.add(await readFile(volume.path('token'), 'utf8'));
        },
      },
    );
    await volume.set('token', 'new');
    await volume.cleanup();
    expect([...seen].sort()).toEqual(['new', 'old']);
  });

  it('is removed by await using', async () => {
    let dir: string;
    {
      await using volume = await projectVolume({ a: '1' });
      dir = volume.dir;
      expect((await stat(dir)).isDirectory()).toBe(true);
    }
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses bad input by rejecting, naming the function, the option and the value', async () => {
    await expect(projectVolume({ a: '1' }, { fileMode: 0o1777 })).rejects.toThrow(
      new RangeError('KubeletVolume.create(): option "fileMode" must be an integer >= 0 and <= 511, got 1023'),
    );
    await expect(projectVolume({ a: '1' }, { fileMod: 0o600 } as never)).rejects.toThrow(/unknown option "fileMod"; did you mean "fileMode"\?/);
    await expect(projectVolume({ a: '1' }, { onStep: 'x' } as never)).rejects.toThrow(TypeError);
    await expect(projectVolume({ '..data': 'x' })).rejects.toThrow(RangeError);
    await expect(projectVolume({ 'a/../b': 'x' })).rejects.toThrow(/payload key "a\/..\/b"/);
    await expect(projectVolume({ a: 1 } as never)).rejects.toThrow(TypeError);
    await expect(projectVolume(null as never)).rejects.toThrow(TypeError);
    const volume = await projectVolume({ a: '1' });
    await expect(volume.update({ '/abs': 'x' })).rejects.toThrow(/^KubeletVolume\.update\(\): payload key "\/abs"/);
    await volume.cleanup();
  });
});

describe('FakeClock', () => {
  it('implements the public Clock: time moves only when told, waits end in order', async () => {
    const clock = new FakeClock({ start: 1_000 });
    const ended: number[] = [];
    void clock.sleep(30).then(() => ended.push(30));
    void clock.sleep(10).then(() => ended.push(10));
    await flush();
    expect(clock.now()).toBe(1_000);
    expect(clock.pending).toEqual([10, 30]);
    await clock.advance(15);
    expect(ended).toEqual([10]);
    expect(clock.now()).toBe(1_015);
    expect(await clock.next()).toBe(true);
    expect(ended).toEqual([10, 30]);
    expect(await clock.next()).toBe(false);
    clock.spend(5);
    expect(clock.now()).toBe(1_035);
    expect(clock.requested).toEqual([30, 10]);
  });

  it('drives a retry schedule without waiting', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const result = retry(
      async () => {
        if (++calls < 4) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return calls;
      },
      { clock, initialDelayMs: 100, jitter: 'none', multiplier: 2 },
    );
    while (await clock.next());
    await expect(result).resolves.toBe(4);
    expect(clock.requested).toEqual([100, 200, 400]);
    expect(clock.now()).toBe(700);
  });

  it('an abort rejects the wait with the reason and detaches its listener', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const wait = clock.sleep(50, controller.signal);
    controller.abort(new Error('stop'));
    await expect(wait).rejects.toThrow('stop');
    expect(clock.pending).toEqual([]);
    expect(clock.sleeps).toEqual([{ ms: 50, state: 'aborted' }]);
    await expect(clock.sleep(5, controller.signal)).rejects.toThrow('stop');
    expect(() => clock.fireNext()).toThrow(/FakeClock\.fireNext\(\): no pending sleep/);
  });

  it('refuses bad input', async () => {
    expect(() => new FakeClock({ start: Number.NaN })).toThrow(new RangeError('new FakeClock(): option "start" must be a finite number, got NaN'));
    expect(() => new FakeClock({ now: 1 } as never)).toThrow(/unknown option "now"/);
    expect(() => new FakeClock().spend(-1)).toThrow(RangeError);
    await expect(new FakeClock().advance('1' as never)).rejects.toThrow(TypeError);
  });
});

describe('startTlsAlertServer', () => {
  it('answers every handshake with alert 80 until approved, then serves real TLS', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'ridethrough-testing-test-'));
    const kubelet = await startTlsAlertServer();
    try {
      const error = await fetch(kubelet.url).catch((e: unknown) => e);
      expect((error as { cause?: { code?: string } }).cause?.code).toBe('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
      expect(classify(error).kind).toBe('transient');
      // The raw reply to a ClientHello is exactly the alert record.
      const raw = await new Promise<Buffer>((resolve, reject) => {
        const socket = netConnect(kubelet.port, kubelet.host, () => socket.write(Buffer.from([0x16, 0x03, 0x01])));
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
      });
      expect(raw.equals(TLS_ALERT_INTERNAL_ERROR)).toBe(true);
      expect(TLS_ALERT_INTERNAL_ERROR.toString('hex')).toBe('15030300020250');
      expect(kubelet.alertsSent).toBe(2);

      const pair = await selfSignedPair(scratch, 'leaf', { commonName: '127.0.0.1', subjectAltName: 'IP:127.0.0.1' });
      kubelet.approve({ key: pair.keyPem, cert: pair.certPem, handler: (_request, response) => response.end('served') });
      const served = await new Promise<string>((resolve, reject) => {
        httpsGet(kubelet.url, { ca: pair.certPem, agent: false }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(body));
        }).on('error', reject);
      });
      expect(served).toBe('served');
      expect(kubelet.alertsSent).toBe(2);
    } finally {
      await kubelet.close();
      await rm(scratch, { recursive: true, force: true });
    }
    expect(await get(`http://127.0.0.1:${kubelet.port}/`)).toEqual({ code: 'ECONNREFUSED' });
  });

  it('refuses a bad approval with a TypeError naming the option', async () => {
    await using kubelet = await startTlsAlertServer();
    expect(() => kubelet.approve({ key: 1, cert: 'x', handler: () => {} } as never)).toThrow(
      new TypeError('TlsAlertServer.approve(): option "key" must be a PEM string or Buffer, got 1'),
    );
    expect(() => kubelet.approve({ key: 'k', cert: 'c' } as never)).toThrow(/"handler" must be a function/);
    expect(() => kubelet.approve({ key: 'k', cert: 'c', handler: () => {}, ca: 'x' } as never)).toThrow(/unknown option "ca"/);
  });
});

describe('startFaultServer', () => {
  it('applies queued faults in order, then the standing fault, then answers normally', async () => {
    const server = await startFaultServer({ faults: [{ status: 503, retryAfter: 2 }, { reset: true }] });
    try {
      expect(await get(server.url)).toMatchObject({ status: 503, headers: { 'retry-after': '2' }, body: 'Service Unavailable' });
      expect(await get(server.url)).toEqual({ code: 'ECONNRESET' });
      expect(await get(server.url)).toMatchObject({ status: 200, body: 'ok' });
      server.setFault({ status: 429, retryAfter: 'Wed, 21 Oct 2026 07:28:00 GMT', body: 'slow down' });
      server.inject({ status: 500 });
      expect(server.queued).toBe(1);
      expect(await get(server.url)).toMatchObject({ status: 500 });
      expect(await get(`${server.url}/again?x=1`)).toMatchObject({ status: 429, body: 'slow down', headers: { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' } });
      server.setFault(undefined);
      expect(await get(server.url)).toMatchObject({ status: 200 });
      expect(server.requests.map((r) => [r.method, r.url, r.fault?.status ?? (r.fault?.reset ? 'reset' : null)])).toEqual([
        ['GET', '/', 503],
        ['GET', '/', 'reset'],
        ['GET', '/', null],
        ['GET', '/', 500],
        ['GET', '/again?x=1', 429],
        ['GET', '/', null],
      ]);
    } finally {
      await server.close();
    }
  });

  it('delays an answer, and close() cancels a pending delay and leaves nothing listening', async () => {
    const server = await startFaultServer({
      handler: (request, response) => void response.end(`hello ${request.url}`),
      faults: [{ delayMs: 30 }, { delayMs: 60_000 }],
    });
    const started = realClock.now();
    expect(await get(`${server.url}/a`)).toMatchObject({ status: 200, body: 'hello /a' });
    expect(realClock.now() - started).toBeGreaterThanOrEqual(25);
    const hanging = get(server.url);
    await expect.poll(() => server.requests.length).toBe(2);
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await server[Symbol.asyncDispose]();
    expect(await hanging).toHaveProperty('code');
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThan(timersBefore);
    expect(await get(server.url)).toEqual({ code: 'ECONNREFUSED' });
  });

  it('a handler that throws gets a 500, not a crash', async () => {
    await using server = await startFaultServer({
      handler: () => {
        throw new Error('handler bug');
      },
    });
    expect(await get(server.url)).toMatchObject({ status: 500 });
    const rejecting = await startFaultServer({ handler: async () => Promise.reject(new Error('async bug')) });
    expect(await get(rejecting.url)).toMatchObject({ status: 500 });
    await rejecting.close();
  });

  it('gives retry what it needs: a 503 with Retry-After is honoured', async () => {
    await using server = await startFaultServer({ faults: [{ status: 503, retryAfter: 0.05 }] });
    const delays: number[] = [];
    const text = await retry(
      async () => {
        const response = await fetch(server.url);
        if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, headers: response.headers });
        return response.text();
      },
      { initialDelayMs: 1, onRetry: (event) => void delays.push(event.delayMs) },
    );
    expect(text).toBe('ok');
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(50);
  });

  it('refuses bad options and faults, naming where and what', async () => {
    await expect(startFaultServer({ faults: [{ status: 700 }] })).rejects.toThrow(
      new RangeError('startFaultServer(): option "faults[0].status" must be an integer >= 100 and <= 599, got 700'),
    );
    await expect(startFaultServer({ faults: [{ reset: true, status: 503 }] })).rejects.toThrow(RangeError);
    await expect(startFaultServer({ faults: [{ retryAfter: 1 }] })).rejects.toThrow(/no "status"/);
    await expect(startFaultServer({ faults: [{ delay: 5 }] as never })).rejects.toThrow(/unknown option "delay"; did you mean "delayMs"\?/);
    await expect(startFaultServer({ handler: 1 } as never)).rejects.toThrow(TypeError);
    await expect(startFaultServer({ faults: {} } as never)).rejects.toThrow(TypeError);
    await expect(startFaultServer({ port: 1 } as never)).rejects.toThrow(/unknown option "port"/);
    await using server = await startFaultServer();
    expect(() => server.inject({ delayMs: -1 })).toThrow(new RangeError('FaultServer.inject(): option "faults[0].delayMs" must be a finite number >= 0, got -1'));
    expect(() => server.setFault({ reset: 'yes' } as never)).toThrow(TypeError);
    expect(server.queued).toBe(0);
  });
});
