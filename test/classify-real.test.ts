/**
 * Every built-in rule on the error objects Node and its clients really produce here: sockets on
 * 127.0.0.1, real TLS handshakes against a kubelet-like alert server and against certificates
 * made by openssl at test time, OpenSSL's PEM errors, real aborts, real files, and
 * @kubernetes/client-node's real ApiException and FetchError against the API stand-in.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, get as httpGet, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet, type RequestOptions } from 'node:https';
import { connect as netConnect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmptyFileError, classify, createClassifier, defaultRules, rules, type Verdict } from 'ridethrough/classify';
import { kubeStatus, startKubeApiServer, type KubeApiReply } from './support/kube-api-server.js';
import { startTlsAlertServer, TLS_ALERT_INTERNAL_ERROR } from 'ridethrough/testing';

const classifyRotating = createClassifier({ rules: [rules.rotatingFile, ...defaultRules] });

/** The settled rejection of a promise (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** The first 'error' an emitter reports. */
function firstError(emitter: NodeJS.EventEmitter): Promise<Error> {
  return new Promise((resolve) => emitter.once('error', resolve));
}

async function listen<S extends Server | HttpServer>(server: S): Promise<S & { port: number }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}

/** Closes a server and destroys the connections it still holds. */
async function shut(server: Server | HttpServer, sockets: Set<Socket>): Promise<void> {
  const closed = new Promise((resolve) => server.close(resolve));
  for (const s of sockets) s.destroy();
  await closed;
}

function track(server: Server | HttpServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return sockets;
}

/** A port on 127.0.0.1 that nothing listens on (was free a moment ago; nothing else binds here). */
async function closedPort(): Promise<number> {
  const server = await listen(createTcpServer());
  await new Promise((resolve) => server.close(resolve));
  return server.port;
}

const socketKinds = ['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap', 'ConnectWrap', 'GetAddrInfoReqWrap'];
const countSockets = (): number => process.getActiveResourcesInfo().filter((r) => socketKinds.includes(r)).length;

/** Waits (up to 5 s) until no more sockets or servers are open than `baseline`. */
async function expectNoSocketsLeft(baseline: number): Promise<void> {
  for (let waited = 0; countSockets() > baseline && waited < 5_000; waited += 20) await sleep(20);
  expect(process.getActiveResourcesInfo().filter((r) => socketKinds.includes(r))).toHaveLength(baseline);
}

let baselineSockets = 0;
beforeAll(() => {
  baselineSockets = countSockets();
});
afterAll(async () => {
  await expectNoSocketsLeft(baselineSockets);
});

// ---------------------------------------------------------------------------------------------

describe('real connection errors', () => {
  it('net.connect to a closed port: ECONNREFUSED, transient', async () => {
    const port = await closedPort();
    const error = await firstError(netConnect(port, '127.0.0.1'));
    expect(error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'ECONNREFUSED' });
  });

  it('fetch to a closed port: TypeError "fetch failed" decided by its ECONNREFUSED cause', async () => {
    const port = await closedPort();
    const error = await rejection(fetch(`http://127.0.0.1:${port}/`));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'ECONNREFUSED' });
  });

  describe('a server that destroys every connection', () => {
    let server: HttpServer & { port: number };
    let sockets: Set<Socket>;
    beforeAll(async () => {
      const raw = createHttpServer((request) => request.socket.destroy());
      sockets = track(raw);
      server = await listen(raw);
    });
    afterAll(() => shut(server, sockets));

    it('http.get: "socket hang up", ECONNRESET, transient', async () => {
      const error = await firstError(httpGet(`http://127.0.0.1:${server.port}/`));
      expect(error).toMatchObject({ code: 'ECONNRESET', message: 'socket hang up' });
      expect(classify(error)).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
    });

    it('fetch: "fetch failed" with undici UND_ERR_SOCKET cause, transient', async () => {
      const error = await rejection(fetch(`http://127.0.0.1:${server.port}/`));
      expect((error as Error).cause).toMatchObject({ code: 'UND_ERR_SOCKET' });
      expect(classify(error)).toEqual({ kind: 'transient', reason: 'UND_ERR_SOCKET' });
    });
  });

  it('a TCP reset (RST) mid-connection: read ECONNRESET, transient', async () => {
    const raw = createTcpServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const sockets = track(raw);
    const server = await listen(raw);
    try {
      const client = netConnect(server.port, '127.0.0.1', () => client.write('hello'));
      const error = await firstError(client);
      expect(error).toMatchObject({ code: 'ECONNRESET', syscall: 'read' });
      expect(classify(error)).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
    } finally {
      await shut(server, sockets);
    }
  });
});

