/**
 * The contract (issue 10) for ridethrough/credentials: every callback may throw or reject without
 * reaching the host; hook errors are published on ridethrough:credentials:hook-error; bad
 * arguments reject (never throw at the call) with a TypeError or RangeError naming the function,
 * the option and the value; unknown options are refused.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsChannels, liveTlsCredentials, liveToken, type CredentialsMessages } from 'ridethrough/credentials';
import { createCa, issue, type Issued } from './support/certs.js';
import { pollUntil } from './support/poll.js';

let dir: string;
let good: Issued;
let expired: Issued;
let files: { cert: string; key: string };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-credentials-contract-'));
  const ca = await createCa(join(dir, 'ca'));
  good = await issue(ca, 'good', { commonName: 'good' });
  expired = await issue(ca, 'expired', { commonName: 'expired', startDate: '20200101000000Z', endDate: '20200102000000Z' });
  files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  await writeFile(files.key, good.keyPem);
  await writeFile(files.cert, good.certPem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('callbacks that throw and reject never reach the host', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown): void => void unhandled.push(error);
  const hookErrors: Array<CredentialsMessages['ridethrough:credentials:hook-error']> = [];
  const onHookError = (message: unknown): void => void hookErrors.push(message as CredentialsMessages['ridethrough:credentials:hook-error']);
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    diagnostics_channel.subscribe(credentialsChannels.hookError, onHookError);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    diagnostics_channel.unsubscribe(credentialsChannels.hookError, onHookError);
  });

  const throwing = (label: string) => () => {
    throw new Error(`${label} threw`);
  };
  const rejecting = (label: string) => async () => {
    throw new Error(`${label} rejected`);
  };

  it.each([
    ['throw', throwing],
    ['reject', rejecting],
  ] as const)('liveTlsCredentials: onChange, onRejected, now and random %s', async (_how, bad) => {
    const d = await mkdtemp(join(dir, 'tls-'));
    const own = { cert: join(d, 'tls.crt'), key: join(d, 'tls.key') };
    await writeFile(own.key, good.keyPem);
    await writeFile(own.cert, good.certPem);
    const before = hookErrors.length;
    const tls = await liveTlsCredentials(own, {
      name: 'contract',
      debounceMs: 10,
      onChange: bad('onChange'),
      onRejected: bad('onRejected'),
      now: bad('now') as unknown as () => number,
      random: bad('random') as unknown as () => number,
    });
    expect(tls.check()).toMatchObject({ ok: true }); // a `now` that fails falls back to the system clock
    await writeFile(own.key, expired.keyPem);
    await writeFile(own.cert, expired.certPem);
    await pollUntil(() => hookErrors.slice(before).some((e) => e.hook === 'onRejected'), 'the onRejected hook error');
    await tls.close();
    const mine = hookErrors.slice(before);
    expect(mine.map((e) => e.hook).sort()).toEqual(['onChange', 'onRejected']);
    expect(mine.every((e) => e.name === 'contract' && e.error instanceof Error && Object.isFrozen(e))).toBe(true);
    expect(tls.certificate.fingerprint256).toBe(good.fingerprint);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });

  it.each([
    ['throw', throwing],
    ['reject', rejecting],
  ] as const)('liveToken: onChange, onRejected, now and random %s', async (_how, bad) => {
    const file = join(dir, `token-${_how}`);
    await writeFile(file, 'first');
    const before = hookErrors.length;
    const token = await liveToken(file, {
      name: 'token-contract',
      debounceMs: 10,
      onChange: bad('onChange'),
      onRejected: bad('onRejected'),
      now: bad('now') as unknown as () => number,
      random: bad('random') as unknown as () => number,
    });
    await writeFile(file, '');
    await pollUntil(() => hookErrors.slice(before).some((e) => e.hook === 'onRejected'), 'the onRejected hook error');
    await writeFile(file, 'second');
    await pollUntil(() => token.current === 'second', 'the second token');
    await token.close();
    const mine = hookErrors.slice(before);
    expect(mine.map((e) => e.hook).sort()).toEqual(['onChange', 'onChange', 'onRejected']);
    expect(mine.every((e) => e.name === 'token-contract')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });
});

describe('bad arguments reject, naming function, option and value', () => {
  /** Calls `call` and checks that it returned a promise (did not throw) that rejects with `Type` matching `message`. */
  async function rejects(call: () => Promise<unknown>, Type: ErrorConstructor, message: RegExp): Promise<void> {
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = call())).not.toThrow();
    const error = await promise!.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Type);
    expect((error as Error).message).toMatch(message);
  }
  const any = (value: unknown): never => value as never;

  it('liveTlsCredentials', async () => {
    await rejects(() => liveTlsCredentials(any(null)), TypeError, /^liveTlsCredentials\(\): "files" must be an object.*got null/);
    await rejects(() => liveTlsCredentials(any('tls.crt')), TypeError, /liveTlsCredentials\(\): "files"/);
    await rejects(() => liveTlsCredentials(any({ cert: 1, key: files.key })), TypeError, /liveTlsCredentials\(\).*files\.cert.*1/);
    await rejects(() => liveTlsCredentials(any({ cert: files.cert })), TypeError, /files\.key.*undefined/);
    await rejects(() => liveTlsCredentials(any({ ...files, chain: 'x' })), TypeError, /"chain"/);
    await rejects(() => liveTlsCredentials(files, any(5)), TypeError, /liveTlsCredentials\(\)/);
    await rejects(() => liveTlsCredentials(files, any({ retries: 3 })), TypeError, /liveTlsCredentials\(\).*"retries"/);
    await rejects(() => liveTlsCredentials(files, any({ interval: 1000 })), TypeError, /"interval".*intervalMs/);
    await rejects(() => liveTlsCredentials(files, { intervalMs: 0 }), RangeError, /liveTlsCredentials\(\): option "intervalMs".*0/);
    await rejects(() => liveTlsCredentials(files, { intervalMs: any('60s') }), TypeError, /option "intervalMs".*"60s"/);
    await rejects(() => liveTlsCredentials(files, { lifetimeShare: 1.5 }), RangeError, /option "lifetimeShare".*1\.5/);
    await rejects(() => liveTlsCredentials(files, { lifetimeShare: 0 }), RangeError, /option "lifetimeShare"/);
    await rejects(() => liveTlsCredentials(files, { deadlineMs: -1 }), RangeError, /option "deadlineMs".*-1/);
    await rejects(() => liveTlsCredentials(files, { jitter: 2 }), RangeError, /option "jitter".*2/);
    await rejects(() => liveTlsCredentials(files, { debounceMs: -5 }), RangeError, /option "debounceMs".*-5/);
    await rejects(() => liveTlsCredentials(files, { onChange: any('log') }), TypeError, /option "onChange"/);
    await rejects(() => liveTlsCredentials(files, { name: any(7) }), TypeError, /option "name".*7/);
    await rejects(() => liveTlsCredentials(files, { signal: any({}) }), TypeError, /option "signal"/);
    await rejects(() => liveTlsCredentials(files, { clock: any({ now: () => 0 }) }), TypeError, /option "clock"/);
    await rejects(() => liveTlsCredentials(files, { secureContextOptions: any(1) }), TypeError, /option "secureContextOptions".*1/);
  });

  it('liveToken', async () => {
    await rejects(() => liveToken(any(undefined)), TypeError, /^liveToken\(\): .*"path".*undefined/);
    await rejects(() => liveToken(''), RangeError, /liveToken\(\).*"path"/);
    await rejects(() => liveToken('t', any(5)), TypeError, /liveToken\(\)/);
    await rejects(() => liveToken('t', any({ minTimeout: 5 })), TypeError, /^liveToken\(\): unknown option "minTimeout"; known options: .*intervalMs/);
    await rejects(() => liveToken('t', any({ secureContextOptions: {} })), TypeError, /"secureContextOptions"/);
    await rejects(() => liveToken('t', { intervalMs: -1 }), RangeError, /liveToken\(\): option "intervalMs".*-1/);
    await rejects(() => liveToken('t', { lifetimeShare: any('80%') }), TypeError, /option "lifetimeShare".*"80%"/);
    await rejects(() => liveToken('t', { onRejected: any(1) }), TypeError, /option "onRejected"/);
    await rejects(() => liveToken('t', { now: any(Date.now()) }), TypeError, /option "now"/);
  });

  it('attach refuses what is not a server, at the call', async () => {
    const tls = await liveTlsCredentials(files);
    try {
      expect(() => tls.attach(any(null))).toThrow(TypeError);
      expect(() => tls.attach(any({ setSecureContext: 1 }))).toThrow(/TlsCredentials\.attach\(\): "server" must be a tls\.Server/);
    } finally {
      await tls.close();
    }
  });
});
