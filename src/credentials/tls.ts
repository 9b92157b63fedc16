/**
 * liveTlsCredentials: a certificate, its key and an optional CA bundle, loaded as one generation
 * and followed as they rotate, for a TLS server (attach) or a client (secureContext).
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { permanent, transient } from '../classify/index.js';
import { contentHash, readFilesWithRetry } from '../files/index.js';
import type { CheckOutcome } from '../gate/index.js';
import { checkOptionNames, describe, pathArgument } from '../shared/validate.js';
import { watchWithFallback, type Watcher } from '../watch/index.js';
import {
  announceChange, announceRejected, armed, firstReadOptions, nextWaitMs, optionNames, optionsRecord, readOptions, settingsFrom,
  untilLifetimeWake, type CredentialsOptions, type Settings,
} from './common.js';

/** The files of {@link liveTlsCredentials}. */
export interface TlsCredentialFiles {
  /** The certificate (chain), PEM: `tls.crt`. */
  readonly cert: string;
  /** Its private key, PEM: `tls.key`. */
  readonly key: string;
  /** CA certificates to trust (for a server: the client CAs of mTLS; for a client: the server's CA): `ca.crt`. */
  readonly ca?: string | undefined;
}

/** Options of {@link liveTlsCredentials}: those of {@link CredentialsOptions}, and the secure context's. */
export interface LiveTlsCredentialsOptions extends CredentialsOptions {
  /** Extra options for every secure context made (`minVersion`, `ciphers`, ...); `cert`, `key` and `ca` come from the files. @defaultValue none */
  secureContextOptions?: Omit<SecureContextOptions, 'cert' | 'key' | 'ca'> | undefined;
}

/** A server {@link TlsCredentials.attach} can follow: a `tls.Server` or an `https.Server`. */
export type SecureContextServer = Pick<TlsServer, 'setSecureContext' | 'once' | 'off'>;

