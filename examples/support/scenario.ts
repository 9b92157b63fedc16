/**
 * What every scenario shares: the result it reports, the progress it publishes while it runs,
 * and the few helpers that keep the scenarios about the failure they reproduce.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

/** How a scenario ended: `'ok'` when the library rode through the failure as expected. */
export type Outcome = 'ok' | 'failed';

/** What a scenario reports once it is over; the demo's summary table is made of these. */
export interface ScenarioResult {
  /** The scenario's name, as given to `npm run demo -- <name>`. */
  readonly name: string;
  /** How many faults the stand-ins injected in all (every refused handshake, every missing file). */
  readonly faultsInjected: number;
  /** The faults by kind, with their counts: `'TLS alert 80 x5'`. */
  readonly faultList: readonly string[];
  /** What the library did about them, in a sentence. */
  readonly whatTheLibraryDid: string;
  /** Measured: from the first fault to the moment the work went through (see `details.recovered`). */
  readonly recoveredInMs: number | undefined;
  readonly outcome: Outcome;
  /** Measured facts the outcome was decided on, for tests and the curious. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** Where a scenario writes its narrative, one line at a time. */
export type Log = (line: string) => void;

/** What the demo's live progress line shows for the scenario that is running. */
export interface ScenarioProgress {
  /** Fault events injected so far. */
  readonly faults: number;
  /** Attempts the library made so far (reads, connections, evaluations). */
  readonly attempts: number;
  /** What is happening now, in a few words. */
  readonly state: string;
}

/** Told each time the progress changes. */
export type ProgressListener = (progress: ScenarioProgress) => void;

/** The signature every scenario module exports as `run`. */
export type ScenarioRun = (log: Log, signal?: AbortSignal, onProgress?: ProgressListener) => Promise<ScenarioResult>;

/** A scenario module, as the demo sees it. */
export interface Scenario {
  readonly name: string;
  /** One line: the failure it reproduces. */
  readonly title: string;
  readonly run: ScenarioRun;
}

/**
 * Counts faults and attempts, keeps the current state, and tells the progress listener. One per
 * run; the result's fault fields come from it, so what the progress line showed and what the
 * summary says cannot disagree.
 */
export class Tally {
  readonly #log: Log;
  readonly #onProgress: ProgressListener | undefined;
  readonly #faults = new Map<string, number>();
  #faultCount = 0;
  #attempts = 0;
  #state = 'starting';

  constructor(log: Log, onProgress?: ProgressListener) {
    this.#log = log;
    this.#onProgress = onProgress;
  }

  /** Records one injected fault of a kind; `line` (if any) goes to the log. */
  fault(kind: string, line?: string): void {
    this.#faults.set(kind, (this.#faults.get(kind) ?? 0) + 1);
    this.#faultCount++;
    if (line !== undefined) this.#log(line);
    this.#notify();
  }

  /** Records one attempt by the library. */
  attempt(): void {
    this.#attempts++;
    this.#notify();
  }

  /** Says what is happening now. */
  state(text: string): void {
    this.#state = text;
    this.#notify();
  }

  get faultsInjected(): number {
    return this.#faultCount;
  }

  get attempts(): number {
    return this.#attempts;
  }

  /** `['files missing', 'TLS alert 80 x5']`: each kind once, with its count when above one. */
  get faultList(): string[] {
    return [...this.#faults].map(([kind, count]) => (count === 1 ? kind : `${kind} x${count}`));
  }

  #notify(): void {
    this.#onProgress?.({ faults: this.#faultCount, attempts: this.#attempts, state: this.#state });
  }
}

/** Milliseconds since `start` (a `performance.now()` reading), rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** `1234` as `'1.23 s'`, `87` as `'87 ms'`. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A timer that the signal cancels, rejecting with `signal.reason` (the scenario stops at once). */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return sleep(ms);
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  }
}

/**
 * Resolves with what `promise` resolves with, or rejects with an error naming `what` after
 * `ms`: a scenario that waits for something that never happens fails instead of hanging.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  // Aborted already (during a step that takes no signal): an abort listener would never fire.
  signal?.throwIfAborted();
  const timer = new AbortController();
  const onAbort = (): void => timer.abort(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`${what}: not within ${ms} ms`);
      }),
    ]);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    timer.abort();
  }
}

/** A promise and its resolve function, for "tell me when this happened" in callbacks. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The message of anything thrown, on one line. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? `${error.message}` : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}

/** Whether the module at `moduleUrl` is the one node was started with (`node --import tsx examples/x.ts`). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === moduleUrl;
}

/**
 * `{ signal }` when there is one, `{}` otherwise: spread into options, since under
 * `exactOptionalPropertyTypes` an option may be absent but not `undefined`.
 */
export function withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
