/** What the process holds open, for "nothing left behind" assertions. */
import { createHook } from 'node:async_hooks';
import { afterEach, beforeEach, expect } from 'vitest';

/** Pending timers in this process (vitest's own hook timeout may be one of them). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/**
 * Fails every test of the calling file that leaves a timer behind. It tracks the timers created
 * during each test (async_hooks), not a process-wide count: vitest's runner keeps timers of its
 * own whose firing would hide a leaked one from a count. After the test (and after the file's own
 * afterEach hooks registered later, which run first) it waits up to a second for timers that are
 * about to fire, such as the runner's ~100 ms progress throttle, then fails if any created timer
 * is still pending and keeps the process alive (unref'd timers of the platform's own, like
 * undici's, are not counted).
 */
/** The part of Node's Timeout object that tells whether it is still pending. */
interface Timer {
  hasRef(): boolean;
  _destroyed?: boolean;
}

export function failOnLeftoverTimers(): void {
  const pending = new Map<number, Timer>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout') pending.set(id, resource as Timer);
    },
    destroy(id) {
      pending.delete(id);
    },
  });
  // A timer that fired or was cleared is marked at once; its destroy event comes later.
  const leftover = (): number => [...pending.values()].filter((timer) => !timer._destroyed && timer.hasRef()).length;
  beforeEach(() => {
    pending.clear();
    hook.enable();
  });
  afterEach(async () => {
    const giveUpAt = Date.now() + 1_000;
    try {
      while (leftover() > 0 && Date.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      hook.disable();
    }
    expect(leftover(), 'timers left behind by this test').toBe(0);
    // No hook timeout (0): vitest's timer for it would be counted, and the wait above is bounded.
  }, 0);
}
