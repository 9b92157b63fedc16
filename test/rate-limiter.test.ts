import { describe, expect, it } from 'vitest';
import { createRateLimiter } from 'ridethrough/retry';
import { FakeClock, flush } from 'ridethrough/testing';
import { activeTimers } from './support/resources.js';
import { pollUntil } from './support/poll.js';

/** Starts `n` acquisitions and records, for each, the fake time at which it was granted. */
function acquireMany(limiter: ReturnType<typeof createRateLimiter>, clock: FakeClock, n: number, signal?: AbortSignal) {
  const grantedAt: Array<number | undefined> = Array.from({ length: n }, () => undefined);
  const settled = Array.from({ length: n }, (_, i) =>
    limiter.acquire(signal).then(
      () => (grantedAt[i] = clock.now()),
      (error: unknown) => error,
    ),
  );
  return { grantedAt, settled };
}

describe('createRateLimiter: the schedule (fake clock)', () => {
  it('defaults to client-go figures: a burst of 10 at once, then one call every 200 ms', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter({ clock });
    expect(limiter.qps).toBe(5);
    const { grantedAt } = acquireMany(limiter, clock, 13);
    await flush();
    expect(grantedAt.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(grantedAt.slice(10)).toEqual([undefined, undefined, undefined]);
    expect(limiter.waiting).toBe(3);
    expect(clock.pending).toEqual([200]);
    await clock.advance(600);
    expect(grantedAt.slice(10)).toEqual([200, 400, 600]);
    expect(limiter.waiting).toBe(0);
    expect(clock.pending).toEqual([]);
  });

  it('refills while idle, never beyond the burst', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter({ qps: 10, burst: 3, clock });
    for (let i = 0; i < 3; i++) expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    clock.spend(150); // 1.5 tokens
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    clock.spend(10_000);
    let granted = 0;
    while (limiter.tryAcquire()) granted++;
    expect(granted).toBe(3);
  });

  it('serves waiters in arrival order; tryAcquire does not jump the queue', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter({ qps: 1, burst: 1, clock });
    const order: number[] = [];
    const all = [0, 1, 2].map((i) => limiter.acquire().then(() => order.push(i)));
    await flush();
    expect(order).toEqual([0]);
    clock.spend(5_000);
    expect(limiter.tryAcquire()).toBe(false); // two are waiting
    await clock.advance(2_000);
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2]);
  });

  it('an aborted waiter gives its place up, rejects with the reason, and the last one leaves no timer', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter({ qps: 1, burst: 1, clock });
    await limiter.acquire();
    const shared = new AbortController();
    const { grantedAt, settled } = acquireMany(limiter, clock, 3, shared.signal);
    const other = limiter.acquire();
    await flush();
    expect(limiter.waiting).toBe(4);
    const reason = new Error('shutting down');
    shared.abort(reason);
    const results = await Promise.all(settled);
    expect(results).toEqual([reason, reason, reason]);
    expect(grantedAt).toEqual([undefined, undefined, undefined]);
    expect(limiter.waiting).toBe(1);
    // The surviving waiter is next in line: granted after one token, not four.
    await clock.advance(1_000);
    await other;
    expect(clock.now()).toBe(1_000);
    expect(clock.pending).toEqual([]);
  });

  it('an already aborted signal rejects at once and takes no token', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter({ qps: 1, burst: 1, clock });
    const reason = new Error('no');
    await expect(limiter.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('adaptive: a throttle cuts the rate to 70% of what was sent, then CUBIC brings it back to qps', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter({ qps: 10, burst: 1, adaptive: true, clock });
    // Send as fast as allowed for 3 s, so the measured rate settles at 10/s.
    const sendFor = async (ms: number, each?: () => void) => {
      const end = clock.now() + ms;
      while (clock.now() < end) {
        const granted = limiter.acquire();
        await clock.next();
        await granted;
        each?.();
      }
    };
    await sendFor(3_000);
    limiter.onThrottle();
    expect(limiter.qps).toBeGreaterThan(6.3);
    expect(limiter.qps).toBeLessThan(7.7);
    const afterThrottle = limiter.qps;
    // A second throttle at once cuts again, from the rate now in force.
    limiter.onThrottle();
    expect(limiter.qps).toBeLessThan(afterThrottle);
    // Successes from here on: the rate climbs, never past qps, and is back at qps within ~3 s
    // (timeWindow = cbrt(lastMax * 0.3 / 0.4) is about 1.7 s for lastMax ~ 7).
    const seen: number[] = [];
    await sendFor(6_000, () => {
      limiter.onSuccess();
      seen.push(limiter.qps);
    });
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]! - 1e-9);
    expect(Math.max(...seen)).toBeLessThanOrEqual(10);
    expect(limiter.qps).toBe(10);
    // Gradual: it took more than a few calls to get there.
    expect(seen.filter((q) => q < 10).length).toBeGreaterThan(5);
  });

  it('adaptive: never slower than minQps; a plain limiter ignores throttle reports', async () => {
    const clock = new FakeClock();
    const adaptive = createRateLimiter({ qps: 5, adaptive: true, minQps: 1, clock });
    for (let i = 0; i < 20; i++) adaptive.onThrottle();
    expect(adaptive.qps).toBe(1);
    const plain = createRateLimiter({ qps: 5, clock });
    plain.onThrottle();
    expect(plain.qps).toBe(5);
  });

  it('checks its options at the call', () => {
    expect(() => createRateLimiter({ qps: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ qps: '5' as never })).toThrow(TypeError);
    expect(() => createRateLimiter({ burst: 1.5 })).toThrow(/burst/);
    expect(() => createRateLimiter({ qps: 1, minQps: 2 })).toThrow(/minQps/);
    expect(() => createRateLimiter({ rate: 5 } as never)).toThrow(/unknown option "rate"/);
    expect(() => createRateLimiter({ qps: undefined, burst: undefined, adaptive: undefined })).not.toThrow();
  });

  it('acquire rejects (never throws) on a signal that is not one', async () => {
    const limiter = createRateLimiter();
    let result: Promise<void> | undefined;
    expect(() => (result = limiter.acquire('soon' as never))).not.toThrow();
    await expect(result).rejects.toThrow(TypeError);
  });
});

describe('createRateLimiter: real timers', () => {
  it('paces a loop of calls to qps after the burst', async () => {
    const limiter = createRateLimiter({ qps: 40, burst: 2 });
    const started = performance.now();
    for (let i = 0; i < 6; i++) await limiter.acquire();
    // 2 at once, then 4 more at 25 ms each: at least ~100 ms (a loaded machine only adds).
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('aborting many waiters on one shared signal leaves no timer behind', async () => {
    const before = activeTimers();
    const limiter = createRateLimiter({ qps: 0.5, burst: 1 });
    await limiter.acquire();
    const shutdown = new AbortController();
    const waits = Array.from({ length: 1_000 }, () => limiter.acquire(shutdown.signal).catch((e: unknown) => e));
    await pollUntil(() => limiter.waiting === 1_000, 'all waiters queued');
    expect(activeTimers()).toBe(before + 1);
    shutdown.abort(new Error('stop'));
    const results = await Promise.all(waits);
    expect(results.every((r) => r instanceof Error && r.message === 'stop')).toBe(true);
    expect(limiter.waiting).toBe(0);
    await pollUntil(() => activeTimers() === before, 'the limiter timer to be cleared');
  });
});
