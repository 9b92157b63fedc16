import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { diagnosticsChannels } from 'ridethrough';
import { createServer, type Server } from 'node:http';
import { getEventListeners, once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { permanent, transient } from 'ridethrough/classify';
import {
  NotReadyError,
  readinessGate,
  waitFor,
  type CheckContext,
  type ProgressEvent,
  type Report,
} from 'ridethrough/gate';
import type { RetryEvent } from 'ridethrough/retry';
import { kubeStatus, startKubeApiServer } from './support/kube-api-server.js';
import { failOnLeftoverTimers } from './support/resources.js';

failOnLeftoverTimers();

const hang = (_: unknown, { signal }: CheckContext): Promise<boolean> =>
  new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

const fast = { initialDelayMs: 1, maxDelayMs: 5 } as const;

describe('waitUntilReady', () => {
  it('resolves with the reports at once when every subject is ready', async () => {
    const gate = readinessGate({ checks: { up: (n: number) => n > 0 } });
    const reports = await gate.waitUntilReady([1, 2], { deadlineMs: 5_000 });
    expect(reports.map((r) => [r.key, r.ready])).toEqual([
      ['1', true],
      ['2', true],
    ]);
  });

  it('re-evaluates on the retry schedule until ready, reporting progress', async () => {
    let attempt = 0;
    const gate = readinessGate({ checks: { rolled: (_gw: string) => attempt >= 3 || `attempt ${attempt}` } });
    const progress: ProgressEvent<string>[] = [];
    const retries: RetryEvent[] = [];
    const reports = await gate.waitUntilReady(['gw-1'], {
      ...fast,
      deadlineMs: 10_000,
      onProgress: (event) => {
        attempt = event.attempt;
        progress.push(event);
      },
      onRetry: (event) => retries.push(event),
    });
    expect(reports[0]!.ready).toBe(true);
    expect(progress.map((p) => [p.attempt, p.ready])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(progress[1]!.reports[0]!.results[0]!.detail).toBe('attempt 1');
    for (const p of progress) expect(p.elapsedMs).toBeGreaterThanOrEqual(0);
    // Each retry carries what was not ready then.
    expect(retries).toHaveLength(3);
    expect(retries[0]!.error).toBeInstanceOf(NotReadyError);
    expect((retries[0]!.error as NotReadyError).message).toBe('not ready (attempt 1):\n  gw-1: rolled: attempt 0');
    expect(retries[0]!.verdict.kind).toBe('transient');
  });

  it('is bounded by the deadline by default, not by a count of attempts', async () => {
    let attempts = 0;
    const gate = readinessGate({ checks: { fifteenth: () => attempts >= 15 } });
    const reports = await gate.waitUntilReady([1], {
      initialDelayMs: 1,
      maxDelayMs: 1,
      deadlineMs: 60_000,
      onProgress: () => attempts++,
    });
    expect(reports[0]!.ready).toBe(true);
    expect(attempts).toBe(16);
  });

  it('rejects with NotReadyError when the deadline passes, listing each failing subject and check', async () => {
    const gate = readinessGate({
      checks: {
        dns: () => true,
        tunnel: (gw: string) => gw !== 'gw-2' || 'status is DOWN',
        key: (gw: string) => gw !== 'gw-3' || { ok: false, detail: 'key version 1, want 2' },
      },
    });
    const started = performance.now();
    const error = await gate.waitUntilReady(['gw-1', 'gw-2', 'gw-3'], { ...fast, deadlineMs: 200 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(NotReadyError);
    const notReady = error as NotReadyError<string>;
    expect(notReady.name).toBe('NotReadyError');
    expect(notReady.message).toMatch(
      /^not ready after \d+ ms and \d+ attempts:\n {2}gw-2: tunnel: status is DOWN\n {2}gw-3: key: key version 1, want 2$/,
    );
    expect(notReady.reports.map((r) => [r.key, r.ready])).toEqual([
      ['gw-1', true],
      ['gw-2', false],
      ['gw-3', false],
    ]);
    expect(notReady.cause).toBeUndefined();
  });

  it('ends a hanging evaluation at the deadline and reports the check as aborted', async () => {
    let checkSignal: AbortSignal | undefined;
    const gate = readinessGate({
      checks: {
        ok: () => true,
        slow: (s: number, context) => {
          checkSignal = context.signal;
          return hang(s, context);
        },
      },
      timeoutMs: 60_000,
    });
    const started = performance.now();
    const error = (await gate.waitUntilReady([7], { deadlineMs: 150 }).catch((e: unknown) => e)) as NotReadyError;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.message).toMatch(/^not ready after \d+ ms and 1 attempt:\n {2}7: slow: aborted: .*deadline/);
    expect(error.reports[0]!.results.map((r) => [r.name, r.ok])).toEqual([
      ['ok', true],
      ['slow', false],
    ]);
    expect(checkSignal?.aborted).toBe(true);
  });

  it('gives up at once on a permanent check error, with the error as cause', async () => {
    const notFound = permanent(new Error('pods "gw-9" not found'));
    let evaluations = 0;
    const gate = readinessGate({
      checks: {
        pod: async (gw: string) => {
          evaluations++;
          if (gw === 'gw-9') throw notFound;
          return true;
        },
      },
    });
    const error = (await gate.waitUntilReady(['gw-1', 'gw-9'], { deadlineMs: 60_000 }).catch((e: unknown) => e)) as NotReadyError;
    expect(error).toBeInstanceOf(NotReadyError);
    expect(evaluations).toBe(2);
    expect(error.cause).toBe(notFound);
    expect(error.message).toBe(
      'not ready after ' +
        error.message.match(/after (\d+) ms/)![1] +
        ' ms and 1 attempt; gave up at once: gw-9: pod: marked permanent:\n  gw-9: pod: pods "gw-9" not found (permanent)',
    );
  });

  it('retries transient check errors, waiting at least the Retry-After they carry', async () => {
    let calls = 0;
    const gate = readinessGate({
      checks: {
        api: async () => {
          calls++;
          if (calls < 3) throw transient(new Error('HTTP 429'), { retryAfterMs: 30 });
          return true;
        },
      },
    });
    const delays: number[] = [];
    const reports = await gate.waitUntilReady(['x'], { ...fast, deadlineMs: 10_000, onRetry: (e) => delays.push(e.delayMs) });
    expect(reports[0]!.ready).toBe(true);
    expect(delays).toEqual([30, 30]);
  });

  it('rejects with signal.reason promptly when aborted mid-wait or mid-evaluation', async () => {
    const gate = readinessGate({ checks: { never: () => false } });
    const controller = new AbortController();
    const reason = new Error('operator stopping');
    const waiting = gate.waitUntilReady([1], { initialDelayMs: 10_000, maxDelayMs: 10_000, jitter: 'none', signal: controller.signal });
    setTimeout(() => controller.abort(reason), 30);
    const started = performance.now();
    await expect(waiting).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);

    let checkSignal: AbortSignal | undefined;
    const slow = readinessGate({
      checks: {
        slow: (s: number, context) => {
          checkSignal = context.signal;
          return hang(s, context);
        },
      },
      timeoutMs: 60_000,
    });
    const second = new AbortController();
    const evaluating = slow.waitUntilReady([1], { signal: second.signal });
    setTimeout(() => second.abort(reason), 30);
    await expect(evaluating).rejects.toBe(reason);
    expect(checkSignal?.aborted).toBe(true);
  });

  it('does not call a check when the signal is already aborted', async () => {
    let calls = 0;
    const gate = readinessGate({ checks: { a: () => ++calls > 0 } });
    const reason = new Error('already');
    await expect(gate.waitUntilReady([1], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it('gives up at once when the gate drains, even in the middle of a long pause', async () => {
    const gate = readinessGate({ checks: { never: () => false } });
    let evaluations = 0;
    const waiting = gate.waitUntilReady(['gw-1'], {
      initialDelayMs: 10_000,
      maxDelayMs: 10_000,
      jitter: 'none',
      onProgress: () => evaluations++,
    });
    setTimeout(() => gate.drain(), 30);
    const started = performance.now();
    const error = (await waiting.catch((e: unknown) => e)) as NotReadyError;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(evaluations).toBe(1);
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.message).toMatch(/^not ready after \d+ ms and 1 attempt; gave up at once: gate drained:\n {2}gw-1: never: not ready$/);

    // A wait started after drain() ends at its first evaluation, which reports the shutdown.
    const later = (await gate.waitUntilReady(['gw-2'], { deadlineMs: 60_000 }).catch((e: unknown) => e)) as NotReadyError;
    expect(later.message).toMatch(/gave up at once: gate drained:\n {2}gw-2: shutdown: process is shutting down$/);
  });

  it('drain() ends a wait whose evaluation is running', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const gate = readinessGate({
      checks: {
        ok: () => true,
        slow: (s: string, context) => {
          started();
          return hang(s, context);
        },
      },
      timeoutMs: 60_000,
    });
    const waiting = gate.waitUntilReady(['gw-1'], { deadlineMs: 60_000 }).catch((e: unknown) => e);
    await running;
    gate.drain();
    const error = (await waiting) as NotReadyError;
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.message).toMatch(
      /^not ready after \d+ ms and 1 attempt; gave up at once: gate drained:\n {2}gw-1: slow: aborted: the gate is draining\n {2}gw-1: shutdown: process is shutting down$/,
    );
  });

  it('publishes what onProgress, onRetry and onRecovered throw or reject on gate:hook-error; the wait goes on (issue 10)', async () => {
    const published: { hook: string; error: unknown; name?: string }[] = [];
    const listen = (message: unknown): void => void published.push(message as (typeof published)[number]);
    subscribe(diagnosticsChannels.gate.hookError, listen);
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown): void => void unhandled.push(error);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    try {
      let attempts = 0;
      const gate = readinessGate({
        name: 'gw',
        checks: { second: () => attempts++ > 0 },
      });
      const bug = new Error('hook bug');
      const reports = await gate.waitUntilReady([1], {
        ...fast,
        deadlineMs: 10_000,
        onProgress: (event) => {
          expect(Object.isFrozen(event)).toBe(true);
          if (event.attempt === 1) throw bug;
          return Promise.reject(bug);
        },
        onRetry: () => {
          throw bug;
        },
        onRecovered: async () => {
          throw bug;
        },
      });
      expect(reports).toHaveLength(1);
      const waited = await waitFor(() => (attempts++ > 3 ? 'done' : undefined), {
        ...fast,
        name: 'later',
        deadlineMs: 10_000,
        onRetry: async () => {
          throw bug;
        },
      });
      expect(waited).toBe('done');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(published.map((m) => m.hook)).toEqual(expect.arrayContaining(['onProgress', 'onRetry', 'onRecovered']));
      expect(published.every((m) => m.error === bug && Object.isFrozen(m))).toBe(true);
      expect(published.find((m) => m.hook === 'onProgress')?.name).toBe('gw');
      expect(published.some((m) => m.name === 'later')).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      unsubscribe(diagnosticsChannels.gate.hookError, listen);
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    }
  });

  it('evaluates the subjects given at the call, even if the array changes later', async () => {
    const seen: number[] = [];
    const subjects = [1, 2];
    const gate = readinessGate({ checks: { log: (n: number) => (seen.push(n), seen.length > 4) } });
    const waiting = gate.waitUntilReady(subjects, { ...fast, deadlineMs: 10_000 });
    subjects.push(3);
    await waiting;
    expect(seen).toEqual([1, 2, 1, 2, 1, 2]);
  });

  it('stops after maxAttempts evaluations', async () => {
    let evaluations = 0;
    const gate = readinessGate({ checks: { never: () => (evaluations++, false) } });
    const error = (await gate.waitUntilReady([1], { ...fast, maxAttempts: 3 }).catch((e: unknown) => e)) as NotReadyError;
    expect(error.message).toMatch(/^not ready after \d+ ms and 3 attempts:\n {2}1: never: not ready$/);
    expect(evaluations).toBe(3);
  });

  it('throws at the call on bad input, naming waitUntilReady()', async () => {
    const gate = readinessGate({ checks: { a: (_: number) => true } });
    await expect(gate.waitUntilReady([1, 1])).rejects.toThrow(/^waitUntilReady\(\): subjects 0 and 1 have the same key "1"/);
    await expect(gate.waitUntilReady('gw-1' as never)).rejects.toThrow(TypeError);
    await expect(gate.waitUntilReady([1], { deadlineMs: -1 })).rejects.toThrow(
      new RangeError('waitUntilReady(): option "deadlineMs" must be a finite number > 0 and <= 2147483647, got -1'),
    );
    await expect(gate.waitUntilReady([1], { maxAttempts: 0 })).rejects.toThrow(RangeError);
    await expect(gate.waitUntilReady([1], { onProgress: 5 as never })).rejects.toThrow(/option "onProgress" must be a function/);
    await expect(gate.waitUntilReady([1], { classify: () => ({ kind: 'transient', reason: '' }) } as never)).rejects.toThrow(
      /option "classify" belongs to readinessGate\(\)/,
    );
  });
});

describe('waitUntilReady: five checks over three gateways that become ready at different times', () => {
  interface GatewayState {
    reachable: boolean;
    tunnel: 'UP' | 'DOWN';
    keyVersion: number;
    peers: number;
    config: string;
  }
  interface Gateway {
    name: string;
    readonly url: string;
    state: GatewayState;
    server: Server;
    sockets: Set<Socket>;
  }
  const gateways: Gateway[] = [];

  /**
   * A gateway's status endpoint on 127.0.0.1. While not `reachable`, its address is the same port
   * on 127.0.0.2, where nothing can listen while the server holds the port on 127.0.0.1: the
   * connection is refused, as for a pod being rescheduled.
   */
  async function startGateway(name: string, state: GatewayState): Promise<Gateway> {
    const sockets = new Set<Socket>();
    const server = createServer((request, response) => {
      const body = JSON.stringify(state);
      response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      response.end(body);
    });
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const gateway: Gateway = {
      name,
      get url() {
        return state.reachable ? `http://127.0.0.1:${port}/status` : `http://127.0.0.2:${port}/status`;
      },
      state,
      server,
      sockets,
    };
    gateways.push(gateway);
    return gateway;
  }

  afterEach(async () => {
    for (const gw of gateways.splice(0)) {
      for (const socket of gw.sockets) socket.destroy();
      await new Promise((resolve) => gw.server.close(resolve));
    }
  });

  async function status(gw: Gateway, signal: AbortSignal): Promise<GatewayState> {
    const response = await fetch(gw.url, { signal });
    return (await response.json()) as GatewayState;
  }

  function rotationGate() {
    return readinessGate({
      checks: {
        reachable: async (gw: Gateway, { signal }) => (await fetch(gw.url, { signal }).then((r) => r.text()), true),
        tunnel: async (gw: Gateway, { signal }) => {
          const { tunnel } = await status(gw, signal);
          return tunnel === 'UP' || `status is ${tunnel}`;
        },
        key: async (gw: Gateway, { signal }) => {
          const { keyVersion } = await status(gw, signal);
          return { ok: keyVersion >= 2, detail: `key version ${keyVersion}, want 2` };
        },
        peers: async (gw: Gateway, { signal }) => {
          const { peers } = await status(gw, signal);
          return peers === 2 || `${peers} of 2 peers connected`;
        },
        config: async (gw: Gateway, { signal }) => (await status(gw, signal)).config === 'v2' || 'old config',
      },
      key: (gw) => gw.name,
      timeoutMs: 5_000,
    });
  }

  const readyState = (): GatewayState => ({ reachable: true, tunnel: 'UP', keyVersion: 2, peers: 2, config: 'v2' });

  it('waits for the last gateway, and says at each step who is not ready and why', async () => {
    const gw1 = await startGateway('gw-1', readyState());
    const gw2 = await startGateway('gw-2', { ...readyState(), tunnel: 'DOWN', keyVersion: 1, peers: 1 });
    const gw3 = await startGateway('gw-3', { ...readyState(), reachable: false, config: 'v1' });
    // What happens between evaluations: gw-3 comes up, then gw-2's tunnel, peers and key.
    const timeline: Record<number, () => void> = {
      2: () => (gw3.state.reachable = true),
      3: () => (gw3.state.config = 'v2'),
      4: () => (gw2.state.tunnel = 'UP'),
      5: () => (gw2.state.peers = 2),
      6: () => (gw2.state.keyVersion = 2),
    };
    const notReady: string[][] = [];
    const gate = rotationGate();
    const reports = await gate.waitUntilReady([gw1, gw2, gw3], {
      initialDelayMs: 5,
      maxDelayMs: 20,
      deadlineMs: 20_000,
      onProgress: ({ attempt, reports: now }) => {
        notReady.push(
          now.flatMap((r) => r.results.filter((c) => !c.ok).map((c) => `${r.key}: ${c.name}: ${c.detail.replace(/\n.*/s, '')}`)),
        );
        timeline[attempt]?.();
      },
    });
    expect(reports.map((r) => [r.key, r.ready])).toEqual([
      ['gw-1', true],
      ['gw-2', true],
      ['gw-3', true],
    ]);
    expect(reports.every((r) => r.results.length === 5)).toBe(true);
    // gw-3 refuses connections at first: a real transient fetch failure (ECONNREFUSED), retried.
    const gw3Down = ['reachable', 'tunnel', 'key', 'peers', 'config'].map((c) => `gw-3: ${c}: fetch failed`);
    expect(notReady).toEqual([
      ['gw-2: tunnel: status is DOWN', 'gw-2: key: key version 1, want 2', 'gw-2: peers: 1 of 2 peers connected', ...gw3Down],
      ['gw-2: tunnel: status is DOWN', 'gw-2: key: key version 1, want 2', 'gw-2: peers: 1 of 2 peers connected', ...gw3Down],
      ['gw-2: tunnel: status is DOWN', 'gw-2: key: key version 1, want 2', 'gw-2: peers: 1 of 2 peers connected', 'gw-3: config: old config'],
      ['gw-2: tunnel: status is DOWN', 'gw-2: key: key version 1, want 2', 'gw-2: peers: 1 of 2 peers connected'],
      ['gw-2: key: key version 1, want 2', 'gw-2: peers: 1 of 2 peers connected'],
      ['gw-2: key: key version 1, want 2'],
      [],
    ]);
  });

  it('names the gateway that never became ready when the deadline passes', async () => {
    const gw1 = await startGateway('gw-1', readyState());
    const gw2 = await startGateway('gw-2', { ...readyState(), keyVersion: 1 });
    const gw3 = await startGateway('gw-3', readyState());
    const gate = rotationGate();
    const error = (await gate
      .waitUntilReady([gw1, gw2, gw3], { initialDelayMs: 5, maxDelayMs: 20, deadlineMs: 1500 }) // room for a first full evaluation on a loaded machine
      .catch((e: unknown) => e)) as NotReadyError<Gateway>;
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.message).toMatch(/^not ready after \d+ ms and \d+ attempts?:\n {2}gw-2: key: key version 1, want 2$/);
    expect(error.reports.map((r: Report<Gateway>) => r.ready)).toEqual([true, false, true]);
  });
});

describe('waitFor', () => {
  it('takes retry\'s maxRetryAfterMs and hands it on: a server wait beyond it gives up at once', async () => {
    // A classifier that says "transient, but come back in a minute", as a Retry-After would.
    const busy = new Error('503 busy');
    const classify = (): { kind: 'transient'; reason: string; retryAfterMs: number } => ({ kind: 'transient', reason: 'busy', retryAfterMs: 60_000 });
    const started = performance.now();
    // Without the limit it would wait the minute; with it, the wait ends at once, saying why.
    await expect(waitFor(() => Promise.reject(busy), { classify, maxRetryAfterMs: 1_000 })).rejects.toBeInstanceOf(NotReadyError);
    expect(performance.now() - started).toBeLessThan(20_000);
    // waitUntilReady takes it too (its types always did).
    const gate = readinessGate({ checks: { up: () => true } });
    expect((await gate.waitUntilReady(['a'], { maxRetryAfterMs: 1_000 }))[0]!.ready).toBe(true);
  });

  it('resolves with the first value that is not undefined or false', async () => {
    const answers: unknown[] = [undefined, false, undefined, { exitCode: 0 }];
    let calls = 0;
    const value = await waitFor(() => answers[calls++] as { exitCode: number } | undefined, { ...fast, deadlineMs: 10_000 });
    expect(value).toEqual({ exitCode: 0 });
    expect(calls).toBe(4);
    expect(await waitFor(() => null)).toBeNull();
    expect(await waitFor(async () => 0)).toBe(0);
  });

  it('passes the attempt context and retries transient errors', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const seen: number[] = [];
    const value = await waitFor(
      ({ attempt, signal }) => {
        seen.push(attempt);
        expect(signal).toBeInstanceOf(AbortSignal);
        if (attempt < 3) throw reset;
        return 'ok';
      },
      { ...fast, deadlineMs: 10_000 },
    );
    expect([value, seen]).toEqual(['ok', [1, 2, 3]]);
  });

  it('ends at once on a Kubernetes NotFound, rejecting with the ApiException itself', async () => {
    const api = await startKubeApiServer();
    try {
      api.enqueue(kubeStatus('NotFound', { message: 'pods "job-1" not found', details: { name: 'job-1', kind: 'pods' } }));
      const core = (await api.kubeConfig()).makeApiClient(CoreV1Api);
      let calls = 0;
      const thrown = await waitFor(
        async () => {
          calls++;
          const pod = await core.readNamespacedPod({ name: 'job-1', namespace: 'default' });
          return pod.status?.containerStatuses?.[0]?.state?.terminated;
        },
        { deadlineMs: 60_000 },
      ).catch((e: unknown) => e);
      expect(calls).toBe(1);
      expect(thrown).toBeInstanceOf(Error);
      expect(thrown).not.toBeInstanceOf(NotReadyError);
      expect((thrown as { code?: number }).code).toBe(404);
    } finally {
      await api.close();
    }
  });

  it('rejects with NotReadyError at the deadline, saying what the last call did', async () => {
    const error = (await waitFor(() => undefined, { ...fast, deadlineMs: 150, name: 'terminated state' }).catch(
      (e: unknown) => e,
    )) as NotReadyError;
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.message).toMatch(/^terminated state: not met after \d+ ms and \d+ attempts \(last: returned undefined\)$/);
    expect(error.cause).toBeUndefined();
    expect(error.reports[0]!.results[0]).toMatchObject({ name: 'terminated state', ok: false, detail: 'returned undefined' });

    const reset = transient(new Error('socket hang up'));
    const failing = (await waitFor(
      () => {
        throw reset;
      },
      { ...fast, deadlineMs: 150 },
    ).catch((e: unknown) => e)) as NotReadyError;
    expect(failing.message).toMatch(/^condition: not met after \d+ ms and \d+ attempts \(last: socket hang up\)$/);
    expect(failing.cause).toBe(reset);
    expect(failing.reports[0]!.results[0]!.error).toBe(reset);
  });

  it('settles at the deadline even when the condition ignores its signal', async () => {
    const started = performance.now();
    const error = (await waitFor(() => new Promise<undefined>(() => {}), { deadlineMs: 100 }).catch((e: unknown) => e)) as NotReadyError;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.message).toMatch(/\(last: aborted: .*deadline.*\)$/);
  });

  it('rejects with signal.reason promptly, mid-wait, and never calls again', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    let calls = 0;
    const waiting = waitFor(() => (calls++, undefined), {
      initialDelayMs: 10_000,
      maxDelayMs: 10_000,
      jitter: 'none',
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 30);
    const started = performance.now();
    await expect(waiting).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(calls).toBe(1);
  });

  it('uses the classify option', async () => {
    const odd = new Error('odd');
    let calls = 0;
    const value = await waitFor(
      () => {
        if (++calls < 3) throw odd;
        return calls;
      },
      { ...fast, classify: (e) => (e === odd ? { kind: 'transient', reason: 'odd' } : { kind: 'permanent', reason: 'other' }) },
    );
    expect(value).toBe(3);
    const boom = new Error('boom');
    await expect(
      waitFor(
        () => {
          throw boom;
        },
        {
          classify: () => {
            throw new Error('classifier bug');
          },
        },
      ),
    ).rejects.toBe(boom);
  });

  it('throws at the call on bad input, naming waitFor()', async () => {
    await expect(waitFor('ready' as never)).rejects.toThrow(new TypeError('waitFor(): "condition" must be a function, got "ready"'));
    await expect(waitFor(() => true, { name: 5 as never })).rejects.toThrow(/option "name" must be a string/);
    await expect(waitFor(() => true, { deadlineMs: Number.NaN })).rejects.toThrow(
      new RangeError('waitFor(): option "deadlineMs" must be a finite number > 0 and <= 2147483647, got NaN'),
    );
    await expect(waitFor(() => true, { clock: {} as never })).rejects.toThrow(TypeError);
  });
});

