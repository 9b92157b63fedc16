/**
 * When liveTlsCredentials and liveToken wake on their own, on a fake clock: at `lifetimeShare` of
 * the lifetime (80% by default), again close to the end, at the end, and at least every
 * `intervalMs`. The wall time (`now`) moves with the fake clock.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { liveTlsCredentials, liveToken } from 'ridethrough/credentials';
import { createCa, issue, type Issued } from './support/certs.js';
import { FakeClock, flush } from 'ridethrough/testing';

let dir: string;
let leaf: Issued;
let files: { cert: string; key: string };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-credentials-schedule-'));
  leaf = await issue(await createCa(join(dir, 'ca')), 'leaf', { commonName: 'leaf', subjectAltName: 'IP:127.0.0.1' });
  files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  await writeFile(files.key, leaf.keyPem);
  await writeFile(files.cert, leaf.certPem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Timer wakes of the watcher underneath, with the fake time at which each came. */
const wakes: Array<{ reason: string; at: number }> = [];
let clockForWakes: FakeClock | undefined;
const onWake = (message: unknown): void => {
  if (clockForWakes !== undefined) wakes.push({ reason: (message as { reason: string }).reason, at: clockForWakes.now() });
};
beforeAll(() => diagnostics_channel.subscribe('ridethrough:watch:wake', onWake));
afterAll(() => diagnostics_channel.unsubscribe('ridethrough:watch:wake', onWake));
afterEach(() => {
  wakes.length = 0;
  clockForWakes = undefined;
});

/** Resolves once the only pending wait of `clock` is `ms` long (the code under test is idle). */
async function nextWaitIs(clock: FakeClock, ms: number): Promise<void> {
  // Real file reads run in between: give them real time (generously, on a loaded machine).
  const deadline = Date.now() + 10_000;
  while (!(clock.pending.length === 1 && clock.pending[0] === ms) && Date.now() < deadline) await flush();
  expect(clock.pending).toEqual([ms]);
}

const HOUR = 3_600_000;

describe('liveTlsCredentials wakes before expiry', () => {
  const notBefore = (): number => Date.parse(leaf.certificate.validFrom);
  const lifetime = (): number => Date.parse(leaf.certificate.validTo) - notBefore();

  it('at 80% of the lifetime, a minute before the end, and at the end', async () => {
    const clock = new FakeClock();
    clockForWakes = clock;
    const startWall = notBefore() + HOUR; // loaded an hour into a one-day lifetime
    const tls = await liveTlsCredentials(files, { clock, now: () => startWall + clock.now(), intervalMs: 2_000_000_000, jitter: 0 });
    try {
      const L = lifetime();
      expect(L).toBe(24 * HOUR);
      const at80 = 0.8 * L - HOUR;
      await nextWaitIs(clock, at80);
      await clock.advance(at80);
      const nearEnd = 0.2 * L - 60_000;
      await nextWaitIs(clock, nearEnd);
      expect(wakes.filter((w) => w.reason === 'timer').map((w) => w.at)).toEqual([at80]);
      await clock.advance(nearEnd);
      await nextWaitIs(clock, 60_000);
      expect(tls.check()).toMatchObject({ ok: true });
      await clock.advance(60_000);
      // Past notAfter: only the interval is left, and the check says the certificate expired.
      await nextWaitIs(clock, 2_000_000_000);
      expect(wakes.filter((w) => w.reason === 'timer').map((w) => w.at)).toEqual([at80, at80 + nearEnd, at80 + nearEnd + 60_000]);
      expect(tls.check()).toEqual({ ok: false, detail: `certificate expired at ${leaf.certificate.validTo}` });
    } finally {
      await tls.close();
    }
    expect(clock.pending).toEqual([]);
  });

  it('at a share of the lifetime that is configurable, never later than intervalMs', async () => {
    const clock = new FakeClock();
    const startWall = notBefore() + HOUR;
    const half = await liveTlsCredentials(files, { clock, now: () => startWall + clock.now(), intervalMs: 2_000_000_000, jitter: 0, lifetimeShare: 0.5 });
    await nextWaitIs(clock, 12 * HOUR - HOUR);
    await half.close();
    const often = await liveTlsCredentials(files, { clock, now: () => startWall + clock.now(), intervalMs: 10_000, jitter: 0 });
    await nextWaitIs(clock, 10_000);
    await often.close();
    // The default interval is a minute.
    const byDefault = await liveTlsCredentials(files, { clock, now: () => startWall + clock.now(), jitter: 0 });
    await nextWaitIs(clock, 60_000);
    await byDefault.close();
    expect(clock.pending).toEqual([]);
  });
});

