/**
 * Races and limits of retry() found in review: the deadline at a wait boundary, waits and time
 * limits longer than a timer can hold, a clock that breaks its contract.
 */
import { realClock, retry, type Clock, type Verdict } from 'ridethrough';
import { describe, expect, it } from 'vitest';
import { FakeClock } from './support/fake-clock.js';

const TRANSIENT: Verdict = { kind: 'transient', reason: 'test transient' };
/** The longest delay setTimeout honours; Node turns anything longer into 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('retry: the deadline at a wait boundary (real timers)', () => {
  it('rejects with the last error itself when the deadline timer fires just before a wait that fits would end', async () => {
    // Timers are coarser than the clock: a wait planned to end a fraction of a millisecond before
    // the deadline is often cut by the deadline timer. No attempt is running then, so the caller
    // must still get the last error itself, not a TimeoutError.
    for (let i = 0; i < 10; i++) {
      const last = new Error(`transient ${i}`);
      const startedAt = performance.now();
      const outcome = retry(
        async ({ attempt }) => {
          // Spend the first attempt until the 10 ms wait ends ~0.3 ms before the 40 ms deadline.
          if (attempt === 1) while (performance.now() - startedAt < 29.7);
          throw last;
        },
        { deadlineMs: 40, initialDelayMs: 10, jitter: 'none', maxAttempts: 2, classify: () => TRANSIENT },
      );
      await expect(outcome).rejects.toBe(last);
    }
  });
});
describe('retry: a clock that breaks its contract', () => {
  it('rejects with what a clock sleep threw when nothing aborted it, instead of a TypeError of its own', async () => {
    const broken = new Error('clock broke');
    const clock: Clock = { now: () => 0, sleep: () => Promise.reject(broken) };
    const outcome = retry(
      async () => {
        throw new Error('transient');
      },
      { clock, initialDelayMs: 10, classify: () => TRANSIENT },
    );
    await expect(outcome).rejects.toBe(broken);
  });
});
