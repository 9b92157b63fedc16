/**
 * Every `@example` in the TSDoc of src/ is a complete program: this test extracts each one,
 * typechecks them all against the package's public types, and runs each with a time limit, so
 * the API documentation cannot rot.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
// Per process, so two test runs in one checkout do not trample each other's files.
const outDir = join(root, '.tmp', `doc-examples-${process.pid}`);

interface DocExample {
  id: string;
  source: string;
  file: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** The fenced ts blocks that follow an `@example` tag, with the comment's leading ` * ` removed. */
function extract(file: string): DocExample[] {
  const text = readFileSync(file, 'utf8');
  const examples: DocExample[] = [];
  const pattern = /@example[^\n]*\n((?:[ \t]*\*[^\n]*\n)*?)[ \t]*\*[ \t]*```ts\n((?:[ \t]*\*[^\n]*\n)*?)[ \t]*\*[ \t]*```/g;
  for (const match of text.matchAll(pattern)) {
    const body = match[2]!
      .split('\n')
      .map((line) => line.replace(/^[ \t]*\* ?/, ''))
      .join('\n');
    const line = text.slice(0, match.index).split('\n').length;
    const name = relative(join(root, 'src'), file).replace(/[/.]/g, '_');
    const id = `${relative(root, file)}:${line}`;
    examples.push({ id, source: body, file: join(outDir, `${name}_L${line}.ts`) });
  }
  return examples;
}

const examples = sourceFiles(join(root, 'src')).flatMap(extract);

beforeAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const example of examples) writeFileSync(example.file, `// from ${example.id}\n${example.source}`);
});

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('TSDoc @example blocks', () => {
  it('exist for the primitives', () => {
    const folders = new Set(examples.map((e) => e.id.split('/')[1]));
    for (const m of ['classify', 'retry', 'files', 'watch', 'gate']) {
      expect(folders, `no @example in src/${m}/`).toContain(m);
    }
  });

  it('typecheck against the public API', async () => {
    const tsconfig = join(outDir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({ extends: '../../tsconfig.json', include: ['./*.ts'], compilerOptions: { noEmit: true } }),
    );
    const result = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
      cwd: root,
    }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }));
    expect(result.stdout).toBe('');
  }, 120_000);

  it.each(examples.map((e) => [e.id, e] as const))('%s runs', async (_id, example) => {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', example.file], {
      cwd: root,
      timeout: 20_000,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    expect(stderr).toBe('');
  }, 30_000);
});