describe('real aborts and timeouts', () => {
  let server: HttpServer & { port: number };
  let sockets: Set<Socket>;
  beforeAll(async () => {
    // Never answers: requests wait until the client gives up.
    const raw = createHttpServer(() => {});
    sockets = track(raw);
    server = await listen(raw);
  });
  afterAll(() => shut(server, sockets));

  it('fetch aborted by its caller: AbortError, permanent', async () => {
    const controller = new AbortController();
    server.once('request', () => controller.abort());
    const error = await rejection(fetch(`http://127.0.0.1:${server.port}/`, { signal: controller.signal }));
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'aborted' });
  });

  it('fetch with AbortSignal.timeout: TimeoutError, transient', async () => {
    const error = await rejection(fetch(`http://127.0.0.1:${server.port}/`, { signal: AbortSignal.timeout(100) }));
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'timed out' });
  });

  it("Node's own AbortError (timers/promises, events.once): code ABORT_ERR, permanent", async () => {
    const timerError = await rejection(sleep(60_000, undefined, { signal: AbortSignal.abort() }));
    expect(timerError).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(classify(timerError)).toEqual({ kind: 'permanent', reason: 'aborted' });
    const controller = new AbortController();
    const pending = rejection(once(server, 'never-emitted', { signal: controller.signal }));
    controller.abort();
    expect(classify(await pending)).toEqual({ kind: 'permanent', reason: 'aborted' });
  });
});

describe('real TLS: a kubelet without an approved serving certificate (alert 80)', () => {
  let kubelet: Awaited<ReturnType<typeof startTlsAlertServer>>;
  const alert: Verdict = { kind: 'transient', reason: 'TLS alert internal error' };
  beforeAll(async () => {
    kubelet = await startTlsAlertServer();
  });
  afterAll(() => kubelet.close());

  it('sends exactly the 7 alert bytes', async () => {
    expect([...TLS_ALERT_INTERNAL_ERROR]).toEqual([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50]);
  });

  it('tls.connect: ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR, transient', async () => {
    const error = await firstError(tlsConnect({ host: kubelet.host, port: kubelet.port, rejectUnauthorized: false }));
    expect(error).toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR' });
    expect(classify(error)).toEqual(alert);
  });

  it('fetch: "fetch failed" with the alert as cause, transient', async () => {
    const error = await rejection(fetch(kubelet.url));
    expect((error as Error).cause).toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR' });
    expect(classify(error)).toEqual(alert);
  });

  it('https.get: EPROTO with "tlsv1 alert internal error" in the message, transient', async () => {
    const error = await firstError(httpsGet(kubelet.url, { rejectUnauthorized: false }));
    expect(error).toMatchObject({ code: 'EPROTO' });
    expect(error.message).toContain('tlsv1 alert internal error');
    expect(classify(error)).toEqual(alert);
  });

  it('counts the alerts it sent', () => {
    expect(kubelet.alertsSent).toBeGreaterThanOrEqual(3);
  });
});

