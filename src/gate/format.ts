/**
 * Text: the human summary of reports (`formatReport`), the failure lines of messages, and the
 * one-line form of a detail that messages and the probe print.
 */
import { describe } from '../shared/validate.js';
import type { CheckResult, Report, ReportSet } from './types.js';

/** How many failing checks a message lists before it says "and N more". */
const MESSAGE_LINES = 20;
/** Formatted details are cut here: an error message can hold a whole response body. */
const MAX_DETAIL_CHARS = 500;
/**
 * A detail is cut to this many characters before it is flattened, so that flattening costs the
 * same whatever a check's error carries (a 100,000-space message once stalled the loop for 9 s).
 * Flattening only shortens, so what survives it is still at least MAX_DETAIL_CHARS long.
 */
const MAX_SCANNED_CHARS = 8 * MAX_DETAIL_CHARS;

/**
 * Characters that must not reach a terminal or a log line as they are: controls (VT, FF, NEL...),
 * format characters (U+202E reverses the text after it) and the line and paragraph separators.
 * Tab stays.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `\u2028`-style escapes for what {@link UNPRINTABLE} matches; everything else as it is. */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => (c === '\t' ? c : `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`));
}

/**
 * One line per check in messages and the probe: whitespace runs that hold a line break become one
 * space, what is still unprintable is escaped, and the result is at most MAX_DETAIL_CHARS long.
 * Linear in the (already cut) input: no regular expression that can backtrack.
 */
export function oneLine(detail: string): string {
  const text = detail.length > MAX_SCANNED_CHARS ? detail.slice(0, MAX_SCANNED_CHARS) : detail;
  let flat = '';
  let i = 0;
  while (i < text.length) {
    const runStart = i;
    let breaks = false;
    while (i < text.length && isSpace(text.charCodeAt(i))) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) breaks = true;
      i++;
    }
    if (i > runStart) {
      flat += breaks ? ' ' : text.slice(runStart, i);
      continue;
    }
    const wordStart = i;
    while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
    flat += text.slice(wordStart, i);
  }
  const cut = flat.length > MAX_DETAIL_CHARS ? `${flat.slice(0, MAX_DETAIL_CHARS - 3)}...` : flat;
  return escapeUnprintable(cut);
}

/** What `\s` matches, by code unit. */
function isSpace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    c === 32 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The message of anything thrown, never throwing itself. */
export function messageOf(error: unknown): string {
  try {
    if (typeof error === 'string') return error || 'threw an empty string';
    if (error !== null && typeof error === 'object') {
      const { message, name } = error as { message?: unknown; name?: unknown };
      if (typeof message === 'string' && message !== '') return message;
      if (typeof name === 'string' && name !== '') return name;
    }
    return `threw ${describe(error)}`;
  } catch {
    return 'threw a value that cannot be read';
  }
}

/** `gw-2: tunnel`, or just `tunnel` without a subject. */
export function label(key: string, name: string): string {
  return key === '' ? name : `${key}: ${name}`;
}

/** `:\n  gw-2: tunnel: status is DOWN` lines for a message, at most {@link MESSAGE_LINES}. */
export function failureLines<S>(reports: readonly Report<S>[]): string {
  const lines: string[] = [];
  let more = 0;
  for (const report of reports) {
    for (const result of report.results) {
      if (result.ok) continue;
      if (lines.length === MESSAGE_LINES) {
        more++;
        continue;
      }
      const permanent = result.verdict?.kind === 'permanent' ? ' (permanent)' : '';
      lines.push(`  ${escapeUnprintable(label(report.key, result.name))}: ${oneLine(result.detail)}${permanent}`);
    }
  }
  if (more > 0) lines.push(`  ... and ${more} more (see error.reports)`);
  return lines.length === 0 ? '' : `:\n${lines.join('\n')}`;
}

/**
 * The human summary of a report, of a {@link ReportSet} or of a list of reports (what
 * `waitUntilReady` resolves with and `NotReadyError.reports` holds). One report lists every check
 * (`[+]name ok`, `[-]name failed: detail`, with durations); several list each subject on one line
 * and only the failing checks under it. Details are cut to 500 characters, put on one line, and
 * their control characters escaped.
 *
 * Guide: [Readiness gates](../../docs/guides/readiness-gate.md).
 *
 * @example
 * ```ts
 * import { formatReport, readinessGate } from 'ridethrough';
 * const gate = readinessGate({
 *   checks: { dns: () => true, tunnel: (gw: string) => gw !== 'gw-2' || 'status is DOWN' },
 * });
 * console.log(formatReport(await gate.evaluate('gw-2')));
 * // gw-2: not ready, 1 of 2 checks failed
 * //   [+]dns ok (0 ms)
 * //   [-]tunnel failed: status is DOWN (0 ms)
 * ```
 */
export function formatReport<S>(report: Report<S> | ReportSet<S> | readonly Report<S>[]): string {
  if (isReportList(report)) return formatMany(report);
  if (report === null || typeof report !== 'object') {
    throw new TypeError(`formatReport(): expected a report, a report set or an array of reports, got ${describe(report)}`);
  }
  if ('reports' in report) return formatMany(report.reports);
  return [headline(report), ...report.results.map(checkLine)].join('\n');
}

function isReportList<S>(value: Report<S> | ReportSet<S> | readonly Report<S>[]): value is readonly Report<S>[] {
  return Array.isArray(value);
}

function formatMany<S>(reports: readonly Report<S>[]): string {
  const failing = reports.filter((r) => !r.ready).length;
  const lines = [
    failing === 0
      ? `ready: all ${reports.length} subjects ready`
      : `not ready: ${failing} of ${reports.length} subjects not ready`,
  ];
  for (const report of reports) {
    lines.push(headline(report));
    for (const result of report.results) if (!result.ok) lines.push(checkLine(result));
  }
  return lines.join('\n');
}

function headline<S>(report: Report<S>): string {
  const failed = report.results.filter((r) => !r.ok).length;
  const total = report.results.length;
  const state = report.ready
    ? `ready, ${total === 1 ? 'the check' : `all ${total} checks`} passed`
    : `not ready, ${failed} of ${total} ${total === 1 ? 'check' : 'checks'} failed`;
  return report.key === '' ? state : `${escapeUnprintable(report.key)}: ${state}`;
}

function checkLine(result: CheckResult): string {
  const ms = `${Math.round(result.durationMs)} ms`;
  const name = escapeUnprintable(result.name);
  if (result.ok) return `  [+]${name} ok${result.detail ? `: ${oneLine(result.detail)}` : ''} (${ms})`;
  const kind = result.error !== undefined && result.verdict !== undefined ? `, ${result.verdict.kind} error` : '';
  return `  [-]${name} failed: ${oneLine(result.detail)} (${ms}${kind})`;
}
