import { Agent, createServer, get as httpGet, type RequestListener, type Server } from 'node:http';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { NotReadyError, formatReport, readinessGate, waitFor, type CheckContext } from 'ridethrough/gate';
import { failOnLeftoverTimers } from './support/resources.js';

const servers: Server[] = [];

/** Serves `handler` on 127.0.0.1 on a free port; closed after each test. */
async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

failOnLeftoverTimers();
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text(), headers: response.headers };
}

const hang = (_: unknown, { signal }: CheckContext): Promise<boolean> =>
  new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('handler(): a readiness probe like kube-apiserver /readyz', () => {
  it('answers 200 ok when ready, with plain-text headers', async () => {
    const gate = readinessGate({ checks: { ping: () => true, informers: async () => true } });
    const base = await serve(gate.handler());
    const { status, body, headers } = await get(`${base}/readyz`);
    expect([status, body]).toEqual([200, 'ok']);
    expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('cache-control')).toBe('no-store');
  });

  it('lists every check with ?verbose, ending with the shutdown check and "readyz check passed"', async () => {
    const gate = readinessGate({ checks: { ping: () => true, informers: async () => ({ ok: true, detail: 'synced' }) } });
    const base = await serve(gate.handler());
    expect(await get(`${base}/readyz?verbose`)).toMatchObject({
      status: 200,
      body: '[+]ping ok\n[+]informers ok\n[+]shutdown ok\nreadyz check passed\n',
    });
  });

  it('answers 503 with every line when a check fails, verbose or not', async () => {
    const gate = readinessGate({
      checks: {
        ping: () => true,
        tunnel: async () => 'status is DOWN',
        api: () => {
          throw new Error('connect ECONNREFUSED\n127.0.0.1:1');
        },
      },
    });
    const base = await serve(gate.handler());
    const expected =
      '[+]ping ok\n[-]tunnel failed: reason withheld\n[-]api failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n';
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: expected });
    expect(await get(`${base}/readyz?verbose=1`)).toMatchObject({ status: 503, body: expected });
  });

  it('skips excluded checks (repeatable), with a warn line for names that match nothing', async () => {
    let tunnelCalls = 0;
    const gate = readinessGate({
      checks: {
        ping: () => true,
        tunnel: () => {
          tunnelCalls++;
          return 'status is DOWN';
        },
        dns: () => false,
      },
    });
    const base = await serve(gate.handler());
    expect(await get(`${base}/readyz?exclude=tunnel&exclude=dns`)).toMatchObject({ status: 200, body: 'ok' });
    expect(tunnelCalls).toBe(0);
    expect(await get(`${base}/readyz?verbose&exclude=tunnel&exclude=dns&exclude=etcd&exclude=kms`)).toMatchObject({
      status: 200,
      body: [
        '[+]ping ok',
        '[+]tunnel excluded: ok',
        '[+]dns excluded: ok',
        '[+]shutdown ok',
        'warn: some health checks cannot be excluded: no matches for "etcd","kms"',
        'readyz check passed',
        '',
      ].join('\n'),
    });
    expect(await get(`${base}/readyz?exclude=dns`)).toMatchObject({
      status: 503,
      body: '[+]ping ok\n[-]tunnel failed: reason withheld\n[+]dns excluded: ok\n[+]shutdown ok\nreadyz check failed\n',
    });
  });

  it('answers for one check at <path>/<name>, and 404 for unknown names and paths', async () => {
    let tunnelCalls = 0;
    const gate = readinessGate({
      checks: {
        ping: () => true,
        tunnel: () => {
          tunnelCalls++;
          return 'status is DOWN';
        },
        'poststarthook/rbac': () => true,
      },
    });
    const base = await serve(gate.handler());
    expect(await get(`${base}/readyz/ping`)).toMatchObject({ status: 200, body: 'ok' });
    expect(tunnelCalls).toBe(0);
    expect(await get(`${base}/readyz/tunnel`)).toMatchObject({ status: 503, body: 'internal server error: status is DOWN\n' });
    expect(await get(`${base}/readyz/poststarthook/rbac`)).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(`${base}/readyz/shutdown`)).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(`${base}/readyz/nope`)).toMatchObject({ status: 404, body: '404 page not found\n' });
    expect(await get(`${base}/readyz/%E0%A4%A`)).toMatchObject({ status: 404 });
    expect(await get(`${base}/livez`)).toMatchObject({ status: 404 });
    expect(await get(`${base}/readyzz`)).toMatchObject({ status: 404 });
    expect(await get(`${base}/readyz/`)).toMatchObject({ status: 503 });
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const gate = readinessGate({ checks: { ping: () => false } });
    const base = await serve(gate.handler());
    const head = await fetch(`${base}/readyz`, { method: 'HEAD' });
    expect(head.status).toBe(503);
    expect(await head.text()).toBe('');
    const post = await fetch(`${base}/readyz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.text();
  });

  it('serves another path, naming the final line after its last segment', async () => {
    const gate = readinessGate({ checks: { ping: () => true } });
    const base = await serve(gate.handler({ path: '/healthz/ready/' }));
    expect(await get(`${base}/healthz/ready?verbose`)).toMatchObject({
      status: 200,
      body: '[+]ping ok\n[+]shutdown ok\nready check passed\n',
    });
    expect(await get(`${base}/healthz/ready/ping`)).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 404 });

    const root = await serve(gate.handler({ path: '/' }));
    expect(await get(`${root}/?verbose`)).toMatchObject({ status: 200, body: '[+]ping ok\n[+]shutdown ok\nreadyz check passed\n' });
    expect(await get(`${root}/ping`)).toMatchObject({ status: 200, body: 'ok' });
  });

  it('rejects a bad path at the call', () => {
    const gate = readinessGate({ checks: { ping: () => true } });
    expect(() => gate.handler({ path: 'readyz' })).toThrow(
      new TypeError('handler(): option "path" must be a URL path starting with "/", got "readyz"'),
    );
    expect(() => gate.handler({ path: '/readyz?verbose' })).toThrow(TypeError);
    expect(() => gate.handler({ path: 5 as never })).toThrow(TypeError);
  });

  it('after drain() answers 503 at once without running the checks', async () => {
    let calls = 0;
    const gate = readinessGate({
      checks: {
        ping: (_: unknown, context: CheckContext) => {
          calls++;
          return hang(_, context);
        },
      },
      timeoutMs: 60_000,
    });
    const base = await serve(gate.handler());
    gate.drain();
    expect(await get(`${base}/readyz`)).toMatchObject({
      status: 503,
      body: '[-]shutdown failed: process is shutting down\nreadyz check failed\n',
    });
    expect(await get(`${base}/readyz/shutdown`)).toMatchObject({
      status: 503,
      body: 'internal server error: process is shutting down\n',
    });
    expect(calls).toBe(0);
  });

  it('drain() ends a probe in flight at once', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const gate = readinessGate({
      checks: {
        ping: () => true,
        slow: (_: unknown, context: CheckContext) => {
          started();
          return hang(_, context);
        },
      },
      timeoutMs: 60_000,
    });
    const base = await serve(gate.handler());
    const pending = get(`${base}/readyz?verbose`);
    await running;
    gate.drain();
    expect(await pending).toMatchObject({
      status: 503,
      body: '[+]ping ok\n[-]slow failed: reason withheld\n[-]shutdown failed: process is shutting down\nreadyz check failed\n',
    });
  });

  it('lets ?exclude=shutdown see past a drain, as kube-apiserver does', async () => {
    const gate = readinessGate({ checks: { ping: () => true } });
    const base = await serve(gate.handler());
    gate.drain();
    expect(await get(`${base}/readyz?verbose&exclude=shutdown`)).toMatchObject({
      status: 200,
      body: '[+]ping ok\n[+]shutdown excluded: ok\nreadyz check passed\n',
    });
  });

  it('times out a hanging check with the gate timeoutMs', async () => {
    const gate = readinessGate({ checks: { ping: () => true, slow: hang }, timeoutMs: 50 });
    const base = await serve(gate.handler());
    expect(await get(`${base}/readyz`)).toMatchObject({
      status: 503,
      body: '[+]ping ok\n[-]slow failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n',
    });
  });

  it('aborts the checks when the client hangs up', async () => {
    let checkSignal: AbortSignal | undefined;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const gate = readinessGate({
      checks: {
        slow: (_: unknown, context: CheckContext) => {
          checkSignal = context.signal;
          started();
          return hang(_, context);
        },
      },
      timeoutMs: 60_000,
    });
    const base = await serve(gate.handler());
    const client = new AbortController();
    const pending = fetch(`${base}/readyz`, { signal: client.signal });
    await running;
    client.abort();
    await expect(pending).rejects.toThrow();
    const deadline = Date.now() + 5_000;
    while (checkSignal?.aborted !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(checkSignal?.aborted).toBe(true);
    expect((checkSignal?.reason as DOMException).message).toBe('the client closed the connection');
  });
});

describe('handler(): hardening (issue 14)', () => {
  it('withholds reasons on the aggregate endpoint, gives them on /readyz/<name> or with details, escaped', async () => {
    const secret = 'connect ECONNREFUSED postgres://app:S3cr3t@db\u000b\u000c\u0085\u2028\u202e';
    const gate = readinessGate({ checks: { 'db\u2028x': () => secret } });
    const base = await serve(gate.handler());
    const plain = await get(`${base}/readyz`);
    expect(plain.status).toBe(503);
    expect(plain.body).toBe('[-]db\\u2028x failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n');
    expect((await get(`${base}/readyz?verbose`)).body).not.toContain('S3cr3t');
    const one = await get(`${base}/readyz/${encodeURIComponent('db\u2028x')}`);
    expect(one.body).toBe('internal server error: connect ECONNREFUSED postgres://app:S3cr3t@db\\u000b\\u000c\\u0085\\u2028\\u202e\n');
    const open = await serve(gate.handler({ details: true }));
    expect((await get(`${open}/readyz`)).body).toContain('[-]db\\u2028x failed: connect ECONNREFUSED postgres://app:S3cr3t@db\\u000b');
    expect(() => gate.handler({ detail: true } as never)).toThrow(/unknown option "detail"/);
  });

  it('does not stall on a detail of 100,000 spaces (formatReport, NotReadyError, waitFor, the probe)', async () => {
    const huge = `x${' '.repeat(100_000)}y`;
    const gate = readinessGate({ checks: { big: () => huge } });
    const base = await serve(gate.handler());
    const started = performance.now();
    expect((await get(`${base}/readyz/big`)).status).toBe(503);
    expect(formatReport(await gate.evaluate(undefined)).length).toBeLessThan(1_000);
    await expect(gate.waitUntilReady([undefined], { maxAttempts: 1 })).rejects.toThrow(NotReadyError);
    await expect(waitFor(() => Promise.reject(new Error(huge)), { maxAttempts: 1, classify: () => ({ kind: 'transient', reason: 'x' }) })).rejects.toThrow(NotReadyError);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('1,000 concurrent /readyz requests share one run of the check', async () => {
    let calls = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const gate = readinessGate({ checks: { slow: async () => (calls++, await released, true) }, timeoutMs: 60_000 });
    const handler = gate.handler();
    let arrived = 0;
    const base = await serve((request, response) => {
      arrived++;
      handler(request, response);
      if (arrived === 1_000) release();
    });
    const agent = new Agent({ maxSockets: Infinity });
    const statuses = await Promise.all(
      Array.from({ length: 1_000 }, () =>
        new Promise<number>((resolve, reject) => {
          httpGet(`${base}/readyz`, { agent }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          }).on('error', reject);
        }),
      ),
    );
    agent.destroy();
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(calls).toBe(1);
  }, 60_000);
});
