/**
 * The schedule of watchWithFallback (interval, jitter, retry after failures, re-arm attempts),
 * driven by a fake clock. The file watch underneath is real; only time is fake.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchWithFallback, type WakeReason, type Watcher, type WatchOptions } from 'ridethrough/watch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from 'ridethrough/testing';
import { pollUntil } from './support/poll.js';

let dir: string;
let file: string;
const watchers: Watcher[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-watch-schedule-'));
  file = join(dir, 'token');
  await writeFile(file, 'v1');
});

afterEach(async () => {
  for (const watcher of watchers.splice(0)) await watcher.close();
  await rm(dir, { recursive: true, force: true });
});

function start(onWake: (reason: WakeReason) => void, options: WatchOptions) {
  const clock = new FakeClock();
  const reasons: WakeReason[] = [];
  const errors: Array<{ error: unknown; source: string }> = [];
  const watcher = watchWithFallback(
    file,
    ({ reason }) => {
      reasons.push(reason);
      onWake(reason);
    },
    { clock, onError: (error, { source }) => errors.push({ error, source }), ...options },
  );
  watchers.push(watcher);
  /** Waits until the watcher has asked for its next timer (a single pending sleep), and returns it. */
  const nextTimer = async (): Promise<number> => {
    await pollUntil(() => clock.pending.length === 1, 'the next timer');
    return clock.pending[0]!;
  };
  return { clock, reasons, errors, watcher, nextTimer };
}

describe('the interval', () => {
  it('restarts after every run: intervalMs plus up to `jitter` of it at random', async () => {
    const randoms = [0.5, 0, 0.999];
    const t = start(() => {}, { intervalMs: 1000, jitter: 0.2, random: () => randoms.shift() ?? 0.25 });
    expect(await t.nextTimer()).toBe(1100); // 1000 + 1000 x 0.2 x 0.5
    t.clock.fireNext();
    await pollUntil(() => t.reasons.length === 2, 'the timer run');
    expect(await t.nextTimer()).toBe(1000);
    t.clock.fireNext();
    await pollUntil(() => t.reasons.length === 3, 'the second timer run');
    expect(await t.nextTimer()).toBeCloseTo(1199.8);
    expect(t.reasons).toEqual(['start', 'timer', 'timer']);
  });

  it('uses 60 s and 10 % jitter by default', async () => {
    const t = start(() => {}, { random: () => 1 - Number.EPSILON });
    expect(await t.nextTimer()).toBeCloseTo(66_000);
  });

  it('calls an intervalMs function after each run', async () => {
    const intervals = [300, 200, 100];
    let calls = 0;
    const t = start(() => {}, {
      jitter: 0,
      intervalMs: () => {
        calls++;
        return intervals[calls - 1] ?? 50;
      },
    });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      seen.push(await t.nextTimer());
      t.clock.fireNext();
      await pollUntil(() => t.reasons.length === i + 2, `timer run ${i + 1}`);
    }
    expect(seen).toEqual([300, 200, 100]);
    await t.nextTimer();
    expect(calls).toBe(4); // once after each of the four runs
  });

  it('a manual wake restarts the timer', async () => {
    const t = start(() => {}, { intervalMs: 1000, jitter: 0 });
    expect(await t.nextTimer()).toBe(1000);
    t.watcher.wake();
    await pollUntil(() => t.reasons.length === 2, 'the manual run');
    expect(await t.nextTimer()).toBe(1000);
    expect(t.clock.sleeps.map((s) => s.state)).toEqual(['aborted', 'pending']);
  });

  it('starts the timer at once with runOnStart: false', async () => {
    const t = start(() => {}, { intervalMs: 500, jitter: 0, runOnStart: false });
    expect(await t.nextTimer()).toBe(500);
    expect(t.reasons).toEqual([]);
    t.clock.fireNext();
    await pollUntil(() => t.reasons.length === 1, 'the first timer run');
    expect(t.reasons).toEqual(['timer']);
  });
});

