/**
 * `ridethrough` never loads @kubernetes/client-node, and `ridethrough/kubernetes` does not load it
 * either: it uses the KubeConfig and API classes the user passes in (its imports of client-node are
 * type-only). Checked in a child process whose module loader refuses client-node.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

const refuseClientNode = `data:text/javascript,${encodeURIComponent(
  `export async function resolve(specifier, context, next) {
     if (specifier.startsWith('@kubernetes/client-node')) throw new Error('client-node was loaded by ' + context.parentURL);
     return next(specifier, context);
   }`,
)}`;

describe('client-node stays the user\'s to load', () => {
  it('every import of @kubernetes/client-node under src/ is type-only', () => {
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    })(join(root, 'src'));
    const imports = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        // Code lines only: a TSDoc example (a comment line) is the user's program, not ours.
        .filter((line) => !/^\s*(\*|\/\/)/.test(line))
        .filter((line) => /from '@kubernetes\/client-node'|import\('@kubernetes\/client-node'\)/.test(line))
        .map((line) => [file, line.trim()] as const),
    );
    expect(imports.length).toBeGreaterThan(0);
    for (const [file, line] of imports) expect(line, file).toMatch(/^import type /);
  });

  it('importing ridethrough and ridethrough/kubernetes loads no client-node', async () => {
    const program = `
      import { register } from 'node:module';
      register(${JSON.stringify(refuseClientNode)});
      const root = await import(${JSON.stringify(join(root, 'src/index.ts'))});
      const kube = await import(${JSON.stringify(join(root, 'src/kubernetes/index.ts'))});
      console.log(typeof root.retry, typeof kube.makeApiClient, typeof kube.retryOnConflict);
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { cwd: root });
    expect(stdout.trim()).toBe('function function function');
  });

  it('the refusing loader does refuse client-node (the check above can fail)', async () => {
    const program = `
      import { register } from 'node:module';
      register(${JSON.stringify(refuseClientNode)});
      await import('@kubernetes/client-node');
    `;
    const failure = await run(process.execPath, ['--input-type=module', '-e', program], { cwd: root }).then(
      () => 'loaded',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    expect(failure).toContain('client-node was loaded');
  });
});
