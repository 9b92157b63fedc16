/** What the process holds open, for "nothing left behind" assertions. */

/** Pending timers in this process (vitest's own hook timeout may be one of them). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
