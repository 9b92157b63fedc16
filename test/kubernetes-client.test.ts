/**
 * makeApiClient and retryOnConflict with the real @kubernetes/client-node 1.x against a local
 * stand-in API server (test/support/kube-api-server.ts).
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeApiClient, retryOnConflict, type ApiRetryEvent, type ApiThrottledEvent } from 'ridethrough/kubernetes';
import { createRateLimiter, createRetryBudget } from 'ridethrough/retry';
import { kubeStatus, startKubeApiServer, type KubeApiServer } from './support/kube-api-server.js';

type ClientNode = typeof import('@kubernetes/client-node');
let k8s: ClientNode;
beforeAll(async () => {
  k8s = await import('@kubernetes/client-node');
});

const servers: KubeApiServer[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function standIn(options?: Parameters<typeof startKubeApiServer>[0]): Promise<KubeApiServer> {
  const api = await startKubeApiServer(options);
  servers.push(api);
  return api;
}

function kubeConfigFor(url: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

function subscribe<T>(name: string): T[] {
  const seen: T[] = [];
  const listener = (message: unknown) => seen.push(message as T);
  diagnostics_channel.subscribe(name, listener);
  cleanups.push(() => {
    diagnostics_channel.unsubscribe(name, listener);
  });
  return seen;
}

const pod = (name: string, resourceVersion = '1') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', resourceVersion },
});

/** A connection failure's code: on the error (client-node 1.x, node-fetch) or its cause (2.x, undici fetch). */
const codeOf = (error: any): unknown => error?.code ?? error?.cause?.code;

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('makeApiClient: what is retried', () => {
  it('retries a 429 after its Retry-After, and slows the adaptive limiter down', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('TooManyRequests', { retryAfterSeconds: 1 }));
    const throttled = subscribe<ApiThrottledEvent>('ridethrough:kubernetes:throttled');
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { name: 'pods', initialDelayMs: 1 });
    const started = performance.now();
    const list = await core.listNamespacedPod({ namespace: 'default' });
    expect(list.items).toEqual([]);
    expect(api.requests.length).toBe(2);
    // Paced by the server's Retry-After (1 s), not by the 1 ms backoff.
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toMatchObject({ name: 'pods', method: 'GET' });
    expect(throttled[0]!.qps).toBeLessThan(5);
    expect(Object.isFrozen(throttled[0])).toBe(true);
  });

  it('retries a 503 for a GET, and reports the retry with the name, status and verdict', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('ServiceUnavailable'), kubeStatus('ServiceUnavailable'));
    const events: ApiRetryEvent[] = [];
    const published = subscribe<ApiRetryEvent>('ridethrough:kubernetes:retry');
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, {
      name: 'read-pods',
      initialDelayMs: 1,
      onRetry: (event) => events.push(event),
    });
    await core.listNamespacedPod({ namespace: 'default' });
    expect(api.requests.length).toBe(3);
    expect(events.map((e) => [e.attempt, e.status, e.method, e.name, e.verdict.reason])).toEqual([
      [1, 503, 'GET', 'read-pods', 'Kubernetes ServiceUnavailable'],
      [2, 503, 'GET', 'read-pods', 'Kubernetes ServiceUnavailable'],
    ]);
    expect(events[0]!.url).toContain('/api/v1/namespaces/default/pods');
    expect(Object.isFrozen(events[0])).toBe(true);
    expect(published).toEqual(events);
  });

  it('gives the caller client-node\'s own ApiException when the attempts run out', async () => {
    const api = await standIn({ respond: () => kubeStatus('ServiceUnavailable') });
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { maxAttempts: 3, initialDelayMs: 1 });
    const error = await rejection(core.listNamespacedPod({ namespace: 'default' }));
    expect(error).toBeInstanceOf(k8s.ApiException);
    expect(error.code).toBe(503);
    expect(JSON.parse(error.body).reason).toBe('ServiceUnavailable');
    expect(api.requests.length).toBe(3);
  });

  it('does not retry a POST after a 503 without Retry-After, but does with one', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('ServiceUnavailable'));
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { initialDelayMs: 1 });
    const error = await rejection(core.createNamespacedPod({ namespace: 'default', body: pod('a') }));
    expect(error.code).toBe(503);
    expect(api.requests.map((r) => r.method)).toEqual(['POST']);

    api.enqueue(kubeStatus('ServiceUnavailable', { retryAfterSeconds: 0 }), { status: 201, body: pod('b') });
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('b') });
    expect(created.metadata?.name).toBe('b');
    expect(api.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
  });

  it('retries a GET after a connection reset, but not a POST: it may have been processed', async () => {
    const api = await standIn();
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { initialDelayMs: 1 });
    api.enqueue({ reset: true });
    await core.listNamespacedPod({ namespace: 'default' });
    expect(api.requests.length).toBe(2);

    api.enqueue({ reset: true });
    const error = await rejection(core.createNamespacedPod({ namespace: 'default', body: pod('a') }));
    expect(codeOf(error)).toMatch(/ECONNRESET|UND_ERR_SOCKET/);
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('retries a POST whose connection was refused (nothing was sent)', async () => {
    // A port with nothing listening; the server comes up while the client waits to retry.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    let late: Server | undefined;
    const received: string[] = [];
    cleanups.push(() => new Promise<void>((resolve) => (late ? late.close(() => resolve()) : resolve())));
    const startServer = () => {
      if (late !== undefined) return;
      late = createServer((request, response) => {
        received.push(request.method ?? '');
        request.resume();
        response.writeHead(201, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(pod('a')));
      });
      late.listen(port, '127.0.0.1');
    };
    const failures: unknown[] = [];
    const core = makeApiClient(kubeConfigFor(`http://127.0.0.1:${port}`), k8s.CoreV1Api, {
      initialDelayMs: 200,
      jitter: 'none',
      deadlineMs: 20_000,
      onRetry: (event) => {
        failures.push(event.error);
        startServer();
      },
    });
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    expect(created.metadata?.name).toBe('a');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(codeOf(failures[0])).toBe('ECONNREFUSED');
    expect(received).toEqual(['POST']);
  });

  /** A server whose odd-numbered answers are cut after the headers and 10 bytes of body. */
  async function cuttingServer(contentLength: boolean) {
    const requests: string[] = [];
    const server = createServer((request, response) => {
      requests.push(request.method ?? '');
      request.resume();
      const body = JSON.stringify(request.method === 'GET' ? { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] } : pod('a'));
      response.writeHead(request.method === 'GET' ? 200 : 201, {
        'Content-Type': 'application/json',
        ...(contentLength ? { 'Content-Length': Buffer.byteLength(body) } : {}),
      });
      if (requests.length % 2 === 1) {
        response.write(body.slice(0, 10));
        setTimeout(() => request.socket.destroy(), 20);
      } else response.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { requests, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
  }

  it('a connection cut mid-answer: a GET is retried, a POST is not', async () => {
    const { requests, url } = await cuttingServer(false);
    const core = makeApiClient(kubeConfigFor(url), k8s.CoreV1Api, { initialDelayMs: 1 });
    const list = await core.listNamespacedPod({ namespace: 'default' });
    expect(list.items).toEqual([]);
    expect(requests).toEqual(['GET', 'GET']);
    requests.length = 0;
    const error = await rejection(core.createNamespacedPod({ namespace: 'default', body: pod('a') }));
    expect(codeOf(error)).toMatch(/ERR_STREAM_PREMATURE_CLOSE|UND_ERR_SOCKET/); // node-fetch (1.x) or undici (2.x)
    expect(requests).toEqual(['POST']);
  });

  it('attemptTimeoutMs rescues a GET whose answer, with a Content-Length, is cut mid-body (node-fetch 2 never settles it)', async () => {
    const { requests, url } = await cuttingServer(true);
    const core = makeApiClient(kubeConfigFor(url), k8s.CoreV1Api, { initialDelayMs: 1, attemptTimeoutMs: 500 });
    const list = await core.listNamespacedPod({ namespace: 'default' });
    expect(list.items).toEqual([]);
    expect(requests).toEqual(['GET', 'GET']);
  });

  it('attemptTimeoutMs: a GET that hangs is tried again, a POST that hangs is not', async () => {
    let requests: string[] = [];
    const server = createServer((request, response) => {
      requests.push(request.method ?? '');
      request.resume();
      if (requests.length === 1) return; // never answers
      response.writeHead(request.method === 'GET' ? 200 : 201, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(request.method === 'GET' ? { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] } : pod('a')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const core = makeApiClient(kubeConfigFor(url), k8s.CoreV1Api, { initialDelayMs: 1, attemptTimeoutMs: 300 });
    await core.listNamespacedPod({ namespace: 'default' });
    expect(requests).toEqual(['GET', 'GET']);
    requests = [];
    const error = await rejection(core.createNamespacedPod({ namespace: 'default', body: pod('a') }));
    expect(error.name).toBe('TimeoutError'); // ours, not the HTTP library's AbortError
    expect(error.message).toBe('attempt timed out after 300 ms');
    expect(requests).toEqual(['POST']);
  });

  it('hands a Conflict back at once, for a PUT', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('Conflict'));
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { initialDelayMs: 1 });
    const error = await rejection(core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: pod('a') }));
    expect(error).toBeInstanceOf(k8s.ApiException);
    expect(error.code).toBe(409);
    expect(api.requests.map((r) => r.method)).toEqual(['PUT']);
  });

  it('does not retry a permanent answer (403) even for a GET', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('Forbidden'));
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { initialDelayMs: 1 });
    const error = await rejection(core.listNamespacedPod({ namespace: 'default' }));
    expect(error.code).toBe(403);
    expect(api.requests.length).toBe(1);
  });

  it('an onRetry that throws or rejects changes nothing and is published on the hook-error channel', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('ServiceUnavailable'), kubeStatus('ServiceUnavailable'));
    const hookErrors = subscribe<{ hook: string; error: unknown; name?: string }>('ridethrough:kubernetes:hook-error');
    let calls = 0;
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, {
      name: 'noisy',
      initialDelayMs: 1,
      onRetry: () => {
        calls++;
        if (calls === 1) throw new Error('sync');
        return Promise.reject(new Error('async')) as unknown as void;
      },
    });
    await core.listNamespacedPod({ namespace: 'default' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(api.requests.length).toBe(3);
    expect(hookErrors.map((e) => [e.hook, (e.error as Error).message, e.name])).toEqual([
      ['onRetry', 'sync', 'noisy'],
      ['onRetry', 'async', 'noisy'],
    ]);
  });
});

