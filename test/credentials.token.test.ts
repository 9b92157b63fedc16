/**
 * liveToken on the real file system: a projected token volume updated by kubelet swaps, the
 * last good token kept when a read fails or finds an empty file, check, close.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveToken, type CredentialsChangeEvent, type CredentialsRejectedEvent } from 'ridethrough/credentials';
import type { RecoveredEvent, RetryEvent } from 'ridethrough/retry';
import { KubeletVolume } from 'ridethrough/testing';
import { leftovers } from './support/leftovers.js';
import { pollUntil } from './support/poll.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ridethrough-token-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function jwt(claims: Record<string, unknown>): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`;
}
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('liveToken', () => {
  it('follows a projected token volume, swap after swap', async () => {
    const tokens = Array.from({ length: 4 }, (_, i) => jwt({ iat: nowSeconds(), exp: nowSeconds() + 3600, n: i }));
    const volume = await KubeletVolume.create({ token: tokens[0]!, 'ca.crt': 'ca' }, { dir: join(dir, 'volume') });
    const changes: CredentialsChangeEvent[] = [];
    await using token = await liveToken(volume.path('token'), { name: 'apiserver', onChange: (event) => void changes.push(event) });
    try {
      expect(token.current).toBe(tokens[0]);
      for (const next of tokens.slice(1)) {
        await volume.set('token', `${next}\n`);
        await pollUntil(() => token.current === next, 'the new token');
      }
      expect(changes).toHaveLength(4);
      expect(changes[0]).toMatchObject({ kind: 'token', name: 'apiserver', previousHash: undefined, paths: [volume.path('token')] });
      expect(changes[1]!.previousHash).toBe(changes[0]!.hash);
      expect(changes.every((event) => Object.isFrozen(event) && !JSON.stringify(event).includes(tokens[0]!))).toBe(true);
    } finally {
      await volume.cleanup();
    }
  });

  it('keeps the last good token when the file is gone, empty or blank, then takes the next good one', async () => {
    const file = join(dir, 'token-bad');
    const good = jwt({ iat: nowSeconds(), exp: nowSeconds() + 3600 });
    await writeFile(file, good);
    const rejected: CredentialsRejectedEvent[] = [];
    await using token = await liveToken(file, { debounceMs: 20, onRejected: (event) => void rejected.push(event) });
    const spoilers: Array<[() => Promise<void>, RegExp]> = [
      [() => writeFile(file, ''), /empty/i],
      [() => writeFile(file, ' \n\t\n'), /empty/i],
      [() => unlink(file), /ENOENT/],
    ];
    for (const [spoil, why] of spoilers) {
      const before = rejected.length;
      await spoil();
      await pollUntil(() => rejected.length > before, `a refusal matching ${why}`);
      const event = rejected.at(-1)!;
      expect(`${(event.error as Error).message} ${(event.error as { code?: string }).code}`).toMatch(why);
      expect(event.keptHash).toBe(rejected[0]!.keptHash);
      expect(token.current).toBe(good);
      expect(token.check()).toMatchObject({ ok: true });
    }
    const next = jwt({ iat: nowSeconds(), exp: nowSeconds() + 7200 });
    await writeFile(file, next);
    await pollUntil(() => token.current === next, 'the next good token');
  });

  it('check fails once the token has expired, and once closed', async () => {
    const file = join(dir, 'token-expiring');
    const exp = nowSeconds() + 600;
    await writeFile(file, jwt({ iat: nowSeconds(), exp }));
    let offsetMs = 0;
    const token = await liveToken(file, { now: () => Date.now() + offsetMs });
    const at = new Date(exp * 1000).toISOString();
    expect(token.check()).toEqual({ ok: true, detail: `valid until ${at}` });
    offsetMs = 601_000;
    expect(token.check()).toEqual({ ok: false, detail: `token expired at ${at}` });
    offsetMs = 0;
    await token.close();
    expect(token.check()).toMatchObject({ ok: false, detail: expect.stringContaining('closed') });
  });

  it('the first load waits for the file to appear with content', async () => {
    const file = join(dir, 'token-late');
    const loading = liveToken(file, { deadlineMs: 20_000 });
    await writeFile(file, '');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await writeFile(file, 'opaque-token\n');
    await using token = await loading;
    expect(token.current).toBe('opaque-token');
  });

  it('the first load carries the name option in its retry events', async () => {
    const file = join(dir, 'token-named');
    const retries: RetryEvent[] = [];
    const recovered: RecoveredEvent[] = [];
    const onRetry = (message: unknown): void => void retries.push(message as RetryEvent);
    const onRecovered = (message: unknown): void => void recovered.push(message as RecoveredEvent);
    diagnostics_channel.subscribe('ridethrough:retry:retry', onRetry);
    diagnostics_channel.subscribe('ridethrough:retry:recovered', onRecovered);
    try {
      // The file is missing at first: the first read retries, and says so on the retry channel.
      const loading = liveToken(file, { name: 'sa-token', deadlineMs: 20_000 });
      await pollUntil(() => retries.length > 0, 'a retry of the first read');
      await writeFile(file, 'opaque-token\n');
      await using token = await loading;
      expect(token.current).toBe('opaque-token');
      expect(retries.map((event) => event.name)).toEqual(retries.map(() => 'sa-token'));
      expect(recovered.map((event) => event.name)).toEqual(['sa-token']);
    } finally {
      diagnostics_channel.unsubscribe('ridethrough:retry:retry', onRetry);
      diagnostics_channel.unsubscribe('ridethrough:retry:recovered', onRecovered);
    }
  });

  it('close(), await using and an aborted signal leave nothing behind', async () => {
    const file = join(dir, 'token-close');
    await writeFile(file, 'x');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const baseline = process.getActiveResourcesInfo();
    const a = await liveToken(file);
    await a.close();
    await a.close();
    {
      await using b = await liveToken(file);
      expect(b.current).toBe('x');
    }
    const controller = new AbortController();
    const c = await liveToken(file, { signal: controller.signal });
    controller.abort();
    await pollUntil(() => c.signal.aborted, 'the signal to close it');
    await c.close();
    await expect(liveToken(file, { signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop');
    expect(await leftovers(baseline)).toEqual([]);
  });
});
