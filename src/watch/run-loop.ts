/**
 * The run loop of a watcher: one run of the task at a time, every wake during a run folded into
 * one follow-up run, and one timer for the next run (the interval after a success, the retry
 * schedule after a failure). It knows nothing of files: the directory watch asks it for runs.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { backoffDelays } from '../retry/index.js';
import { unitInterval } from '../retry/backoff.js';
import { startTimer } from '../shared/clock.js';
import { tracingChannels } from '../shared/diagnostics.js';
import { linkedController } from '../shared/signals.js';
import { describe } from '../shared/validate.js';
import type { Settings } from './options.js';
import type { Reporter } from './report.js';
import type { WakeReason, WatchRunContext } from './types.js';

const runTrace = tracingChannel<unknown, WatchRunContext>(tracingChannels.watchRun);

/** What the loop needs from the watcher around it. */
export interface RunLoopHooks {
  /** A run is about to start: the paths noted as changed so far, which it will see and report. */
  readonly beforeRun: () => Iterable<string>;
  /** A timer fired: a chance to re-arm a broken file watch before the run. */
  readonly beforeTimerRun: () => Promise<void>;
}

export class RunLoop {
  readonly #s: Settings;
  readonly #report: Reporter;
  readonly #lifetime: AbortSignal;
  readonly #hooks: RunLoopHooks;
  /** The loop of runs in progress; undefined when idle. */
  #running: Promise<void> | undefined;
  /** The one follow-up run, with every path asked for since the current run started. */
  #next: { reason: WakeReason; paths: Set<string> } | undefined;
  #lastRunFailed = false;
  #retryDelays: Generator<number, never, void> | undefined;
  #cancelTimer: (() => void) | undefined;

  constructor(settings: Settings, report: Reporter, lifetime: AbortSignal, hooks: RunLoopHooks) {
    this.#s = settings;
    this.#report = report;
    this.#lifetime = lifetime;
    this.#hooks = hooks;
  }

  /** Whether nothing is running or scheduled (a first run may then arm the timer). */
  get idle(): boolean {
    return this.#running === undefined && this.#cancelTimer === undefined;
  }

  /** Asks for a run; during a run, it joins the one follow-up run. */
  request(reason: WakeReason, paths: Iterable<string>): void {
    if (this.#report.isClosed()) return;
    if (this.#next === undefined) this.#next = { reason, paths: new Set(paths) };
    else for (const path of paths) this.#next.paths.add(path);
    this.#running ??= this.#runQueued();
  }

  /** Stops the timer and forgets the follow-up run; resolves when the run in progress is over. */
  async stop(): Promise<void> {
    this.#stopTimer();
    this.#next = undefined;
    await this.#running;
  }

  async #runQueued(): Promise<void> {
    // Start on a later microtask: `#running` must be set before onWake can call wake() again.
    await undefined;
    this.#stopTimer();
    while (this.#next !== undefined && !this.#report.isClosed()) {
      const { reason, paths } = this.#next;
      this.#next = undefined;
      for (const path of this.#hooks.beforeRun()) paths.add(path);
      this.#lastRunFailed = !(await this.#run(reason, this.#s.given.filter((path) => paths.has(path))));
    }
    this.#running = undefined;
    if (!this.#report.isClosed()) this.scheduleNext();
  }

  /** One run of the task; resolves to whether it succeeded, never rejects. */
  async #run(reason: WakeReason, paths: readonly string[]): Promise<boolean> {
    this.#report.wake({ reason, paths: Object.freeze([...paths]) });
    // A signal per run, so that listeners a task forgets to remove die with the run.
    const run = linkedController(this.#lifetime);
    const signal = run.signal;
    const cutShort = (error: unknown): boolean => signal.aborted && error === signal.reason;
    const task = async (): Promise<unknown> => this.#s.task({ reason, paths, signal });
    try {
      await (runTrace.hasSubscribers ? this.#traced(task, reason, paths, cutShort) : task());
      return true;
    } catch (error) {
      // The run was cut short by close(): that is not a failure to tell anyone about.
      if (!cutShort(error)) this.#report.error(error, 'wake', paths);
      return false;
    } finally {
      run.dispose();
    }
  }

  /** `task` inside the `ridethrough:watch:run` trace: the context is complete by `asyncEnd`/`error`. */
  #traced(task: () => Promise<unknown>, trigger: WakeReason, paths: readonly string[], cutShort: (error: unknown) => boolean): Promise<unknown> {
    const context: WatchRunContext = { name: this.#s.name, trigger, paths: Object.freeze([...paths]) };
    const started = this.#s.clock.now();
    return runTrace.tracePromise(async () => {
      try {
        const result = await task();
        context.outcome = 'ok';
        return result;
      } catch (error) {
        context.outcome = cutShort(error) ? 'aborted' : 'failed';
        throw error;
      } finally {
        context.durationMs = this.#s.clock.now() - started;
      }
    }, context);
  }

  /** Arms the one timer for the next run: the interval after a success, the retry schedule after a failure. */
  scheduleNext(): void {
    // One timer at a time: one that was replaced but not cancelled would outlive close().
    this.#stopTimer();
    const interval = this.#nextInterval();
    let delay: number;
    let reason: WakeReason;
    if (this.#lastRunFailed || interval === undefined) {
      this.#retryDelays ??= backoffDelays(this.#s.retry);
      // At least 1 ms: a zero retry delay would loop without ever yielding to I/O.
      const retryDelay = Math.max(1, this.#retryDelays.next().value);
      delay = interval === undefined ? retryDelay : Math.min(retryDelay, interval);
      reason = 'retry';
    } else {
      this.#retryDelays = undefined;
      delay = interval;
      reason = 'timer';
    }
    // Cancelled when a run starts or the watcher closes.
    const cancel = startTimer(this.#s.clock, delay, () => {
      if (this.#cancelTimer === cancel) this.#cancelTimer = undefined;
      void this.#hooks.beforeTimerRun().then(() => this.request(reason, this.#s.given));
    });
    this.#cancelTimer = cancel;
  }

  #stopTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** The next wait after a successful run, jitter included; undefined when `intervalMs()` failed. */
  #nextInterval(): number | undefined {
    const { intervalMs, jitter, random } = this.#s;
    let base: unknown;
    try {
      base = typeof intervalMs === 'function' ? intervalMs() : intervalMs;
    } catch (error) {
      this.#report.error(error, 'interval', this.#s.given);
      return undefined;
    }
    if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) {
      const error = new RangeError(`${this.#s.where}: option "intervalMs" returned ${describe(base)}; expected a finite number > 0`);
      this.#report.error(error, 'interval', this.#s.given);
      return undefined;
    }
    return base + base * jitter * unitInterval(random());
  }
}