describe('real TLS certificate failures (certificates made by openssl now)', () => {
  let dir: string;
  const pem = (name: string): Buffer => readFileSync(join(dir, name));
  const servers: Array<{ server: HttpServer; sockets: Set<Socket> }> = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'classify-pki-'));
    const openssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=classify-test-ca');
    openssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
    writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost\n');
    const sign = ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-extfile', 'ext'];
    openssl(...sign, '-out', 'leaf.crt', '-days', '2');
    openssl(...sign, '-out', 'expired.crt', '-days', '-1'); // notAfter before notBefore: expired
  });

  afterAll(async () => {
    for (const { server, sockets } of servers) await shut(server, sockets);
    rmSync(dir, { recursive: true, force: true });
  });

  async function httpsServer(key: string, cert: Buffer): Promise<number> {
    const server = createHttpsServer({ key: pem(key), cert }, (_, response) => response.end('ok'));
    const sockets = track(server);
    servers.push({ server, sockets });
    return (await listen(server)).port;
  }

  const getError = (port: number, options: RequestOptions = {}): Promise<Error> =>
    firstError(httpsGet({ host: '127.0.0.1', port, path: '/', ...options }));

  it('self-signed: DEPTH_ZERO_SELF_SIGNED_CERT via https.get and via fetch, permanent', async () => {
    const port = await httpsServer('ca.key', pem('ca.crt'));
    const expected = { kind: 'permanent', reason: 'TLS certificate DEPTH_ZERO_SELF_SIGNED_CERT' };
    const error = await getError(port);
    expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(classify(error)).toEqual(expected);
    const fetchError = await rejection(fetch(`https://127.0.0.1:${port}/`));
    expect((fetchError as Error).cause).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(classify(fetchError)).toEqual(expected);
  });

  it('a leaf from an unknown CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE, permanent', async () => {
    const port = await httpsServer('leaf.key', pem('leaf.crt'));
    const error = await getError(port, { servername: 'localhost' });
    expect(error).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'TLS certificate UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('a chain ending in an untrusted root: SELF_SIGNED_CERT_IN_CHAIN, permanent', async () => {
    const port = await httpsServer('leaf.key', Buffer.concat([pem('leaf.crt'), pem('ca.crt')]));
    const error = await getError(port, { servername: 'localhost' });
    expect(error).toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'TLS certificate SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('a trusted certificate for another name: ERR_TLS_CERT_ALTNAME_INVALID, permanent', async () => {
    const port = await httpsServer('leaf.key', pem('leaf.crt'));
    const error = await getError(port, { ca: pem('ca.crt') }); // 127.0.0.1 is not in the SAN
    expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'TLS certificate ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('an expired certificate: CERT_HAS_EXPIRED, permanent', async () => {
    const port = await httpsServer('leaf.key', pem('expired.crt'));
    const error = await getError(port, { ca: pem('ca.crt'), servername: 'localhost' });
    expect(error).toMatchObject({ code: 'CERT_HAS_EXPIRED' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'TLS certificate CERT_HAS_EXPIRED' });
  });

  it('the alert server, once approved, serves real TLS with the given certificate', async () => {
    const kubelet = await startTlsAlertServer();
    try {
      expect(classify(await rejection(fetch(kubelet.url)))).toEqual({ kind: 'transient', reason: 'TLS alert internal error' });
      kubelet.approve({ key: pem('leaf.key'), cert: pem('leaf.crt'), handler: (_, response) => response.end('logs') });
      const body = await new Promise<string>((resolve, reject) => {
        httpsGet({ host: kubelet.host, port: kubelet.port, ca: pem('ca.crt'), servername: 'localhost' }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve(text));
        }).once('error', reject);
      });
      expect(body).toBe('logs');
      expect(kubelet.alertsSent).toBe(1);
    } finally {
      await kubelet.close();
    }
  });

  describe('reading PEM files that are being replaced (rules.rotatingFile)', () => {
    const caught = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (error) {
        return error;
      }
      throw new Error('expected a throw');
    };

    it('empty or garbage certificate: ERR_OSSL_PEM_NO_START_LINE', () => {
      for (const input of [Buffer.alloc(0), 'garbage', '']) {
        const error = caught(() => new X509Certificate(input));
        expect(error).toMatchObject({ code: 'ERR_OSSL_PEM_NO_START_LINE' });
        expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'PEM no start line' });
        expect(classify(error)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
      }
      const ctxError = caught(() => createSecureContext({ cert: 'garbage' }));
      expect(classifyRotating(ctxError)).toEqual({ kind: 'transient', reason: 'PEM no start line' });
    });

    it('a certificate file cut short on disk: ERR_OSSL_PEM_BAD_END_LINE', () => {
      const path = join(dir, 'half.crt');
      const full = pem('leaf.crt');
      writeFileSync(path, full.subarray(0, full.length >> 1));
      const text = readFileSync(path, 'utf8');
      for (const fn of [() => new X509Certificate(text), () => createSecureContext({ cert: text })]) {
        const error = caught(fn);
        expect(error).toMatchObject({ code: 'ERR_OSSL_PEM_BAD_END_LINE' });
        expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'PEM bad end line' });
      }
    });

    it('an empty, garbage or partial key: ERR_OSSL_UNSUPPORTED', () => {
      const key = pem('leaf.key');
      for (const input of [Buffer.alloc(0), Buffer.from('garbage'), key.subarray(0, key.length >> 1)]) {
        for (const fn of [() => createPrivateKey(input), () => createSecureContext({ key: input, cert: pem('leaf.crt') })]) {
          const error = caught(fn);
          expect(error).toMatchObject({ code: 'ERR_OSSL_UNSUPPORTED' });
          expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'key does not decode' });
        }
      }
    });

    it('key and certificate from two versions: ERR_OSSL_X509_KEY_VALUES_MISMATCH', () => {
      const error = caught(() => createSecureContext({ key: pem('ca.key'), cert: pem('leaf.crt') }));
      expect(error).toMatchObject({ code: 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' });
      expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'key does not match certificate' });
    });

    it('an empty string passes as certificate and key without any error: emptiness must be checked (EmptyFileError)', () => {
      expect(() => createSecureContext({ cert: '', key: '' })).not.toThrow();
      const path = join(dir, 'empty.crt');
      writeFileSync(path, '');
      const text = readFileSync(path, 'utf8');
      const error = caught(() => {
        if (text === '') throw new EmptyFileError(path);
      });
      expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'empty file' });
    });
  });
});

