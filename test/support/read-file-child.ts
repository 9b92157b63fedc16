/**
 * Runs `readFileWithRetry(<file>)` in a child process, so a test running as root can see a real
 * EACCES from a child started with another uid. Prints one JSON line:
 * `{ "code": ..., "name": ..., "retries": n }` or `{ "content": ... }`.
 *
 * Run: `node --import tsx test/support/read-file-child.ts <file>`; test/files.read.test.ts bundles it
 * into one file first, so that a child running as nobody loads nothing from the clone.
 */
import { readFileWithRetry } from 'ridethrough/files';

let retries = 0;
try {
  const content = await readFileWithRetry(process.argv[2]!, { deadlineMs: 10_000, onRetry: () => void retries++ });
  console.log(JSON.stringify({ content, retries }));
} catch (error) {
  const { code, name } = error as { code?: unknown; name?: unknown };
  console.log(JSON.stringify({ code, name, retries }));
}
