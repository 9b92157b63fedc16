import type { X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTlsServer, type SecureContext } from 'node:tls';
import {
  liveTlsCredentials,
  liveToken,
  type CredentialsChangeEvent,
  type CredentialsOptions,
  type CredentialsRejectedEvent,
  type LiveToken,
  type LiveTokenOptions,
  type LiveTlsCredentialsOptions,
  type SecureContextServer,
  type TlsCredentialFiles,
  type TlsCredentials,
} from 'ridethrough/credentials';
import { readFilesWithRetry, type ReadFilesWithRetryOptions } from 'ridethrough/files';
import type { CheckOutcome } from 'ridethrough/gate';
import type { Clock } from 'ridethrough';
import { describe, expectTypeOf, it } from 'vitest';

/** Every option of `T` present, each possibly `undefined`. */
type Forwarded<T> = { [K in keyof T]-?: T[K] | undefined };

describe('readFilesWithRetry types', () => {
  it('resolves with the record of bytes, keyed by the names given, without parse', () => {
    const files = readFilesWithRetry({ cert: 'tls.crt', key: new URL('file:///tls.key') });
    expectTypeOf(files).resolves.toEqualTypeOf<Readonly<Record<'cert' | 'key', Buffer>>>();
    expectTypeOf(readFilesWithRetry({ token: 't' }, { deadlineMs: 1000 })).resolves.toEqualTypeOf<Readonly<Record<'token', Buffer>>>();
  });

  it('gives parse a record of name -> Buffer and resolves with what it returns', () => {
    const pair = readFilesWithRetry(
      { cert: 'tls.crt', key: 'tls.key' },
      {
        parse: (files) => {
          expectTypeOf(files).toEqualTypeOf<Readonly<Record<'cert' | 'key', Buffer>>>();
          expectTypeOf(files.cert).toEqualTypeOf<Buffer>();
          // @ts-expect-error only the names given are in the record
          void files.crt;
          return { certLength: files.cert.byteLength, key: files.key.toString('utf8') };
        },
      },
    );
    expectTypeOf(pair).resolves.toEqualTypeOf<{ certLength: number; key: string }>();
    // An async parse resolves with its awaited value.
    expectTypeOf(readFilesWithRetry({ a: 'a' }, { parse: async (files) => files.a.length })).resolves.toEqualTypeOf<number>();
  });

  it('accepts `| undefined` for every optional option (exactOptionalPropertyTypes)', () => {
    const forward = (name?: string, deadlineMs?: number, allowEmpty?: boolean, signal?: AbortSignal, clock?: Clock) =>
      readFilesWithRetry(
        { cert: 'c', key: 'k' },
        { name, deadlineMs, allowEmpty, signal, clock, maxAttempts: undefined, maxDelayMs: undefined, classify: undefined, parse: undefined },
      );
    expectTypeOf(forward).returns.resolves.toEqualTypeOf<Readonly<Record<'cert' | 'key', Buffer>>>();
    expectTypeOf<ReadFilesWithRetryOptions['name']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ReadFilesWithRetryOptions['allowEmpty']>().toEqualTypeOf<boolean | undefined>();
  });

  it('refuses misspelled options, an encoding and a parse of text', () => {
    // @ts-expect-error misspelled option
    void readFilesWithRetry({ cert: 'c' }, { deadlinMs: 1000 });
    // @ts-expect-error misspelled option, with parse
    void readFilesWithRetry({ cert: 'c' }, { parse: (files) => files.cert, allowEmtpy: true });
    // @ts-expect-error parse always gets bytes: there is no encoding option
    void readFilesWithRetry({ cert: 'c' }, { encoding: 'utf8' });
    // @ts-expect-error parse gets a record, not a string
    void readFilesWithRetry({ cert: 'c' }, { parse: (text: string) => text.length });
    // @ts-expect-error paths are strings or URLs
    void readFilesWithRetry({ cert: 42 });
  });
});

