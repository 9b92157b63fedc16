import { realClock } from 'ridethrough';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { activeTimers as timers } from './support/resources.js';

describe('realClock', () => {
  afterEach(() => vi.useRealTimers());

  it('now() never goes backwards', () => {
    let previous = realClock.now();
    for (let i = 0; i < 10_000; i++) {
      const now = realClock.now();
      expect(now).toBeGreaterThanOrEqual(previous);
      previous = now;
    }
  });

  it('sleeps about as long as asked (real timers, generous bound)', async () => {
    const start = realClock.now();
    await realClock.sleep(30);
    const elapsed = realClock.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(29);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('a 0 ms or negative sleep starts no timer', async () => {
    const before = timers();
    const zero = realClock.sleep(0);
    const negative = realClock.sleep(-5);
    expect(timers()).toBe(before);
    await Promise.all([zero, negative]);
  });

  it('rejects with the reason at once when aborted, and clears its timer', async () => {
    const before = timers();
    const controller = new AbortController();
    const sleeping = realClock.sleep(60_000, controller.signal);
    expect(timers()).toBe(before + 1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(timers()).toBe(before);
    await expect(realClock.sleep(10, controller.signal)).rejects.toBe(reason);
  });

  it('waits out delays longer than setTimeout can hold (2^31 - 1 ms) instead of firing at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let done = false;
    const sleeping = realClock.sleep(3e9).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2_147_483_647);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(3e9 - 2_147_483_648);
    await sleeping;
    expect(done).toBe(true);
  });
});
