/**
 * What to watch for which path: the directories a set of paths needs watched as they are on disk
 * now (a file's directory, a symlink target's directory, the nearest existing ancestor of a
 * missing path), and which entry names in each concern which path.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

/** kubelet's data link, its temporary twin, and its timestamped data directories. */
const DATA_LINK = '..data';
const DATA_TMP = '..data_tmp';
const TIMESTAMP_DIR = /^\.\.\d{4}(_\d\d){5}\.\d+$/;

/** What the events of one watched directory mean. */
export interface DirRole {
  /** Entry name -> the given paths an event on that entry concerns. */
  readonly names: Map<string, Set<string>>;
  /** Given paths that are this directory: any entry but kubelet's bookkeeping concerns them. */
  readonly wholeDir: Set<string>;
  /** Entry names whose creation, deletion or rename may change the plan (user files, probes). */
  readonly structural: Set<string>;
}

/** Which directories to watch, and why, for the paths as they are on disk now. */
export interface Plan {
  readonly dirs: Map<string, DirRole>;
  /** Paths that do not exist (or cannot be examined), with the error that says so. */
  readonly missing: ReadonlyArray<{ readonly path: string; readonly error: unknown }>;
  /** Equal keys mean the same directories, watched for the same reasons. */
  readonly key: string;
}

/** Stats every path and decides which directories to watch. Never rejects for a missing path. */
export async function makePlan(given: readonly string[]): Promise<Plan> {
  const dirs = new Map<string, DirRole>();
  const missing: Array<{ path: string; error: unknown }> = [];
  const role = (dir: string): DirRole => {
    let r = dirs.get(dir);
    if (r === undefined) {
      r = { names: new Map(), wholeDir: new Set(), structural: new Set() };
      dirs.set(dir, r);
    }
    return r;
  };
  const concern = (dir: string, name: string, path: string, structural: boolean): void => {
    const r = role(dir);
    let set = r.names.get(name);
    if (set === undefined) r.names.set(name, (set = new Set()));
    set.add(path);
    if (structural) r.structural.add(name);
  };

  for (const path of given) {
    const absolute = resolve(path);
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(absolute)).isDirectory();
    } catch (error) {
      missing.push({ path, error });
      // Watch the nearest ancestor that exists for the next name on the way down (chokidar
      // never reports a path whose parent did not exist when it was added: chokidar#1422).
      const probe = await nearestExistingAncestor(absolute);
      if (probe !== undefined) {
        concern(probe.dir, probe.next, path, true);
        concern(probe.dir, DATA_LINK, path, true); // a dangling kubelet link comes back with ..data
      }
      continue;
    }
    if (isDirectory) {
      role(absolute).wholeDir.add(path);
      continue;
    }
    const parent = dirname(absolute);
    concern(parent, basename(absolute), path, true);
    concern(parent, DATA_LINK, path, false);
    // A symlink that leads to another directory: watch where the content really changes.
    const target = await realTargetDir(absolute);
    if (target !== undefined && target.dir !== (await realpath(parent).catch(() => parent))) {
      concern(target.dir, target.name, path, true);
      concern(target.dir, DATA_LINK, path, false);
    }
  }

  const key = [...dirs]
    .map(([dir, r]) => {
      const names = [...r.names].map(([name, paths]) => `${name}=${[...paths].join(',')}`).sort();
      return `${dir}|${names.join(';')}|${[...r.wholeDir].join(',')}|${[...r.structural].sort().join(',')}`;
    })
    .sort()
    .join('\n');
  return { dirs, missing, key };
}

async function nearestExistingAncestor(path: string): Promise<{ dir: string; next: string } | undefined> {
  let child = path;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      if ((await stat(dir)).isDirectory()) return { dir, next: basename(child) };
    } catch {
      // Not there either: one level up.
    }
    if (dirname(dir) === dir) return undefined;
    child = dir;
  }
}

/**
 * The directory holding the file a symlink finally resolves to, and the name there. A target in
 * a kubelet `..<timestamp>` directory maps to the volume directory (it is replaced on every update;
 * the volume directory is where `..data` flips).
 */
async function realTargetDir(path: string): Promise<{ dir: string; name: string } | undefined> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined;
  }
  const dir = dirname(real);
  return { dir: TIMESTAMP_DIR.test(basename(dir)) ? dirname(dir) : dir, name: basename(real) };
}

export function isKubeletBookkeeping(name: string): boolean {
  return name === DATA_TMP || TIMESTAMP_DIR.test(name);
}
