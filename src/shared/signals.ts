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
  const onAbort = (): void => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return {
    controller,
    signal: controller.signal,
    dispose: () => parent.removeEventListener('abort', onAbort),
  };
}

function noop(): void {}
