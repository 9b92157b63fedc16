/**
 * Runs scenarios one after the other for `npm run demo` and for a scenario run on its own:
 * a live progress line per scenario (redrawn in place on a terminal, plain lines otherwise),
 * then the summary table, and the exit code (0 only when every scenario ended as expected).
 */
import { styleText } from 'node:util';
import { formatMs, messageOf, type Scenario, type ScenarioProgress, type ScenarioResult } from './scenario.js';

/** Where the demo writes: stdout, or a test's buffer. */
export interface Output {
  write(text: string): unknown;
  /** A terminal: redraw the progress line in place and use colour. */
  readonly isTTY?: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
}

/** What one scenario's run looks like on screen. */
interface View {
  begin(scenario: Scenario, index: number, total: number): void;
  log(line: string): void;
  progress(progress: ScenarioProgress): void;
  end(result: ScenarioResult): void;
}

const SPINNER = ['|', '/', '-', '\\'];

/** Colour on a terminal, unless the user opted out (https://no-color.org). */
function paint(format: Parameters<typeof styleText>[0], text: string): string {
  return process.env.NO_COLOR ? text : styleText(format, text);
}

/** On a terminal: narrative lines scroll, and one status line under them is redrawn in place. */
class TerminalView implements View {
  readonly #out: Output;
  #name = '';
  #progress: ScenarioProgress = { faults: 0, attempts: 0, state: 'starting' };
  #started = 0;
  #frame = 0;
  #ticker: NodeJS.Timeout | undefined;

  constructor(out: Output) {
    this.#out = out;
  }

