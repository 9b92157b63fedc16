/**
 * Numbered file contents of very different lengths, each of which can be recognised whole: a
 * reader that sees anything else (empty, truncated, two versions mixed) has caught a write half
 * done. Shared by the reader-in-a-loop test and the SIGKILL test (and its child writer).
 */

/** The length of the padding of version `n`: from 0 to about 300 KiB, jumping around. */
export function paddingLength(n: number): number {
  return (n * 7919 + (n % 3) * 104_729) % 300_000;
}

/** The content of version `n`: JSON that names its version and carries padding of a known length. */
export function versionContent(n: number): string {
  const fill = String.fromCharCode(97 + (n % 26)); // each version pads with its own letter
  return `${JSON.stringify({ version: n, padding: fill.repeat(paddingLength(n)) })}\n`;
}

/** The version number if `text` is exactly one whole version, else a description of what is wrong. */
export function recogniseVersion(text: string): { version: number } | { problem: string } {
  if (text.length === 0) return { problem: 'empty' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `not whole JSON (${text.length} chars)` };
  }
  const version = (parsed as { version?: unknown }).version;
  if (typeof version !== 'number' || text !== versionContent(version)) {
    return { problem: `not a known version (${text.length} chars)` };
  }
  return { version };
}
