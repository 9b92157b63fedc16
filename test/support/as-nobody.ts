/**
 * Children that run as uid 65534 (nobody), for the tests that need a second user. The clone may
 * sit where nobody may not enter (`mktemp -d` makes 0700 directories) and the Node binary may too
 * (`npx node@24` keeps it under /root/.npm), so a child loads nothing from either: it is one
 * bundled file in a directory everyone may read, run by a Node binary everyone may run.
 */
import { statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A Node binary that a child running as nobody can execute: this one, unless it lives somewhere
 * only root may enter (Node 24 from `npx node@24` sits under /root/.npm), else the one on PATH.
 */
export function nodeForOthers(): string | undefined {
  const candidates = [process.execPath, ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'node'))];
  return candidates.find((candidate) => {
    try {
      return (statSync(candidate).mode & 0o001) !== 0 && othersMayEnter(dirname(candidate));
    } catch {
      return false;
    }
  });
}

/** Whether a user with no rights but "others" may enter `dir` and every directory above it. */
export function othersMayEnter(dir: string): boolean {
  try {
    for (; dir !== dirname(dir); dir = dirname(dir)) if ((statSync(dir).mode & 0o001) === 0) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * Bundles `script` (TypeScript, importing `ridethrough/...` through tsconfig's paths) into one
 * plain ES module in `outDir`, readable by everyone. esbuild is tsx's own dependency.
 */
export async function bundleForOthers(script: string, outDir: string): Promise<string> {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
  const esbuild = fromTsx('esbuild') as { build(options: Record<string, unknown>): Promise<unknown> };
  const outfile = join(outDir, 'child.mjs');
  await esbuild.build({
    entryPoints: [script],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)),
    // A CommonJS dependency inside an ES module bundle still needs a require.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  await chmod(outfile, 0o644);
  return outfile;
}
