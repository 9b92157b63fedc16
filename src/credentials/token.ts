/**
 * liveToken: a bearer token file (a projected service-account token) loaded and kept fresh,
 * re-read at a change, at ~80% of a JWT's lifetime, and at least every minute (as client-go).
 */
import { readFile } from 'node:fs/promises';
import { EmptyFileError } from '../classify/index.js';
import { contentHash, readFileWithRetry } from '../files/index.js';
import type { CheckOutcome } from '../gate/index.js';
import { pathArgument } from '../shared/validate.js';
import { watchWithFallback } from '../watch/index.js';
import {
  announceChange, announceRejected, armed, firstReadOptions, nextWaitMs, optionNames, optionsRecord, settingsFrom, untilLifetimeWake,
  type CredentialsOptions, type Settings,
} from './common.js';

/** Options of {@link liveToken}: those of {@link CredentialsOptions}. */
export type LiveTokenOptions = CredentialsOptions;

/** A token file followed by {@link liveToken}. */
export interface LiveToken {
  /** The file, as given. */
  readonly path: string;
  /** The last good token, without surrounding whitespace. */
  readonly current: string;
  /** When the token expires (its JWT `exp`); `undefined` when it is not a JWT with `exp`. */
  readonly expiresAt: Date | undefined;
  /** A readiness check for `readinessGate`: fails once the current token has expired. */
  readonly check: () => CheckOutcome;
  /** Aborts when the token is closed. */
  readonly signal: AbortSignal;
  /** Stops following the file; resolves once nothing is left. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const KNOWN_OPTIONS = optionNames();

interface Token {
  readonly value: string;
  readonly hash: string;
  /** Epoch ms, from the JWT. */
  readonly issuedAt: number | undefined;
  readonly expiresAt: number | undefined;
}

/**
 * Loads a bearer token file and keeps it fresh: resolves once a first non-empty token is read
 * (retrying a missing or empty file until `deadlineMs`), then re-reads it when the file changes,
 * at `lifetimeShare` of its lifetime when it is a JWT (`iat`/`exp` decoded, not verified), close
 * to its expiry, and at least every `intervalMs`. A failed read or an empty file keeps the last
 * good token (`onRejected`); client-go and @kubernetes/client-node throw there instead.
 *
 * Bad arguments reject the promise (a `TypeError` or `RangeError` naming the option).
 *
 * Guide: [Credentials that rotate](../../docs/guides/credentials.md).
 *
 * @param path - The token file (`/var/run/secrets/kubernetes.io/serviceaccount/token`).
 * @param options - See {@link LiveTokenOptions}.
 * @returns The live token; `close()` it when done.
 *
 * @example
 * ```ts
 * import { liveToken } from 'ridethrough/credentials';
 * import { mkdtemp, rm, writeFile } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'token-example-'));
 * const file = join(dir, 'token');
 * const now = Math.floor(Date.now() / 1000);
 * const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
 * await writeFile(file, `${part({ alg: 'none' })}.${part({ iat: now, exp: now + 3600 })}.sig\n`);
 *
 * const token = await liveToken(file, { name: 'apiserver' });
 * const headers = { authorization: `Bearer ${token.current}` };
 * console.log(headers.authorization.startsWith('Bearer ')); // true
 * console.log(token.expiresAt?.toISOString()); // an hour from now: re-read at 48 minutes
 * console.log(token.check()); // { ok: true, detail: 'valid until ...' }
 * await token.close();
 * await rm(dir, { recursive: true });
 * ```
 */
export function liveToken(path: string, options?: LiveTokenOptions): Promise<LiveToken> {
  const where = 'liveToken()';
  let settings: TokenSettings;
  try {
    settings = configure(where, path, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return start(settings);
}

interface TokenSettings extends Settings {
  readonly file: string;
}

function configure(where: string, path: unknown, options: LiveTokenOptions | undefined): TokenSettings {
  const file = pathArgument(where, 'path', path);
  return { ...settingsFrom(where, optionsRecord(where, options, KNOWN_OPTIONS)), file };
}

function toToken(file: string, text: string): Token {
  const value = text.trim();
  if (value === '') throw new EmptyFileError(file);
  const claims = jwtClaims(value);
  return { value, hash: contentHash(value), issuedAt: seconds(claims?.iat), expiresAt: seconds(claims?.exp) };
}

/** The payload of a JWT (`header.payload.signature`), decoded and not verified; `undefined` for anything else. */
function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value * 1000 : undefined;
}

async function start(s: TokenSettings): Promise<LiveToken> {
  let token = await readFileWithRetry(s.file, {
    parse: (text: string) => toToken(s.file, text),
    ...firstReadOptions(s),
  });
  s.signal?.throwIfAborted();
  const paths = Object.freeze([s.file]);
  announceChange(s.hooks, { kind: 'token', paths, hash: token.hash, previousHash: undefined, notAfter: token.expiresAt });

  let failures = 0;
  const reread = async ({ signal }: { signal: AbortSignal }): Promise<void> => {
    let next: Token;
    try {
      next = toToken(s.file, await readFile(s.file, { encoding: 'utf8', signal }));
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      announceRejected(s.hooks, { kind: 'token', paths, error, keptHash: token.hash });
      return;
    }
    failures = 0;
    if (next.hash === token.hash) return;
    const previousHash = token.hash;
    token = next;
    announceChange(s.hooks, { kind: 'token', paths, hash: token.hash, previousHash, notAfter: token.expiresAt });
  };

  const lifetime = new AbortController();
  const lifetimeWake = (): number | undefined => {
    if (token.expiresAt === undefined) return undefined;
    // A token without `iat`: count its lifetime from when it was loaded.
    return untilLifetimeWake(token.issuedAt ?? loadedAt, token.expiresAt, s.schedule.lifetimeShare, s.schedule.now());
  };
  let loadedAt = s.schedule.now();
  const watcher = watchWithFallback(s.file, async (context) => {
    const before = token;
    await reread(context);
    if (token !== before) loadedAt = s.schedule.now();
  }, {
    ...s.watchOptions,
    clock: s.clock,
    signal: lifetime.signal,
    intervalMs: () => nextWaitMs(s.schedule, lifetimeWake(), failures),
  });
  const close = await armed(watcher, lifetime, s.signal);

  return Object.freeze({
    path: s.file,
    get current() {
      return token.value;
    },
    get expiresAt() {
      return token.expiresAt === undefined ? undefined : new Date(token.expiresAt);
    },
    check: (): CheckOutcome => {
      if (lifetime.signal.aborted) return { ok: false, detail: 'closed: the token is no longer followed' };
      if (token.expiresAt === undefined) return { ok: true, detail: 'token has no expiry' };
      const at = new Date(token.expiresAt).toISOString();
      return s.schedule.now() >= token.expiresAt ? { ok: false, detail: `token expired at ${at}` } : { ok: true, detail: `valid until ${at}` };
    },
    signal: lifetime.signal,
    close,
    [Symbol.asyncDispose]: close,
  });
}
