/**
 * A child process for the crash tests: rewrites one file with `atomicWriteFile`, versions
 * `first`, `first + 1`, ... (see file-versions.ts), endlessly or `count` times, and prints `ready`
 * on stdout once the first version is on disk. The SIGKILL test kills it at a random instant;
 * the strace test traces one write.
 *
 * Run: `node --import tsx test/support/files-writer.ts <file> <first version> [count] [durable|scratch]`
 * (`scratch` writes with `durable: false`).
 */
import { atomicWriteFile } from 'ridethrough/files';
import { versionContent } from './file-versions.js';

const [file, firstArgument, countArgument, durability] = process.argv.slice(2);
if (file === undefined || firstArgument === undefined) {
  console.error('usage: files-writer.ts <file> <first version> [count] [durable|scratch]');
  process.exit(2);
}
const first = Number(firstArgument);
const end = countArgument === undefined ? Infinity : first + Number(countArgument);
const options = { durable: durability !== 'scratch' };
await atomicWriteFile(file, versionContent(first), options);
process.stdout.write('ready\n');
for (let n = first + 1; n < end; n++) await atomicWriteFile(file, versionContent(n), options);