/** A certificate and key followed by {@link liveTlsCredentials}. */
export interface TlsCredentials {
  /** The files, as given. */
  readonly paths: readonly string[];
  /** A secure context of the current pair, for `tls.connect({ secureContext })` or an `https.Agent`. */
  readonly secureContext: SecureContext;
  /** The current (leaf) certificate. */
  readonly certificate: X509Certificate;
  /** SHA-256 of the current certificate and CA bytes (hex). */
  readonly hash: string;
  /** When the current certificate expires. */
  readonly notAfter: Date;
  /**
   * Applies the current pair to `server` at once (`setSecureContext`), then again at every
   * change: new handshakes get the new certificate, open connections go on. Returns a function
   * that stops following; a server that emits `close` is let go by itself.
   */
  attach(server: SecureContextServer): () => void;
  /**
   * A readiness check for `readinessGate`: fails when no certificate is loaded or the current
   * one has expired (or is not yet valid), with the validity in its detail.
   */
  readonly check: () => CheckOutcome;
  /** Aborts when the credentials are closed. */
  readonly signal: AbortSignal;
  /** Stops following the files and lets every attached server go; resolves once nothing is left. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const KNOWN_OPTIONS = optionNames(['secureContextOptions']);
/** A re-read rides through a rotation in progress for this long, then keeps the last good pair. */
const REREAD_DEADLINE_MS = 5_000;

/** One loaded generation. The key stays in here: only `setSecureContext` needs the bytes. */
interface Pair {
  readonly material: { cert: Buffer; key: Buffer; ca?: Buffer };
  readonly secureContext: SecureContext;
  readonly certificate: X509Certificate;
  readonly hash: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * Loads a TLS certificate and its key (and a CA bundle) that the kubelet, cert-manager or a CSR
 * controller rotates, and follows them: resolves once the first matching pair is loaded, then
 * re-reads on every change (file watch), every `intervalMs`, at `lifetimeShare` of the
 * certificate's lifetime and close to its end. A new version that is unreadable, whose key does
 * not match, or that is expired or not yet valid is refused (`onRejected`) and the last good
 * pair stays. The files are always read as one generation ({@link readFilesWithRetry}).
 *
 * Bad arguments reject the promise (a `TypeError` or `RangeError` naming the option).
 *
 * Guide: [Credentials that rotate](../../docs/guides/credentials.md).
 *
 * @param files - `{ cert, key, ca? }`: the PEM files.
 * @param options - See {@link LiveTlsCredentialsOptions}.
 * @returns The live credentials; `close()` them when done.
 *
 * @example
 * ```ts
 * import { liveTlsCredentials } from 'ridethrough/credentials';
 * import { execFileSync } from 'node:child_process';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { createServer } from 'node:https';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'tls-example-'));
 * const cert = join(dir, 'tls.crt');
 * const key = join(dir, 'tls.key');
 * execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
 *   '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=example'], { stdio: 'ignore' });
 *
 * await using tls = await liveTlsCredentials({ cert, key }, { name: 'webhook' });
 * const server = createServer((request, response) => response.end('ok'));
 * tls.attach(server); // every rotation of tls.crt/tls.key now reaches new handshakes
 * console.log(tls.certificate.subject); // CN=example
 * console.log(tls.check()); // { ok: true, detail: 'valid until ...' }
 * server.close();
 * await rm(dir, { recursive: true });
 * ```
 */
export function liveTlsCredentials(files: TlsCredentialFiles, options?: LiveTlsCredentialsOptions): Promise<TlsCredentials> {
  try {
    return start(configure(files, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

interface TlsSettings extends Settings {
  readonly files: Readonly<Record<string, string>>;
  readonly paths: readonly string[];
  readonly contextOptions: Omit<SecureContextOptions, 'cert' | 'key' | 'ca'>;
}

function configure(files: unknown, options: LiveTlsCredentialsOptions | undefined): TlsSettings {
  const where = 'liveTlsCredentials()';
  if (files === null || typeof files !== 'object' || Array.isArray(files)) {
    throw new TypeError(`${where}: "files" must be an object { cert, key, ca? }, got ${describe(files)}`);
  }
  const f = files as Record<string, unknown>;
  checkOptionNames(`${where}: "files"`, f, new Set(['cert', 'key', 'ca']));
  const paths: Record<string, string> = {
    cert: pathArgument(where, 'files.cert', f.cert),
    key: pathArgument(where, 'files.key', f.key),
  };
  if (f.ca !== undefined) paths.ca = pathArgument(where, 'files.ca', f.ca);
  const o = optionsRecord(where, options, KNOWN_OPTIONS);
  const contextOptions = o.secureContextOptions;
  if (contextOptions !== undefined && (contextOptions === null || typeof contextOptions !== 'object')) {
    throw new TypeError(`${where}: option "secureContextOptions" must be an object, got ${describe(contextOptions)}`);
  }
  return {
    ...settingsFrom(where, o),
    files: paths,
    paths: Object.freeze(Object.values(paths)),
    contextOptions: (contextOptions ?? {}) as TlsSettings['contextOptions'],
  };
}

/**
 * Builds a pair from one generation's bytes; throws what makes it unusable. The validity dates
 * are checked only for a pair other than `current`: the pair in use is not refused again when it
 * expires (`check` reports that).
 */
function toPair(s: TlsSettings, bytes: Readonly<Record<string, Buffer>>, mark: (error: Error) => Error, current?: Pair): Pair {
  const material = { cert: bytes.cert!, key: bytes.key!, ...(bytes.ca === undefined ? {} : { ca: bytes.ca }) };
  const certificate = new X509Certificate(material.cert); // PEM errors: mid-rotation
  const secureContext = createSecureContext({ ...s.contextOptions, ...material }); // key mismatch: mid-rotation
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  const hash = contentHash(bytes.ca === undefined ? material.cert : Buffer.concat([material.cert, Buffer.from('\n'), bytes.ca]));
  if (hash === current?.hash) return current;
  const now = s.schedule.now();
  if (now >= notAfter) throw mark(validityError('ERR_CERT_EXPIRED', `the certificate expired at ${certificate.validTo}`));
  if (now < notBefore) throw mark(validityError('ERR_CERT_NOT_YET_VALID', `the certificate is not valid before ${certificate.validFrom}`));
  return { material, secureContext, certificate, hash, notBefore, notAfter };
}

function validityError(code: string, message: string): Error {
  return Object.assign(new Error(`liveTlsCredentials(): ${message}`), { code });
}

async function start(s: TlsSettings): Promise<TlsCredentials> {
  // First load: anything wrong may be a rotation in progress (an expired certificate about to be
  // renewed included), so all of it is retried until the deadline.
  let pair = await readFilesWithRetry(s.files, {
    parse: (bytes) => toPair(s, bytes, (error) => transient(error)),
    ...firstReadOptions(s),
  });
  s.signal?.throwIfAborted();
  announceChange(s.hooks, { kind: 'tls', paths: s.paths, hash: pair.hash, previousHash: undefined, notAfter: pair.notAfter });

  const lifetime = new AbortController();
  const servers = new Map<SecureContextServer, () => void>();
  let failures = 0;

  const apply = (server: SecureContextServer): void => {
    try {
      server.setSecureContext({ ...s.contextOptions, ...pair.material });
    } catch {
      // The pair made a context already; a server that refuses it keeps its current one.
    }
  };

  const reread = async ({ signal }: { signal: AbortSignal }): Promise<void> => {
    let next: Pair;
    try {
      // A re-read rides through a rotation caught half-way; a finished but bad version
      // (expired, not yet valid) is refused at once.
      next = await readFilesWithRetry(s.files, {
        parse: (bytes) => toPair(s, bytes, (error) => permanent(error), pair),
        deadlineMs: REREAD_DEADLINE_MS,
        initialDelayMs: 50,
        signal,
        ...readOptions(s),
      });
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      announceRejected(s.hooks, { kind: 'tls', paths: s.paths, error, keptHash: pair.hash });
      return;
    }
    failures = 0;
    if (next.hash === pair.hash) return;
    const previousHash = pair.hash;
    pair = next;
    for (const server of servers.keys()) apply(server);
    announceChange(s.hooks, { kind: 'tls', paths: s.paths, hash: pair.hash, previousHash, notAfter: pair.notAfter });
  };

  const watcher: Watcher = watchWithFallback(s.paths, reread, {
    ...s.watchOptions,
    clock: s.clock,
    signal: lifetime.signal,
    intervalMs: () => nextWaitMs(s.schedule, untilLifetimeWake(pair.notBefore, pair.notAfter, s.schedule.lifetimeShare, s.schedule.now()), failures),
  });
  const close = await armed(watcher, lifetime, s.signal, () => {
    for (const detach of [...servers.values()]) detach();
  });

  const check = (): CheckOutcome => {
    if (lifetime.signal.aborted) return { ok: false, detail: 'closed: the certificate is no longer followed' };
    const now = s.schedule.now();
    const { certificate } = pair;
    if (now >= pair.notAfter) return { ok: false, detail: `certificate expired at ${certificate.validTo}` };
    if (now < pair.notBefore) return { ok: false, detail: `certificate not valid before ${certificate.validFrom}` };
    return { ok: true, detail: `valid until ${certificate.validTo}` };
  };

  return Object.freeze({
    paths: s.paths,
    get secureContext() {
      return pair.secureContext;
    },
    get certificate() {
      return pair.certificate;
    },
    get hash() {
      return pair.hash;
    },
    get notAfter() {
      return new Date(pair.notAfter);
    },
    attach(server: SecureContextServer): () => void {
      if (server === null || typeof server !== 'object' || typeof server.setSecureContext !== 'function') {
        throw new TypeError(`TlsCredentials.attach(): "server" must be a tls.Server or https.Server, got ${describe(server)}`);
      }
      servers.get(server)?.();
      apply(server);
      if (lifetime.signal.aborted) return () => {};
      const detach = (): void => {
        if (servers.get(server) !== detach) return;
        servers.delete(server);
        server.off('close', detach);
      };
      servers.set(server, detach);
      server.once('close', detach);
      return detach;
    },
    check,
    signal: lifetime.signal,
    close,
    [Symbol.asyncDispose]: close,
  });
}
