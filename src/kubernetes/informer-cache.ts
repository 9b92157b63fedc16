/**
 * The informer's cache: objects by namespace, then name, as client-node's `ListWatch` keeps them,
 * and the rule that decides what an incoming object means (add, update, delete or nothing).
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** What applying an object or a list changed, for the callbacks. */
export interface CacheChange<T> {
  readonly verb: 'add' | 'update' | 'delete';
  readonly object: T;
}

function namespaceOf(object: KubernetesObject): string {
  return object.metadata?.namespace ?? '';
}

function nameOf(object: KubernetesObject): string {
  return object.metadata?.name ?? '';
}

function versionOf(object: KubernetesObject): string | undefined {
  return object.metadata?.resourceVersion;
}

export class InformerCache<T extends KubernetesObject> {
  readonly #byNamespace = new Map<string, Map<string, T>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#byNamespace.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined && namespace !== '') return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const objects of this.#byNamespace.values()) for (const object of objects.values()) all.push(object);
    return all;
  }

  /**
   * An ADDED or MODIFIED object: `add` when it is new, `update` when its resourceVersion differs
   * from the cached one, nothing when it is the same version (a resumed watch or a relist seeing
   * what the cache already holds).
   */
  upsert(object: T): CacheChange<T> | undefined {
    const namespace = namespaceOf(object);
    let objects = this.#byNamespace.get(namespace);
    if (objects === undefined) this.#byNamespace.set(namespace, (objects = new Map()));
    const name = nameOf(object);
    const cached = objects.get(name);
    if (cached !== undefined && versionOf(cached) !== undefined && versionOf(cached) === versionOf(object)) return undefined;
    objects.set(name, object);
    if (cached === undefined) this.#size++;
    return { verb: cached === undefined ? 'add' : 'update', object };
  }

  /** A DELETED object: `delete` when it was cached (with the state the server sent last). */
  remove(object: T): CacheChange<T> | undefined {
    const namespace = namespaceOf(object);
    const objects = this.#byNamespace.get(namespace);
    if (objects === undefined || !objects.delete(nameOf(object))) return undefined;
    this.#size--;
    if (objects.size === 0) this.#byNamespace.delete(namespace);
    return { verb: 'delete', object };
  }

  /**
   * A full list replaces the cache: the changes are only the real differences, deletes of what
   * the list no longer has first, then adds and updates by resourceVersion.
   */
  replace(items: readonly T[]): CacheChange<T>[] {
    const listed = new Map<string, Set<string>>();
    for (const item of items) {
      const namespace = namespaceOf(item);
      let names = listed.get(namespace);
      if (names === undefined) listed.set(namespace, (names = new Set()));
      names.add(nameOf(item));
    }
    const changes: CacheChange<T>[] = [];
    for (const [namespace, objects] of [...this.#byNamespace]) {
      const names = listed.get(namespace);
      for (const [name, object] of [...objects]) {
        if (names?.has(name)) continue;
        const change = this.remove(object);
        if (change !== undefined) changes.push(change);
      }
    }
    for (const item of items) {
      const change = this.upsert(item);
      if (change !== undefined) changes.push(change);
    }
    return changes;
  }

  clear(): void {
    this.#byNamespace.clear();
    this.#size = 0;
  }
}
