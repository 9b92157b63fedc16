/** AbortSignal plumbing shared by the primitives. */

/**
 * A `DOMException` named `TimeoutError`, the same kind `AbortSignal.timeout()` produces,
 * with `cause` set when one is given.
 */
export function timeoutError(message: string, cause?: unknown): DOMException {
  return cause === undefined
    ? new DOMException(message, 'TimeoutError')
    : new DOMException(message, { name: 'TimeoutError', cause });
}

/** A `DOMException` named `AbortError`, what `AbortController.abort()` produces by default. */
export function abortError(message: string): DOMException {
  return new DOMException(message, 'AbortError');
}

/**
 * An AbortController that also aborts (with the same reason) when `parent` aborts.
 * `dispose()` detaches it from `parent` so a long-lived parent does not collect listeners.
 */
export interface LinkedController {
  readonly controller: AbortController;
  readonly signal: AbortSignal;
  dispose(): void;
}

/** Creates a {@link LinkedController}; with no parent it is a plain controller. */
export function linkedController(parent: AbortSignal | undefined): LinkedController {
  const controller = new AbortController();
  if (parent === undefined) {
    return { controller, signal: controller.signal, dispose: noop };
  }
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { controller, signal: controller.signal, dispose: noop };
  }
  const dispose = onAbort(parent, () => controller.abort(parent.reason));
  return { controller, signal: controller.signal, dispose };
}

/** Does nothing: the one no-op function (a `catch` that only marks a rejection handled, a detach with nothing to detach). */
export function noop(): void {}

/**
 * The listeners of each caller signal, fanned out from one native listener. A signal shared by
 * many pending operations (`signal: shutdown.signal`) would otherwise carry one native listener
 * each, and EventTarget adds and removes listeners in linear time: 100k pending retries on one
 * signal cost minutes. A Set adds and deletes in constant time.
 */
interface FanOut {
  readonly listeners: Set<() => void>;
  readonly native: () => void;
}

const fanOuts = new WeakMap<AbortSignal, FanOut>();

/**
 * Calls `listener` once when `signal` aborts (not at all if it already has: check `aborted`
 * first). The returned function detaches it; calling it twice, or after the abort, is harmless.
 * When the last listener of a signal detaches, the native listener goes too, so nothing is left
 * on a long-lived signal.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  let fan = fanOuts.get(signal);
  if (fan === undefined) {
    const listeners = new Set<() => void>();
    const native = (): void => {
      fanOuts.delete(signal);
      for (const fn of listeners) fn();
      listeners.clear();
    };
    fan = { listeners, native };
    fanOuts.set(signal, fan);
    signal.addEventListener('abort', native, { once: true });
  }
  const { listeners, native } = fan;
  // One function registered twice is called twice: the second registration gets an entry of its own.
  const entry = listeners.has(listener) ? (): void => listener() : listener;
  listeners.add(entry);
  return () => {
    if (!listeners.delete(entry) || listeners.size > 0) return;
    fanOuts.delete(signal);
    signal.removeEventListener('abort', native);
  };
}

