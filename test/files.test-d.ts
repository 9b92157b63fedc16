import {
  atomicWriteFile,
  contentHash,
  readFilesWithRetry,
  readFileWithRetry,
  type AtomicWriteEvent,
  type AtomicWriteOptions,
  type AtomicWriteResult,
  type ReadFilesWithRetryOptions,
  type ReadFileWithRetryOptions,
} from 'ridethrough/files';
import type { RetryOptions } from 'ridethrough/retry';
import { describe, expectTypeOf, it } from 'vitest';

describe('atomicWriteFile types', () => {
  it('takes a path, string or bytes, and options; resolves with written and hash', () => {
    expectTypeOf(atomicWriteFile).parameter(0).toEqualTypeOf<string | URL>();
    expectTypeOf(atomicWriteFile).parameter(1).toEqualTypeOf<string | Uint8Array>();
    expectTypeOf(atomicWriteFile).parameter(2).toEqualTypeOf<AtomicWriteOptions | undefined>();
    expectTypeOf(atomicWriteFile).returns.toEqualTypeOf<Promise<AtomicWriteResult>>();
    expectTypeOf<AtomicWriteResult>().toEqualTypeOf<{ readonly written: boolean; readonly hash: string; readonly directorySynced: boolean }>();
    expectTypeOf(atomicWriteFile('f', Buffer.from('x'))).resolves.toEqualTypeOf<AtomicWriteResult>();
  });

  it('has exactly the documented options', () => {
    expectTypeOf<AtomicWriteOptions>().toEqualTypeOf<{
      mode?: number | undefined;
      durable?: boolean | undefined;
      skipIfUnchanged?: boolean | undefined;
      mkdir?: boolean | undefined;
      encoding?: BufferEncoding | undefined;
      signal?: AbortSignal | undefined;
    }>();
    // @ts-expect-error data must be a string or bytes
    void atomicWriteFile('f', 42);
    // @ts-expect-error mode is a number
    void atomicWriteFile('f', 'x', { mode: '600' });
    // @ts-expect-error unknown option
    void atomicWriteFile('f', 'x', { fsync: true });
  });

  it('describes the diagnostics event', () => {
    expectTypeOf<AtomicWriteEvent['path']>().toEqualTypeOf<string>();
    expectTypeOf<AtomicWriteEvent['target']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<AtomicWriteEvent['hash']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<AtomicWriteEvent['written']>().toEqualTypeOf<boolean>();
    expectTypeOf<AtomicWriteEvent['error']>().toEqualTypeOf<unknown>();
  });
});

describe('readFileWithRetry types', () => {
  it('resolves with a string by default and a Buffer with encoding: null', () => {
    expectTypeOf(readFileWithRetry('f')).resolves.toEqualTypeOf<string>();
    expectTypeOf(readFileWithRetry(new URL('file:///f'), { encoding: 'latin1', deadlineMs: 1000 })).resolves.toEqualTypeOf<string>();
    expectTypeOf(readFileWithRetry('f', { encoding: null })).resolves.toEqualTypeOf<Buffer>();
  });

  it('resolves with what parse returns, parse getting the text or the bytes', () => {
    expectTypeOf(readFileWithRetry('f', { parse: (text) => text.length })).resolves.toEqualTypeOf<number>();
    expectTypeOf(
      readFileWithRetry('f', {
        parse: (text) => {
          expectTypeOf(text).toEqualTypeOf<string>();
          return JSON.parse(text) as { replicas: number };
        },
      }),
    ).resolves.toEqualTypeOf<{ replicas: number }>();
    expectTypeOf(
      readFileWithRetry('f', {
        encoding: null,
        parse: async (bytes) => {
          expectTypeOf(bytes).toEqualTypeOf<Buffer>();
          return bytes.byteLength;
        },
      }),
    ).resolves.toEqualTypeOf<number>();
  });

  it('accepts every retry option', () => {
    expectTypeOf<keyof RetryOptions>().toExtend<keyof ReadFileWithRetryOptions>();
    // exactOptionalPropertyTypes: an optional value may be forwarded as it is.
    const forward = (name?: string, deadlineMs?: number) => readFileWithRetry('f', { name, deadlineMs, encoding: undefined, allowEmpty: undefined });
    expectTypeOf(forward).returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf(
      readFileWithRetry('f', {
        maxAttempts: Infinity,
        initialDelayMs: 10,
        multiplier: 2,
        maxDelayMs: 100,
        jitter: 'equal',
        deadlineMs: 1000,
        attemptTimeoutMs: 100,
        signal: AbortSignal.timeout(1000),
        onRetry: (event) => expectTypeOf(event.attempt).toEqualTypeOf<number>(),
        onRecovered: (event) => expectTypeOf(event.attempts).toEqualTypeOf<number>(),
        allowEmpty: true,
      }),
    ).resolves.toEqualTypeOf<string>();
    // @ts-expect-error parse gets a string unless encoding is null
    void readFileWithRetry('f', { parse: (bytes: Buffer) => bytes.length });
    // @ts-expect-error encoding is an encoding name or null
    void readFileWithRetry('f', { encoding: 'klingon' });
  });
});

describe('readFilesWithRetry types', () => {
  it('takes every option of readFileWithRetry but encoding, every retry option included; parse gets the bytes by name', () => {
    type Shared = Exclude<keyof ReadFileWithRetryOptions, 'encoding'>;
    expectTypeOf<keyof ReadFilesWithRetryOptions>().toEqualTypeOf<Shared>();
    expectTypeOf<keyof RetryOptions>().toExtend<keyof ReadFilesWithRetryOptions>();
    expectTypeOf(
      readFilesWithRetry(
        { cert: 'tls.crt', key: 'tls.key' },
        { maxRetryAfterMs: 60_000, deadlineMs: 1000, allowEmpty: undefined, parse: (files) => files.cert.length + files.key.length },
      ),
    ).resolves.toEqualTypeOf<number>();
    expectTypeOf(readFilesWithRetry({ cert: 'tls.crt' })).resolves.toEqualTypeOf<Readonly<Record<'cert', Buffer>>>();
    // @ts-expect-error parse always gets bytes: there is no encoding
    void readFilesWithRetry({ cert: 'tls.crt' }, { encoding: 'utf8' });
  });
});

describe('contentHash types', () => {
  it('takes anything and returns a string', () => {
    expectTypeOf(contentHash).parameter(0).toEqualTypeOf<unknown>();
    expectTypeOf(contentHash({ a: 1 })).toEqualTypeOf<string>();
  });
});