  begin(scenario: Scenario, index: number, total: number): void {
    this.#name = scenario.name;
    this.#progress = { faults: 0, attempts: 0, state: 'starting' };
    this.#started = performance.now();
    this.#out.write(`${paint('bold', `[${index}/${total}] ${scenario.name}`)}: ${scenario.title}\n`);
    this.#draw();
    // Keeps the spinner and the clock moving while the scenario waits; unref'd so that it can
    // never hold the process open, and stopped in end() anyway.
    this.#ticker = setInterval(() => {
      this.#frame++;
      this.#draw();
    }, 100);
    this.#ticker.unref();
  }

  log(line: string): void {
    this.#out.write(`\r\x1b[2K${paint('dim', '   |')} ${line}\n`);
    this.#draw();
  }

  progress(progress: ScenarioProgress): void {
    this.#progress = progress;
    this.#draw();
  }

  end(result: ScenarioResult): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    const mark = result.outcome === 'ok' ? paint('green', 'ok') : paint('red', 'FAILED');
    this.#out.write(`\r\x1b[2K   ${mark} ${endLine(result)}\n\n`);
  }

  #draw(): void {
    const { faults, attempts, state } = this.#progress;
    const elapsed = formatMs(performance.now() - this.#started);
    const line = `${SPINNER[this.#frame % SPINNER.length]} ${this.#name}  faults ${faults}  attempts ${attempts}  ${elapsed}  ${state}`;
    // One line exactly: a line that wrapped could not be redrawn in place.
    const width = Math.max(20, (this.#out.columns ?? 80) - 1);
    const fitted = line.length > width ? `${line.slice(0, width - 3)}...` : line;
    this.#out.write(`\r\x1b[2K${paint('cyan', fitted)}`);
  }
}

/** Piped or redirected: every line once, the progress as a line whenever its state changes. */
class PlainView implements View {
  readonly #out: Output;
  #lastState = '';

  constructor(out: Output) {
    this.#out = out;
  }

  begin(scenario: Scenario, index: number, total: number): void {
    this.#lastState = '';
    this.#out.write(`[${index}/${total}] ${scenario.name}: ${scenario.title}\n`);
  }

  log(line: string): void {
    this.#out.write(`    ${line}\n`);
  }

  progress({ faults, attempts, state }: ScenarioProgress): void {
    if (state === this.#lastState) return;
    this.#lastState = state;
    this.#out.write(`  > faults ${faults}, attempts ${attempts}: ${state}\n`);
  }

  end(result: ScenarioResult): void {
    this.#out.write(`  = ${result.outcome === 'ok' ? 'ok' : 'FAILED'} ${endLine(result)}\n\n`);
  }
}

function endLine(result: ScenarioResult): string {
  const recovered = result.recoveredInMs === undefined ? 'did not recover' : `recovered in ${formatMs(result.recoveredInMs)}`;
  return `${result.name}: ${recovered}, ${result.faultsInjected} faults injected; ${result.whatTheLibraryDid}`;
}

/** Options of {@link runScenarios}. */
export interface RunOptions {
  readonly out: Output;
  /** Aborting it stops the scenario that is running (it cleans up) and skips the rest. */
  readonly signal?: AbortSignal;
}

/** Runs the scenarios in order and resolves with one result each (fewer if aborted). Never rejects. */
export async function runScenarios(scenarios: readonly Scenario[], { out, signal }: RunOptions): Promise<ScenarioResult[]> {
  const view: View = out.isTTY ? new TerminalView(out) : new PlainView(out);
  const results: ScenarioResult[] = [];
  for (const [i, scenario] of scenarios.entries()) {
    if (signal?.aborted) break;
    view.begin(scenario, i + 1, scenarios.length);
    let result: ScenarioResult;
    let last: ScenarioProgress | undefined;
    try {
      result = await scenario.run(
        (line) => view.log(line),
        signal,
        (progress) => view.progress((last = progress)),
      );
    } catch (error) {
      view.log(signal?.aborted ? 'interrupted; cleaned up' : `the scenario threw: ${messageOf(error)}`);
      result = {
        name: scenario.name,
        faultsInjected: last?.faults ?? 0,
        faultList: [],
        whatTheLibraryDid: signal?.aborted ? 'interrupted' : `threw: ${messageOf(error)}`,
        recoveredInMs: undefined,
        outcome: 'failed',
        details: { error },
      };
    }
    view.end(result);
    results.push(result);
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// The summary table

/** The summary table: scenario, faults injected, what the library did, time to recover, outcome. */
export function summaryTable(results: readonly ScenarioResult[], width = 120): string {
  const header = ['scenario', 'faults injected', 'what the library did', 'time to recover', 'outcome'];
  const rows = results.map((r) => [
    r.name,
    r.faultList.length === 0 ? String(r.faultsInjected) : `${r.faultsInjected}: ${r.faultList.join(', ')}`,
    r.whatTheLibraryDid,
    formatMs(r.recoveredInMs),
    r.outcome,
  ]);
  // Fixed columns take what their header and longest cell need (on a narrow screen, their
  // header wraps); the two prose columns share the rest, wrapped.
  const frame = 3 * header.length + 1;
  const fixedWidths = (headerWidth: (text: string) => number): number[] =>
    [0, 3, 4].map((c) => Math.max(headerWidth(header[c]!), ...rows.map((row) => row[c]!.length)));
  const longestWord = (text: string): number => Math.max(...text.split(' ').map((word) => word.length));
  let fixed = fixedWidths((text) => text.length);
  if (width - frame - sum(fixed) < 60) fixed = fixedWidths(longestWord);
  const rest = Math.max(30, width - frame - sum(fixed));
  const faultsWidth = Math.floor(rest * 0.4);
  const widths = [fixed[0]!, faultsWidth, rest - faultsWidth, fixed[1]!, fixed[2]!];

  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const render = (cells: string[]): string[] => {
    const wrapped = cells.map((cell, c) => wrap(cell, widths[c]!));
    const height = Math.max(...wrapped.map((lines) => lines.length));
    return Array.from({ length: height }, (_, line) => `| ${wrapped.map((lines, c) => (lines[line] ?? '').padEnd(widths[c]!)).join(' | ')} |`);
  };
  const lines = [rule, ...render(header), rule];
  for (const row of rows) lines.push(...render(row), rule);
  return lines.join('\n');
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Words into lines of at most `width` characters (a longer word is cut). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (line !== '') lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = '';
    }
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// The command line

/**
 * Runs the scenarios as a program: Ctrl-C aborts the running one (it cleans up), the summary
 * table follows, and `process.exitCode` is 0 only if every scenario ended as expected (130 when
 * interrupted). Nothing is left running: if the process is still alive a few seconds after the
 * table, what holds it open is printed and it exits with 1, since that is a bug.
 */
export async function runMain(scenarios: readonly Scenario[], out: Output = process.stdout): Promise<void> {
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort(new Error('interrupted (Ctrl-C)'));
  process.once('SIGINT', onSigint);
  let results: ScenarioResult[];
  try {
    results = await runScenarios(scenarios, { out, signal: interrupt.signal });
  } finally {
    process.off('SIGINT', onSigint);
  }
  // One column short of the terminal: a line that fills it exactly wraps on some terminals.
  const width = out.isTTY ? Math.max(80, (out.columns ?? 81) - 1) : 120;
  out.write(`${summaryTable(results, width)}\n`);
  const ok = results.filter((r) => r.outcome === 'ok').length;
  const complete = results.length === scenarios.length;
  const verdict = `${ok} of ${scenarios.length} scenarios ended as expected${complete ? '' : ' (interrupted)'}`;
  out.write(`${out.isTTY ? paint(ok === scenarios.length ? 'green' : 'red', verdict) : verdict}\n`);
  process.exitCode = interrupt.signal.aborted ? 130 : ok === scenarios.length ? 0 : 1;

  const watchdog = setTimeout(() => {
    process.stderr.write(`still running after the demo ended; left behind: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(1);
  }, 3_000);
  watchdog.unref();
}

/** `node --import tsx examples/<scenario>.ts`: the same run, for one scenario. */
export function runStandalone(scenario: Scenario): Promise<void> {
  return runMain([scenario]);
}