describe('liveTlsCredentials types', () => {
  it('takes the files and options and resolves with TlsCredentials', () => {
    expectTypeOf(liveTlsCredentials).parameter(0).toEqualTypeOf<TlsCredentialFiles>();
    expectTypeOf(liveTlsCredentials).parameter(1).toEqualTypeOf<LiveTlsCredentialsOptions | undefined>();
    expectTypeOf(liveTlsCredentials).returns.toEqualTypeOf<Promise<TlsCredentials>>();
    expectTypeOf<TlsCredentialFiles>().toEqualTypeOf<{ readonly cert: string; readonly key: string; readonly ca?: string | undefined }>();
  });

  it('accepts `| undefined` for ca and every option (exactOptionalPropertyTypes)', () => {
    // Every option present, each possibly undefined: what a wrapper forwarding its own optional options passes.
    const forward = (options: Forwarded<LiveTlsCredentialsOptions>, ca?: string) => liveTlsCredentials({ cert: 'tls.crt', key: 'tls.key', ca }, options);
    expectTypeOf(forward).returns.toEqualTypeOf<Promise<TlsCredentials>>();
  });

  it('has exactly the documented options', () => {
    expectTypeOf<keyof LiveTlsCredentialsOptions>().toEqualTypeOf<
      | 'name' | 'onChange' | 'onRejected' | 'intervalMs' | 'lifetimeShare' | 'deadlineMs' | 'secureContextOptions'
      | 'debounceMs' | 'jitter' | 'signal' | 'clock' | 'now' | 'random'
    >();
    expectTypeOf<LiveTlsCredentialsOptions['onChange']>().toEqualTypeOf<((event: CredentialsChangeEvent) => unknown) | undefined>();
    expectTypeOf<LiveTlsCredentialsOptions['onRejected']>().toEqualTypeOf<((event: CredentialsRejectedEvent) => unknown) | undefined>();
    expectTypeOf<LiveTlsCredentialsOptions['now']>().toEqualTypeOf<(() => number) | undefined>();
    void liveTlsCredentials({ cert: 'c', key: 'k' }, { secureContextOptions: { minVersion: 'TLSv1.3' } });
    // @ts-expect-error misspelled option
    void liveTlsCredentials({ cert: 'c', key: 'k' }, { intervalMS: 1000 });
    // @ts-expect-error misspelled option
    void liveTlsCredentials({ cert: 'c', key: 'k' }, { lifetimeShares: 0.8 });
    // @ts-expect-error misspelled file name
    void liveTlsCredentials({ cert: 'c', key: 'k', cacert: 'ca' });
    // @ts-expect-error the key is required
    void liveTlsCredentials({ cert: 'c' });
    // @ts-expect-error cert, key and ca come from the files, not from secureContextOptions
    void liveTlsCredentials({ cert: 'c', key: 'k' }, { secureContextOptions: { cert: 'pem' } });
    // @ts-expect-error a number, not a string
    void liveTlsCredentials({ cert: 'c', key: 'k' }, { intervalMs: '10s' });
  });

  it('exposes secureContext, certificate, hash, notAfter, attach, check, close and asyncDispose, read-only', () => {
    expectTypeOf<TlsCredentials['secureContext']>().toEqualTypeOf<SecureContext>();
    expectTypeOf<TlsCredentials['certificate']>().toEqualTypeOf<X509Certificate>();
    expectTypeOf<TlsCredentials['hash']>().toEqualTypeOf<string>();
    expectTypeOf<TlsCredentials['notAfter']>().toEqualTypeOf<Date>();
    expectTypeOf<TlsCredentials['paths']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<TlsCredentials['attach']>().toEqualTypeOf<(server: SecureContextServer) => () => void>();
    expectTypeOf<TlsCredentials['check']>().toEqualTypeOf<() => CheckOutcome>();
    expectTypeOf<TlsCredentials['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<TlsCredentials['close']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<TlsCredentials[typeof Symbol.asyncDispose]>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<TlsCredentials>().toExtend<AsyncDisposable>();
    const tls = {} as TlsCredentials;
    // @ts-expect-error hash is read-only
    tls.hash = 'x';
    // @ts-expect-error secureContext is read-only
    tls.secureContext = {} as SecureContext;
  });

  it('attaches to an https.Server and a tls.Server, nothing else', () => {
    const tls = {} as TlsCredentials;
    expectTypeOf(tls.attach(createHttpsServer())).toEqualTypeOf<() => void>();
    expectTypeOf(tls.attach(createTlsServer())).toEqualTypeOf<() => void>();
    // @ts-expect-error a plain object has no setSecureContext
    tls.attach({});
  });
});

describe('liveToken types', () => {
  it('takes a path and options and resolves with a LiveToken', () => {
    expectTypeOf(liveToken).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(liveToken).parameter(1).toEqualTypeOf<LiveTokenOptions | undefined>();
    expectTypeOf(liveToken).returns.toEqualTypeOf<Promise<LiveToken>>();
  });

  it('accepts `| undefined` for every option (exactOptionalPropertyTypes)', () => {
    const forward = (options: Forwarded<LiveTokenOptions>) => liveToken('token', options);
    expectTypeOf(forward).returns.toEqualTypeOf<Promise<LiveToken>>();
  });

  it('has exactly the documented options', () => {
    expectTypeOf<LiveTokenOptions>().toEqualTypeOf<CredentialsOptions>();
    expectTypeOf<LiveTlsCredentialsOptions>().toExtend<CredentialsOptions>();
    expectTypeOf<keyof LiveTokenOptions>().toEqualTypeOf<
      'name' | 'onChange' | 'onRejected' | 'intervalMs' | 'lifetimeShare' | 'deadlineMs' | 'debounceMs' | 'jitter' | 'signal' | 'clock' | 'now' | 'random'
    >();
    // @ts-expect-error misspelled option
    void liveToken('token', { intervalMS: 60_000 });
    // @ts-expect-error a TLS option, not a token one
    void liveToken('token', { secureContextOptions: {} });
    // @ts-expect-error the path is a string
    void liveToken(new URL('file:///token'));
  });

  it('exposes current, expiresAt, check, close and asyncDispose, read-only', () => {
    expectTypeOf<LiveToken['current']>().toEqualTypeOf<string>();
    expectTypeOf<LiveToken['expiresAt']>().toEqualTypeOf<Date | undefined>();
    expectTypeOf<LiveToken['path']>().toEqualTypeOf<string>();
    expectTypeOf<LiveToken['check']>().toEqualTypeOf<() => CheckOutcome>();
    expectTypeOf<LiveToken['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<LiveToken['close']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<LiveToken[typeof Symbol.asyncDispose]>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<LiveToken>().toExtend<AsyncDisposable>();
    const token = {} as LiveToken;
    // @ts-expect-error current is read-only
    token.current = 'x';
  });
});

describe('credentials events', () => {
  it('describes the change and rejected events', () => {
    expectTypeOf<CredentialsChangeEvent['kind']>().toEqualTypeOf<'tls' | 'token'>();
    expectTypeOf<CredentialsChangeEvent['name']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<CredentialsChangeEvent['paths']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<CredentialsChangeEvent['hash']>().toEqualTypeOf<string>();
    expectTypeOf<CredentialsChangeEvent['previousHash']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<CredentialsChangeEvent['notAfter']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<CredentialsRejectedEvent['error']>().toEqualTypeOf<unknown>();
    expectTypeOf<CredentialsRejectedEvent['keptHash']>().toEqualTypeOf<string>();
    void liveToken('token', {
      onChange: (event) => expectTypeOf(event).toEqualTypeOf<CredentialsChangeEvent>(),
      onRejected: (event) => expectTypeOf(event).toEqualTypeOf<CredentialsRejectedEvent>(),
    });
  });
});