describe('makeApiClient: tracing', () => {
  it('traces each call on ridethrough:kubernetes:request with name, method, attempts and status', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('ServiceUnavailable'));
    const seen: Array<[string, Record<string, unknown>]> = [];
    const handlers = {
      start: (c: unknown) => seen.push(['start', { ...(c as object) }]),
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (c: unknown) => seen.push(['asyncEnd', { ...(c as object) }]),
      error: (c: unknown) => seen.push(['error', { ...(c as object) }]),
    };
    const channel = diagnostics_channel.tracingChannel('ridethrough:kubernetes:request');
    channel.subscribe(handlers);
    cleanups.push(() => channel.unsubscribe(handlers));
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { name: 'traced', initialDelayMs: 1 });
    await core.listNamespacedPod({ namespace: 'default' });
    expect(seen.map(([phase]) => phase)).toEqual(['start', 'asyncEnd']);
    expect(seen[0]![1]).toMatchObject({ name: 'traced', method: 'GET', attempts: 0, status: undefined });
    expect(seen[1]![1]).toMatchObject({ name: 'traced', method: 'GET', attempts: 2, status: 200 });
  });
});

describe('retryOnConflict', () => {
  it('re-runs the read-modify-write on a Conflict', async () => {
    const api = await standIn();
    api.enqueue(
      { status: 200, body: pod('a', '1') },
      kubeStatus('Conflict'),
      { status: 200, body: pod('a', '2') },
      { status: 200, body: pod('a', '3') },
    );
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api);
    const runs: number[] = [];
    const saved = await retryOnConflict(async ({ attempt }) => {
      runs.push(attempt);
      const current = await core.readNamespacedPod({ name: 'a', namespace: 'default' });
      current.metadata!.labels = { touched: 'yes' };
      return core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: current });
    });
    expect(runs).toEqual([1, 2]);
    expect(saved.metadata?.resourceVersion).toBe('3');
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'PUT']);
  });

  it('does not re-run on AlreadyExists, or on anything else', async () => {
    const api = await standIn();
    api.enqueue(kubeStatus('AlreadyExists'));
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api);
    let runs = 0;
    const error = await rejection(
      retryOnConflict(() => {
        runs++;
        return core.createNamespacedPod({ namespace: 'default', body: pod('a') });
      }),
    );
    expect(error.code).toBe(409);
    expect(JSON.parse(error.body).reason).toBe('AlreadyExists');
    expect(runs).toBe(1);
    let plainRuns = 0;
    await expect(
      retryOnConflict(() => {
        plainRuns++;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(plainRuns).toBe(1);
  });

  it('throws the last Conflict when the runs (5 by default) are spent; bad options reject', async () => {
    const conflict = Object.assign(new Error('conflict'), { code: 409, body: JSON.stringify({ kind: 'Status', reason: 'Conflict', code: 409 }) });
    let runs = 0;
    const error = await rejection(
      retryOnConflict(() => {
        runs++;
        throw conflict;
      }),
    );
    expect(error).toBe(conflict);
    expect(runs).toBe(5);
    let result: Promise<unknown> | undefined;
    expect(() => (result = retryOnConflict(() => 1, { retries: 3 } as never))).not.toThrow();
    await expect(result).rejects.toThrow(/unknown option "retries"/);
    await expect(retryOnConflict('nope' as never)).rejects.toThrow(TypeError);
  });
});