describe('real file system errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'classify-fs-'));
    writeFileSync(join(dir, 'file'), '{"a":');
    mkdirSync(join(dir, 'sub'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ENOENT: permanent by default, transient for a rotating file', async () => {
    const error = await rejection(readFile(join(dir, 'missing')));
    expect(error).toMatchObject({ code: 'ENOENT' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'ENOENT' });
    expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'ENOENT' });
  });

  it('EISDIR and ENOTDIR and EEXIST: permanent', async () => {
    expect(classify(await rejection(readFile(join(dir, 'sub'))))).toEqual({ kind: 'permanent', reason: 'EISDIR' });
    expect(classify(await rejection(readFile(join(dir, 'file', 'x'))))).toEqual({ kind: 'permanent', reason: 'ENOTDIR' });
    const exists = (() => {
      try {
        mkdirSync(join(dir, 'sub'));
      } catch (error) {
        return error;
      }
    })();
    expect(classify(exists)).toEqual({ kind: 'permanent', reason: 'EEXIST' });
  });

  it('truncated JSON read from disk: transient for a rotating file', async () => {
    const error = (() => {
      try {
        JSON.parse(readFileSync(join(dir, 'file'), 'utf8'));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(SyntaxError);
    expect(classifyRotating(error)).toEqual({ kind: 'transient', reason: 'truncated JSON' });
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'unrecognised error' });
  });
});

