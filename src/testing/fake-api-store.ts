/**
 * The object store behind {@link startFakeApiServer}: objects by resource, one resourceVersion
 * counter for all of them (as etcd's revision), and the history of changes a watch resumes from.
 */

/** The metadata fields the fake server reads and stamps; any others are kept as given. */
export interface FakeObjectMetadata {
  /** The object's name. */
  name?: string | undefined;
  /** Its namespace; `default` when missing for a namespaced resource. */
  namespace?: string | undefined;
  /** Stamped by the server at every write; a stale one on an update is a Conflict. */
  resourceVersion?: string | undefined;
  /** Labels, kept as given (the fake server applies no selectors). */
  labels?: Record<string, string> | undefined;
  [key: string]: unknown;
}

/** The smallest shape of a Kubernetes object the fake server stores. */
export interface FakeObject {
  /** Stamped by the server from the resource when missing. */
  apiVersion?: string | undefined;
  /** Stamped by the server from the resource when missing. */
  kind?: string | undefined;
  /** The object's metadata: the server keys objects by namespace and name. */
  metadata?: FakeObjectMetadata | undefined;
  [key: string]: unknown;
}

/** A resource the fake server serves: `{ plural: 'pods', kind: 'Pod' }`. */
export interface FakeResource {
  /** The URL name: `'pods'`, `'configmaps'`, `'widgets'`. */
  readonly plural: string;
  /** The object kind: `'Pod'`. Lists are `<kind>List`. */
  readonly kind: string;
  /** `'v1'` for the core group, `'<group>/<version>'` otherwise. @defaultValue 'v1' */
  readonly apiVersion?: string | undefined;
  /** Whether objects live in namespaces. @defaultValue true */
  readonly namespaced?: boolean | undefined;
}

/** A watch event type, as the API server writes it. */
export type FakeEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, kept in the history. */
export interface FakeChange {
  readonly type: FakeEventType;
  readonly plural: string;
  readonly object: FakeObject;
  readonly resourceVersion: number;
}

/** A failure of a store operation, as the API server would answer it. */
export class FakeStoreError extends Error {
  constructor(
    readonly reason: 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid',
    message: string,
  ) {
    super(message);
    this.name = 'FakeStoreError';
  }
}

const clone = (object: FakeObject): FakeObject => structuredClone(object);

export class FakeStore {
  readonly resources = new Map<string, Required<FakeResource>>();
  /** plural -> "namespace/name" -> object. */
  readonly #objects = new Map<string, Map<string, FakeObject>>();
  #history: FakeChange[] = [];
  #revision = 1;
  /** Watches from a resourceVersion below this get 410 Expired. */
  #compactedAt = 0;
  readonly #listeners = new Set<(change: FakeChange) => void>();

  constructor(resources: readonly FakeResource[]) {
    for (const r of resources) {
      this.resources.set(r.plural, { apiVersion: 'v1', namespaced: true, ...r } as Required<FakeResource>);
      this.#objects.set(r.plural, new Map());
    }
  }

  get revision(): number {
    return this.#revision;
  }

  get compactedAt(): number {
    return this.#compactedAt;
  }

  resource(plural: string): Required<FakeResource> {
    const r = this.resources.get(plural);
    if (r === undefined) throw new TypeError(`fake API server: no resource "${plural}" (given: ${[...this.resources.keys()].join(', ')})`);
    return r;
  }

  subscribe(listener: (change: FakeChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(plural: string, name: string, namespace?: string): FakeObject | undefined {
    const found = this.#bucket(plural).get(key(this.resource(plural), name, namespace));
    return found === undefined ? undefined : clone(found);
  }

  list(plural: string, namespace?: string): FakeObject[] {
    const all = [...this.#bucket(plural).values()];
    return (namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace)).map(clone);
  }

  create(plural: string, object: FakeObject, namespace?: string): FakeObject {
    const r = this.resource(plural);
    const stored = this.#stamp(r, object, namespace);
    const k = key(r, stored.metadata!.name!, stored.metadata!.namespace);
    const bucket = this.#bucket(plural);
    if (bucket.has(k)) throw new FakeStoreError('AlreadyExists', `${plural} "${stored.metadata!.name}" already exists`);
    return this.#commit('ADDED', plural, k, stored);
  }

  /** Replaces an object; a `metadata.resourceVersion` that is not the current one is a Conflict. */
  update(plural: string, object: FakeObject, namespace?: string): FakeObject {
    const r = this.resource(plural);
    const stored = this.#stamp(r, object, namespace);
    const k = key(r, stored.metadata!.name!, stored.metadata!.namespace);
    const current = this.#bucket(plural).get(k);
    if (current === undefined) throw new FakeStoreError('NotFound', `${plural} "${stored.metadata!.name}" not found`);
    const expected = object.metadata?.resourceVersion;
    if (expected !== undefined && expected !== '' && expected !== current.metadata!.resourceVersion) {
      throw new FakeStoreError(
        'Conflict',
        `Operation cannot be fulfilled on ${plural} "${stored.metadata!.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return this.#commit('MODIFIED', plural, k, stored);
  }

  remove(plural: string, name: string, namespace?: string): FakeObject {
    const r = this.resource(plural);
    const k = key(r, name, namespace);
    const current = this.#bucket(plural).get(k);
    if (current === undefined) throw new FakeStoreError('NotFound', `${plural} "${name}" not found`);
    return this.#commit('DELETED', plural, k, clone(current));
  }

  /** The changes after `resourceVersion` for one resource (a namespace, when given). */
  changesSince(plural: string, resourceVersion: number, namespace?: string): FakeChange[] {
    return this.#history.filter(
      (c) => c.plural === plural && c.resourceVersion > resourceVersion && (namespace === undefined || c.object.metadata?.namespace === namespace),
    );
  }

  /** Forgets the history: a watch from any earlier resourceVersion then gets 410 Expired. */
  compact(): void {
    this.#history = [];
    this.#compactedAt = this.#revision;
  }

  #bucket(plural: string): Map<string, FakeObject> {
    this.resource(plural);
    return this.#objects.get(plural)!;
  }

  #stamp(r: Required<FakeResource>, object: FakeObject, namespace: string | undefined): FakeObject {
    if (object === null || typeof object !== 'object' || typeof object.metadata?.name !== 'string' || object.metadata.name === '') {
      throw new FakeStoreError('Invalid', `${r.plural}: metadata.name is required`);
    }
    const stored = clone(object);
    stored.apiVersion = r.apiVersion;
    stored.kind = r.kind;
    const ns = r.namespaced ? (namespace ?? stored.metadata!.namespace ?? 'default') : undefined;
    stored.metadata = { ...stored.metadata, namespace: ns };
    if (ns === undefined) delete stored.metadata.namespace;
    return stored;
  }

  #commit(type: FakeEventType, plural: string, k: string, object: FakeObject): FakeObject {
    const resourceVersion = ++this.#revision;
    object.metadata!.resourceVersion = String(resourceVersion);
    if (type === 'DELETED') this.#objects.get(plural)!.delete(k);
    else this.#objects.get(plural)!.set(k, object);
    const change: FakeChange = Object.freeze({ type, plural, object: clone(object), resourceVersion });
    this.#history.push(change);
    for (const listener of this.#listeners) listener(change);
    return clone(object);
  }
}

function key(r: Required<FakeResource>, name: string, namespace: string | undefined): string {
  return r.namespaced ? `${namespace ?? 'default'}/${name}` : name;
}
