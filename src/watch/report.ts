/**
 * What a watcher tells the world: its mode and its errors, on the `ridethrough:watch:*` channels
 * and to the `onModeChange`/`onError` hooks. Shared by the run loop (failed runs, a failing
 * `intervalMs`) and the directory watch (missing paths, a failed watch), which both report here.
 */
import { diagnosticsChannel, diagnosticsChannels } from '../shared/diagnostics.js';
import { callHook } from '../shared/hooks.js';
import type { Settings } from './options.js';
import type { ModeChangeEvent, WakeEvent, WatchErrorContext, WatchErrorEvent, WatchErrorSource, WatchMode } from './types.js';

const wakeChannel = diagnosticsChannel(diagnosticsChannels.watch.wake);
const errorChannel = diagnosticsChannel(diagnosticsChannels.watch.error);
const modeChannel = diagnosticsChannel(diagnosticsChannels.watch.mode);
export const configChangeChannel = diagnosticsChannel(diagnosticsChannels.watch.configChange);
export const configRejectedChannel = diagnosticsChannel(diagnosticsChannels.watch.configRejected);
export const hookErrorChannel = diagnosticsChannel(diagnosticsChannels.watch.hookError);

/** The watcher's mode, and everything it reports. */
export class Reporter {
  readonly #s: Settings;
  #mode: WatchMode = 'timer-only';
  /** Watch errors already reported since the watch last worked, so a failing re-arm does not repeat them. */
  readonly #reported = new Set<string>();

  constructor(settings: Settings) {
    this.#s = settings;
  }

  get mode(): WatchMode {
    return this.#mode;
  }

  /** A method, not a field read, so that TypeScript does not carry narrowing across awaits. */
  isClosed(): boolean {
    return this.#mode === 'closed';
  }

  setMode(mode: WatchMode, error?: unknown): void {
    const previous = this.#mode;
    if (previous === mode || previous === 'closed') return;
    this.#mode = mode;
    if (mode === 'watching') this.#reported.clear();
    const event: ModeChangeEvent = Object.freeze({
      mode,
      previous,
      paths: this.#s.given,
      ...(mode === 'timer-only' && error !== undefined ? { error } : {}),
      ...this.#named(),
    });
    if (modeChannel.hasSubscribers) modeChannel.publish(event);
    // A hook reports: what it throws or rejects with goes to the hook-error channel, never stops the watcher.
    callHook(hookErrorChannel, 'onModeChange', this.#s.onModeChange, event, this.#s.name);
  }

  wake(event: Omit<WakeEvent, 'name'>): void {
    if (wakeChannel.hasSubscribers) wakeChannel.publish(Object.freeze<WakeEvent>({ ...event, ...this.#named() }));
  }

  /** A missing path or a failed watch: told once until the watch works again. */
  watchError(error: unknown, paths: readonly string[]): void {
    const key = errorKey(error);
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.error(error, 'watch', paths);
  }

  error(error: unknown, source: WatchErrorSource, paths: readonly string[]): void {
    const context: WatchErrorContext = Object.freeze({ source, paths, ...this.#named() });
    if (errorChannel.hasSubscribers) errorChannel.publish(Object.freeze<WatchErrorEvent>({ error, ...context }));
    const onError = this.#s.onError;
    callHook(hookErrorChannel, 'onError', onError && ((c: WatchErrorContext) => onError(error, c)), context, this.#s.name);
  }

  #named(): { name?: string } {
    return this.#s.name === undefined ? {} : { name: this.#s.name };
  }
}

function errorKey(error: unknown): string {
  if (error instanceof Error) return `${(error as NodeJS.ErrnoException).code ?? error.name}:${error.message}`;
  return String(error);
}