describe('makeApiClient: one budget and one limiter per API server', () => {
  it('clients made from one KubeConfig share the retry budget; another KubeConfig has its own', async () => {
    const api = await standIn({ respond: () => kubeStatus('ServiceUnavailable') });
    const kc = kubeConfigFor(api.url);
    const options = { rateLimiter: false as const, initialDelayMs: 0, maxAttempts: Infinity };
    const first = makeApiClient(kc, k8s.CoreV1Api, options);
    // The default budget (100 tokens, 5 per retry) pays for 20 retries, then the call gives up.
    await rejection(first.listNamespacedPod({ namespace: 'default' }));
    expect(api.requests.length).toBe(21);
    const second = makeApiClient(kc, k8s.AppsV1Api, options);
    await rejection(second.listNamespacedDeployment({ namespace: 'default' }));
    expect(api.requests.length).toBe(22); // no retry left for the same server
    const other = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { ...options, maxAttempts: 3 });
    await rejection(other.listNamespacedPod({ namespace: 'default' }));
    expect(api.requests.length).toBe(25);
    const unbudgeted = makeApiClient(kc, k8s.CoreV1Api, { ...options, budget: false, maxAttempts: 3 });
    await rejection(unbudgeted.listNamespacedPod({ namespace: 'default' }));
    expect(api.requests.length).toBe(28);
  });

  it('clients made from one KubeConfig share the rate limiter (QPS 5, burst 10)', async () => {
    const arrivals: number[] = [];
    const api = await standIn({
      respond: () => {
        arrivals.push(performance.now());
        return { status: 200, body: { kind: 'List', apiVersion: 'v1', metadata: {}, items: [] } };
      },
    });
    const kc = kubeConfigFor(api.url);
    const core = makeApiClient(kc, k8s.CoreV1Api);
    const apps = makeApiClient(kc, k8s.AppsV1Api);
    const calls = Array.from({ length: 7 }, () => [
      core.listNamespacedPod({ namespace: 'default' }),
      apps.listNamespacedDeployment({ namespace: 'default' }),
    ]).flat();
    await Promise.all(calls);
    expect(arrivals).toHaveLength(14);
    arrivals.sort((a, b) => a - b);
    // 10 from the shared burst, then 4 more at 200 ms each: the last comes >= ~800 ms after the
    // first. Two separate limiters would have let all 14 through at once.
    expect(arrivals[13]! - arrivals[0]!).toBeGreaterThanOrEqual(700);
  });

  it('uses the limiter and budget it is given instead', async () => {
    const api = await standIn();
    const limiter = createRateLimiter({ qps: 1000, burst: 1 });
    let acquired = 0;
    const counting = { ...limiter, acquire: (signal?: AbortSignal) => (acquired++, limiter.acquire(signal)), onThrottle() {}, onSuccess() {} };
    const budget = createRetryBudget({ capacity: 5, retryCost: 5 });
    api.enqueue(kubeStatus('ServiceUnavailable'), kubeStatus('ServiceUnavailable'));
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, { rateLimiter: counting, budget, initialDelayMs: 1 });
    const error = await rejection(core.listNamespacedPod({ namespace: 'default' }));
    expect(error.code).toBe(503); // one retry paid for, then the budget is spent
    expect(api.requests.length).toBe(2);
    expect(acquired).toBe(2);
  });
});

