/**
 * The recipes of a guide, as modules a test can import: every fenced `ts` block right after a
 * `<!-- recipe: name -->` line is written to `.tmp/recipes-<pid>/<name>.ts`, so the code a user
 * copies from the guide is the code the suite runs.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface GuideRecipes {
  /** The directory the recipes are written to. */
  readonly dir: string;
  /** The recipe's file, to `import()`. */
  file(name: string): string;
  /** The recipe's source text. */
  source(name: string): string;
  /** Removes the written files. */
  remove(): void;
}

export function writeGuideRecipes(guide: string): GuideRecipes {
  const text = readFileSync(join(root, guide), 'utf8');
  const dir = join(root, '.tmp', `recipes-${process.pid}-${guide.replace(/\W/g, '_')}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const sources = new Map<string, string>();
  for (const match of text.matchAll(/<!-- recipe: ([\w-]+) -->\n```ts\n([\s\S]*?)\n```/g)) {
    const [, name, source] = match as unknown as [string, string, string];
    if (sources.has(name)) throw new Error(`${guide}: recipe "${name}" appears twice`);
    sources.set(name, source);
    writeFileSync(join(dir, `${name}.ts`), `// from ${guide}\n${source}\n`);
  }
  const known = (name: string): string => {
    if (!sources.has(name)) throw new Error(`${guide} has no recipe "${name}" (has: ${[...sources.keys()].join(', ')})`);
    return name;
  };
  return {
    dir,
    file: (name) => join(dir, `${known(name)}.ts`),
    source: (name) => sources.get(known(name))!,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
