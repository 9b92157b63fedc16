/** Polling for end-to-end tests that run on real timers. */

/**
 * Resolves once `condition()` holds, checking every `everyMs`; rejects naming `what` after
 * `timeoutMs` (generous by default: the machine running the tests may be busy).
 */
export async function pollUntil(condition: () => boolean, what: string, timeoutMs = 10_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
