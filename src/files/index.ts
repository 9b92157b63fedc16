/**
 * `ridethrough/files`: files that survive crashes, full disks and rotation.
 *
 * - {@link atomicWriteFile} (atomic-write.ts, with temp-files.ts, temp-owner.ts and
 *   write-target.ts): replaces a file so that readers see the old content or the new, never a
 *   torn one, and durably.
 * - {@link readFileWithRetry} (read.ts) and {@link readFilesWithRetry} (read-files.ts, woken by
 *   change-wake.ts; their options in options.ts): read files that another party rotates,
 *   riding through the moments when they are missing, empty or half-written.
 * - {@link contentHash} (content-hash.ts): a SHA-256 of bytes or of canonical JSON, for change
 *   detection.
 *
 * ```ts
 * import { mkdtemp } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { atomicWriteFile, readFileWithRetry } from 'ridethrough/files';
 *
 * const state = join(await mkdtemp(join(tmpdir(), 'agent-')), 'state.json');
 * await atomicWriteFile(state, JSON.stringify({ generation: 7 }), { mode: 0o600 });
 * console.log(await readFileWithRetry(state, { parse: (text) => JSON.parse(text) as unknown })); // { generation: 7 }
 * ```
 *
 * Guide: [Atomic writes and rotation-tolerant reads](../../docs/guides/atomic-writes.md).
 * This file only names the public API; the code is in the sibling files.
 *
 * @module
 */
import type { AtomicWriteEvent } from './atomic-write.js';
import type { HookErrorEvent } from '../shared/hooks.js';

export { atomicWriteFile, type AtomicWriteEvent, type AtomicWriteOptions, type AtomicWriteResult } from './atomic-write.js';
export { contentHash } from './content-hash.js';
export { EmptyFileError } from './empty-file-error.js';
export { readFileWithRetry, type ReadFileWithRetryOptions } from './read.js';
export { readFilesWithRetry, type ReadFilesWithRetryOptions } from './read-files.js';

/** Each plain diagnostics channel of `ridethrough/files`, mapped to its (frozen) payload. */
export interface FilesMessages {
  /** An `atomicWriteFile()` call finished (written, or skipped as unchanged). */
  'ridethrough:files:write': AtomicWriteEvent;
  /** An `onRetry`/`onRecovered` hook of a files function threw or rejected. */
  'ridethrough:files:hook-error': HookErrorEvent;
}