describe('real @kubernetes/client-node errors against the API stand-in', () => {
  let api: Awaited<ReturnType<typeof startKubeApiServer>>;
  let core: CoreV1Api;
  beforeAll(async () => {
    api = await startKubeApiServer();
    core = (await api.kubeConfig()).makeApiClient(CoreV1Api);
  });
  afterAll(() => api.close());

  async function thrown(reply: KubeApiReply): Promise<unknown> {
    api.enqueue(reply);
    return rejection(core.listNamespacedPod({ namespace: 'default' }));
  }

  it('429 TooManyRequests with Retry-After: an ApiException, transient, retryAfterMs from the server', async () => {
    const error = await thrown(kubeStatus('TooManyRequests', { retryAfterSeconds: 2 }));
    expect(error).toBeInstanceOf(ApiException);
    const e = error as ApiException<string>;
    expect(e.code).toBe(429);
    expect(typeof e.body).toBe('string'); // 1.x carries the raw text
    expect(e.headers['retry-after']).toBe('2');
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'Kubernetes TooManyRequests', retryAfterMs: 2000 });
  });

  it('a 429 whose Retry-After header is longer than details.retryAfterSeconds: the longer wins', async () => {
    const reply = kubeStatus('TooManyRequests', { retryAfterSeconds: 1 });
    const error = await thrown({ ...reply, headers: { 'Retry-After': '4' } });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'Kubernetes TooManyRequests', retryAfterMs: 4000 });
  });

  it.each([
    ['Conflict', 'transient', 'conflict'],
    ['AlreadyExists', 'permanent', 'Kubernetes AlreadyExists'],
    ['NotFound', 'permanent', 'Kubernetes NotFound'],
    ['Forbidden', 'permanent', 'Kubernetes Forbidden'],
    ['BadRequest', 'permanent', 'Kubernetes BadRequest'],
    ['Expired', 'transient', 'Kubernetes Expired'],
    ['Gone', 'transient', 'Kubernetes Gone'],
    ['InternalError', 'transient', 'Kubernetes InternalError'],
    ['ServerTimeout', 'transient', 'Kubernetes ServerTimeout'],
    ['Timeout', 'transient', 'Kubernetes Timeout'],
    ['ServiceUnavailable', 'transient', 'Kubernetes ServiceUnavailable'],
  ] as const)('%s: %s, reason %s', async (reason, kind, expected) => {
    const error = await thrown(kubeStatus(reason));
    expect(error).toBeInstanceOf(ApiException);
    expect(classify(error)).toEqual({ kind, reason: expected });
  });

  it('422 Invalid with causes (one of type InternalError): permanent', async () => {
    const error = await thrown(
      kubeStatus('Invalid', { details: { name: 'web', kind: 'pods', causes: [{ reason: 'InternalError', message: 'x' }, { reason: 'FieldValueInvalid', field: 'spec' }] } }),
    );
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'Kubernetes Invalid' });
  });

  it('401: client-node drops the body; the HTTP status decides, permanent', async () => {
    const error = await thrown(kubeStatus('Unauthorized'));
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).body).toBeUndefined();
    expect(classify(error)).toEqual({ kind: 'permanent', reason: 'HTTP 401' });
  });

  it('a reason it does not know, and a proxy page instead of a Status: the HTTP status decides', async () => {
    expect(classify(await thrown(kubeStatus('StoreReadError')))).toEqual({ kind: 'transient', reason: 'HTTP 500' });
    expect(classify(await thrown({ status: 502, body: '<html>Bad Gateway</html>' }))).toEqual({ kind: 'transient', reason: 'HTTP 502' });
  });

  it('the connection reset mid-request: node-fetch FetchError ECONNRESET, transient', async () => {
    const error = await thrown({ reset: true });
    expect(error).toMatchObject({ name: 'FetchError', code: 'ECONNRESET', type: 'system' });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'ECONNRESET' });
  });

  it('nothing listening: node-fetch FetchError ECONNREFUSED, transient', async () => {
    const down = await startKubeApiServer();
    const client = (await down.kubeConfig()).makeApiClient(CoreV1Api);
    await down.close();
    await down.close(); // idempotent
    const error = await rejection(client.listNamespacedPod({ namespace: 'default' }));
    expect(error).toMatchObject({ name: 'FetchError', code: 'ECONNREFUSED', type: 'system' });
    expect(classify(error)).toEqual({ kind: 'transient', reason: 'ECONNREFUSED' });
  });

  it('the stand-in records requests and answers 200 when nothing is queued', async () => {
    const before = api.requests.length;
    const list = await core.listNamespacedPod({ namespace: 'kube-system' });
    expect(list.items).toEqual([]);
    expect(api.requests.slice(before)).toEqual([{ method: 'GET', url: '/api/v1/namespaces/kube-system/pods' }]);
  });
});

describe('support servers leave nothing behind', () => {
  it('the alert server and the API stand-in close every socket and server', async () => {
    // Earlier tests' sockets may still be closing: start from the file's baseline.
    await expectNoSocketsLeft(baselineSockets);
    const baseline = baselineSockets;
    const kubelet = await startTlsAlertServer();
    const api = await startKubeApiServer({ respond: () => kubeStatus('ServiceUnavailable') });
    // Leave connections open on purpose: a TCP client that never sends a ClientHello, and
    // fetch's keep-alive connection to the stand-in.
    const hanging = netConnect(kubelet.port, '127.0.0.1');
    hanging.on('error', () => {});
    const hangingClosed = once(hanging, 'close');
    await once(hanging, 'connect');
    const response = await fetch(`${api.url}/api/v1/namespaces`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    expect(countSockets()).toBeGreaterThan(baseline);
    await kubelet.close();
    await kubelet.close(); // idempotent
    await api.close();
    await hangingClosed;
    await expectNoSocketsLeft(baseline);
  });
});
