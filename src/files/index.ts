/**
 * `ridethrough/files`: files that survive crashes, full disks and rotation.
 *
 * - {@link atomicWriteFile} (atomic-write.ts, with temp-files.ts and write-target.ts): replaces a
 *   file so that readers see the old content or the new, never a torn one, and durably.
 * - {@link readFileWithRetry} (read.ts) and {@link readFilesWithRetry} (read-files.ts, woken by
 *   change-wake.ts): read files that another party rotates, riding through the moments when they
 *   are missing, empty or half-written.
 * - {@link contentHash} (content-hash.ts): a SHA-256 of bytes or of canonical JSON, for change
 *   detection.
 *
 * This file only names the public API; the code is in the sibling files.
 */
export { atomicWriteFile, type AtomicWriteEvent, type AtomicWriteOptions, type AtomicWriteResult } from './atomic-write.js';
export { contentHash } from './content-hash.js';
export { readFileWithRetry, type ReadFileWithRetryOptions } from './read.js';
export { readFilesWithRetry, type ReadFilesWithRetryOptions } from './read-files.js';