describe('waiting leaves no listener on the caller\'s signal', () => {
  const notYet = readinessGate({ checks: { slow: async () => new Promise<string>((r) => setTimeout(() => r('not yet'), 2)) } });
  const paths: Array<[string, (signal: AbortSignal) => Promise<unknown>, number | undefined]> = [
    ['waitUntilReady: ready', (signal) => readinessGate({ checks: { ok: async () => true } }).waitUntilReady([1, 2], { signal }), undefined],
    ['waitUntilReady: deadline', (signal) => notYet.waitUntilReady([1, 2], { ...fast, signal, deadlineMs: 50 }), undefined],
    ['waitUntilReady: attempts', (signal) => notYet.waitUntilReady([1], { ...fast, signal, maxAttempts: 3 }), undefined],
    ['waitUntilReady: abort', (signal) => notYet.waitUntilReady([1], { ...fast, signal }), 30],
    ['waitUntilReady: drain', (signal) => {
      const gate = readinessGate({ checks: { slow: async () => 'not yet' } });
      setTimeout(() => gate.drain(), 30);
      return gate.waitUntilReady([1], { ...fast, signal });
    }, undefined],
    ['waitFor: value', (signal) => waitFor(({ attempt }) => attempt === 3 && 'done', { ...fast, signal }), undefined],
    ['waitFor: deadline', (signal) => waitFor(() => undefined, { ...fast, signal, deadlineMs: 50 }), undefined],
    ['waitFor: abort', (signal) => waitFor(() => undefined, { ...fast, signal }), 30],
  ];
  it.each(paths)('%s', async (_name, run, abortAfterMs) => {
    const controller = new AbortController();
    const aborter = abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(new Error('stop')), abortAfterMs);
    await run(controller.signal).catch(() => {});
    clearTimeout(aborter);
    expect(getEventListeners(controller.signal, 'abort')).toEqual([]);
  });
});
