/** "Nothing left behind" for tests that start whole programs or servers: what is active now beyond a baseline. */

/**
 * The kinds of active resources (`Timeout`, `FSEventWrap`, `TCPWrap`, ...) present now beyond
 * `baseline`, once closing handles have had up to two seconds to go: a destroyed socket or a
 * closed inotify watch is released on a later turn of the event loop.
 */
export async function leftovers(baseline: readonly string[]): Promise<string[]> {
  const extra = (): string[] => {
    const remaining = [...baseline];
    return process.getActiveResourcesInfo().filter((kind) => {
      const i = remaining.indexOf(kind);
      if (i === -1) return true;
      remaining.splice(i, 1);
      return false;
    });
  };
  const deadline = Date.now() + 2_000;
  while (extra().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return extra();
}