function jwt(claims: Record<string, unknown>): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('liveToken follows a JWT lifetime', () => {
  const iat = 1_900_000_000; // seconds
  const wallAt = (clock: FakeClock) => () => iat * 1000 + clock.now();

  it('re-reads at least every intervalMs (60 s), at 80% of the lifetime, close to and at exp', async () => {
    const file = join(dir, 'token-100s');
    await writeFile(file, `${jwt({ iat, exp: iat + 100, sub: 'system:serviceaccount:default:agent' })}\n`);
    const clock = new FakeClock();
    clockForWakes = clock;
    const token = await liveToken(file, { clock, now: wallAt(clock), jitter: 0 });
    try {
      expect(token.expiresAt?.getTime()).toBe((iat + 100) * 1000);
      // 60 s (the interval), then 80 s (80%), 90 s (a tenth of the lifetime before exp), 100 s (exp).
      for (const wait of [60_000, 20_000, 10_000, 10_000]) {
        await nextWaitIs(clock, wait);
        await clock.advance(wait);
      }
      await nextWaitIs(clock, 60_000);
      expect(wakes.filter((w) => w.reason === 'timer').map((w) => w.at)).toEqual([60_000, 80_000, 90_000, 100_000]);
      expect(token.check()).toEqual({ ok: false, detail: `token expired at ${new Date((iat + 100) * 1000).toISOString()}` });
    } finally {
      await token.close();
    }
  });

  it('an hour-long token is re-read every minute; a token without exp too; intervalMs is configurable', async () => {
    const clock = new FakeClock();
    const long = join(dir, 'token-1h');
    await writeFile(long, jwt({ iat, exp: iat + 3600 }));
    const hour = await liveToken(long, { clock, now: wallAt(clock), jitter: 0 });
    await nextWaitIs(clock, 60_000);
    expect(hour.check()).toEqual({ ok: true, detail: `valid until ${new Date((iat + 3600) * 1000).toISOString()}` });
    await hour.close();
    // 80% of an hour comes before a 2-hour interval.
    const rare = await liveToken(long, { clock, now: wallAt(clock), jitter: 0, intervalMs: 2 * HOUR });
    await nextWaitIs(clock, 0.8 * HOUR);
    await rare.close();
    const opaque = join(dir, 'token-opaque');
    await writeFile(opaque, 'not-a-jwt\n');
    const plain = await liveToken(opaque, { clock, now: wallAt(clock), jitter: 0 });
    expect(plain.current).toBe('not-a-jwt');
    expect(plain.expiresAt).toBeUndefined();
    await nextWaitIs(clock, 60_000);
    expect(plain.check()).toMatchObject({ ok: true });
    await plain.close();
    expect(clock.pending).toEqual([]);
  });

  it('a token without iat counts its lifetime from when it was loaded', async () => {
    const clock = new FakeClock();
    const file = join(dir, 'token-no-iat');
    await writeFile(file, jwt({ exp: iat + 50 }));
    const token = await liveToken(file, { clock, now: wallAt(clock), jitter: 0 });
    await nextWaitIs(clock, 40_000); // 80% of the 50 s left at load
    await token.close();
  });
});