describe('after a failed run', () => {
  it('retries on the retry schedule until a run succeeds, then the interval resumes', async () => {
    let failures = 3;
    const t = start(
      () => {
        if (failures-- > 0) throw new Error('refresh failed');
      },
      { intervalMs: 10_000, jitter: 0, retry: { initialDelayMs: 100, multiplier: 3, jitter: 'none' } },
    );
    const timers: number[] = [];
    for (let i = 0; i < 4; i++) {
      timers.push(await t.nextTimer());
      t.clock.fireNext();
      await pollUntil(() => t.reasons.length === i + 2, `run ${i + 2}`);
    }
    timers.push(await t.nextTimer());
    expect(timers).toEqual([100, 300, 900, 10_000, 10_000]);
    expect(t.reasons).toEqual(['start', 'retry', 'retry', 'retry', 'timer']);
    expect(t.errors.map((e) => e.source)).toEqual(['wake', 'wake', 'wake']);
  });

  it('never waits longer than the interval', async () => {
    const t = start(
      () => {
        throw new Error('always');
      },
      { intervalMs: 250, jitter: 0, retry: { initialDelayMs: 100, multiplier: 2, jitter: 'none' } },
    );
    const timers: number[] = [];
    for (let i = 0; i < 3; i++) {
      timers.push(await t.nextTimer());
      t.clock.fireNext();
      await pollUntil(() => t.reasons.length === i + 2, `run ${i + 2}`);
    }
    expect(timers).toEqual([100, 200, 250]);
  });

  it('starts over from the first retry delay after a success', async () => {
    let run = 0;
    const t = start(
      () => {
        run++;
        if (run === 1 || run === 2 || run === 4) throw new Error(`run ${run}`);
      },
      { intervalMs: 5000, jitter: 0, retry: { initialDelayMs: 10, multiplier: 2, jitter: 'none' } },
    );
    const timers: number[] = [];
    for (let i = 0; i < 4; i++) {
      timers.push(await t.nextTimer());
      t.clock.fireNext();
      await pollUntil(() => t.reasons.length === i + 2, `run ${i + 2}`);
    }
    timers.push(await t.nextTimer());
    // runs: 1 fails, 2 fails, 3 ok, 4 fails, 5 ok
    expect(timers).toEqual([10, 20, 5000, 10, 5000]);
  });

  it('by default retries within a few seconds, with jitter', async () => {
    const t = start(
      () => {
        throw new Error('down');
      },
      { random: () => 0.5 },
    );
    const first = await t.nextTimer();
    expect(first).toBeGreaterThanOrEqual(1000);
    expect(first).toBeLessThanOrEqual(2000);
    t.clock.fireNext();
    await pollUntil(() => t.reasons.length === 2, 'the first retry');
    const second = await t.nextTimer();
    expect(second).toBeGreaterThan(first);
    expect(second).toBeLessThanOrEqual(4000);
  });

  it('an intervalMs function that throws or returns nonsense is reported and the retry schedule is used', async () => {
    const results: Array<() => number> = [
      () => {
        throw new Error('no expiry in token');
      },
      () => NaN,
      () => 700,
    ];
    const t = start(() => {}, {
      jitter: 0,
      retry: { initialDelayMs: 40, multiplier: 2, jitter: 'none' },
      intervalMs: () => results.shift()!(),
    });
    const timers: number[] = [];
    for (let i = 0; i < 2; i++) {
      timers.push(await t.nextTimer());
      t.clock.fireNext();
      await pollUntil(() => t.reasons.length === i + 2, `run ${i + 2}`);
    }
    timers.push(await t.nextTimer());
    expect(timers).toEqual([40, 80, 700]);
    expect(t.errors.map((e) => e.source)).toEqual(['interval', 'interval']);
    expect(String(t.errors[1]!.error)).toMatch(/"intervalMs" returned NaN/);
  });
});

describe('re-arming in timer-only mode', () => {
  // The probe on the nearest existing directory notices a new file at once, but its replan waits
  // for the debounce window (7 ms here), a fake sleep left pending: what re-arms is the sleep fired.
  it('tries on the retry schedule (at least every 100 ms) and returns to watching', async () => {
    const later = join(dir, 'later');
    const clock = new FakeClock();
    const modes: string[] = [];
    const watcher = watchWithFallback(later, () => {}, {
      clock,
      intervalMs: 3_600_000,
      jitter: 0,
      debounceMs: 7,
      retry: { initialDelayMs: 10, multiplier: 30, maxDelayMs: 5000, jitter: 'none' },
      onModeChange: ({ mode }) => modes.push(mode),
    });
    watchers.push(watcher);
    await watcher.ready;
    expect(watcher.mode).toBe('timer-only');
    // The start run's interval timer, and the first re-arm attempt (10 ms, raised to 100 ms).
    await pollUntil(() => clock.pending.length === 2, 'the interval and the re-arm timer');
    expect(clock.pending.sort((a, b) => a - b)).toEqual([100, 3_600_000]);
    clock.fireNext(100); // an attempt that finds nothing
    await pollUntil(() => clock.pending.includes(300), 'the second re-arm timer');
    expect(watcher.mode).toBe('timer-only');
    await writeFile(later, 'here');
    await pollUntil(() => clock.pending.includes(7), 'the probe noticing the file');
    clock.fireNext(300); // this attempt finds the file
    await pollUntil(() => watcher.mode === 'watching', 'watching mode');
    expect(clock.pending).toContain(7); // the probe's replan has not run
    expect(modes).toEqual(['watching']);
  });

  it('re-arms on every timer run', async () => {
    const later = join(dir, 'later');
    const clock = new FakeClock();
    const reasons: string[] = [];
    const watcher = watchWithFallback(later, ({ reason }) => void reasons.push(reason), {
      clock,
      intervalMs: 1000,
      jitter: 0,
      debounceMs: 7,
      retry: { initialDelayMs: 3_000_000, maxDelayMs: 3_000_000, jitter: 'none' }, // re-arm attempts far away
    });
    watchers.push(watcher);
    await watcher.ready;
    await pollUntil(() => clock.pending.includes(1000), 'the interval timer');
    await writeFile(later, 'here');
    await pollUntil(() => clock.pending.includes(7), 'the probe noticing the file');
    expect(watcher.mode).toBe('timer-only');
    clock.fireNext(1000);
    await pollUntil(() => watcher.mode === 'watching', 'watching after the timer run');
    await pollUntil(() => reasons.length === 2, 'the timer run');
    expect(reasons).toEqual(['start', 'timer']);
  });
});
