/**
 * `npm run bench [-- name ...]`: runs each bench/<name>.bench.ts in its own Node process, one
 * after the other, so one benchmark's garbage and JIT state do not colour the next. Each imports
 * `ridethrough` from the built `dist/` (bench/tsconfig.json), so `npm run bench` builds first.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  console.log(`\n# ${file}  (node ${process.version}, ${new Date().toISOString()})`);
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', `${dir}${file}`], {
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: `${dir}tsconfig.json` },
  });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