describe('makeApiClient: arguments', () => {
  it('throws at the call for bad arguments and unknown options', () => {
    const kc = kubeConfigFor('http://127.0.0.1:1');
    expect(() => makeApiClient({} as never, k8s.CoreV1Api)).toThrow(TypeError);
    expect(() => makeApiClient(kc, 'CoreV1Api' as never)).toThrow(/ApiClass/);
    expect(() => makeApiClient(kc, k8s.CoreV1Api, { retries: 3 } as never)).toThrow(/unknown option "retries".*maxAttempts/);
    expect(() => makeApiClient(kc, k8s.CoreV1Api, { maxAttempts: 0 })).toThrow(RangeError);
    expect(() => makeApiClient(kc, k8s.CoreV1Api, { initialDelayMs: -1 })).toThrow(RangeError);
    expect(() => makeApiClient(kc, k8s.CoreV1Api, { rateLimiter: {} as never })).toThrow(/rateLimiter/);
    expect(() => makeApiClient(kc, k8s.CoreV1Api, { name: 3 as never })).toThrow(/name/);
    expect(() =>
      // The retry options accept undefined as RetryOptions does (issue 10 brings that to all of them).
      makeApiClient(kc, k8s.CoreV1Api, { name: undefined, rateLimiter: undefined, budget: undefined, onRetry: undefined }),
    ).not.toThrow();
    expect(() => makeApiClient(new k8s.KubeConfig(), k8s.CoreV1Api)).toThrow(/No active cluster/);
  });

  it('an aborted signal stops the call, mid-wait', async () => {
    const api = await standIn({ respond: () => kubeStatus('ServiceUnavailable') });
    const controller = new AbortController();
    const core = makeApiClient(kubeConfigFor(api.url), k8s.CoreV1Api, {
      signal: controller.signal,
      initialDelayMs: 10_000,
      jitter: 'none',
      onRetry: () => controller.abort(new Error('shutdown')),
    });
    const started = performance.now();
    const error = await rejection(core.listNamespacedPod({ namespace: 'default' }));
    expect(error.message).toBe('shutdown');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(api.requests.length).toBe(1);
  });
});
