/**
 * The recipes of docs/guides/observability.md, run as they are written there: a scripted series
 * of calls, then the numbers read back from prom-client's text output and from the spans
 * OpenTelemetry's in-memory exporter holds.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { atomicWriteFile, permanent, readinessGate, retry, watchWithFallback } from 'ridethrough';
import { afterAll, describe, expect, it } from 'vitest';
import { writeGuideRecipes } from './support/guide-recipes.js';
import { pollUntil } from './support/poll.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const recipes = writeGuideRecipes('docs/guides/observability.md');
afterAll(() => recipes.remove());

const reset = (): never => {
  throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
};
/** A function that fails with ECONNRESET `failures` times, then returns 'ok'. */
const flaky = (failures: number) => ({ attempt }: { attempt: number }): string => (attempt <= failures ? reset() : 'ok');

describe('the observability guide', () => {
  it('prometheus: the registry counts what a scripted series of calls did', async () => {
    const { registry } = (await import(pathToFileURL(recipes.file('prometheus')).href)) as { registry: import('prom-client').Registry };
    await retry(flaky(0), { name: 'fetch-pod' });
    await retry(flaky(2), { name: 'fetch-pod', initialDelayMs: 0 });
    await expect(retry(flaky(9), { name: 'fetch-pod', initialDelayMs: 0, maxAttempts: 3 })).rejects.toThrow('connection reset');
    await expect(retry(() => { throw permanent(new Error('forbidden')); }, { name: 'patch-node' })).rejects.toThrow('forbidden');

    const dir = await mkdtemp(join(tmpdir(), 'ridethrough-observability-'));
    try {
      await atomicWriteFile(join(dir, 'state'), 'v1');
      await atomicWriteFile(join(dir, 'state'), 'v1', { skipIfUnchanged: true }); // same content: skipped
      await atomicWriteFile(join(dir, 'state'), 'v2');
      const file = join(dir, 'config');
      await writeFile(file, 'a');
      let calls = 0;
      const watcher = watchWithFallback(file, () => {
        if (++calls === 1) throw new Error('first run fails');
      }, { name: 'config', intervalMs: 3_600_000, retry: { initialDelayMs: 1 } });
      await pollUntil(() => calls >= 2, 'the failed first run to be retried');
      await watcher.close(); // waits for the run in progress, and so for its trace's end
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const gate = readinessGate({ name: 'gateways', checks: { tunnel: () => true, peers: () => 'peer gw-2 unreachable' } });
    await gate.evaluate('gw-1');

    const text = await registry.metrics();
    const value = (line: string): number | undefined => {
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      return found === undefined ? undefined : Number(found.slice(line.length + 1));
    };
    expect(value('ridethrough_retry_attempts_total{name="fetch-pod"}')).toBe(1 + 3 + 3);
    expect(value('ridethrough_retry_attempts_total{name="patch-node"}')).toBe(1);
    expect(value('ridethrough_retry_retries_total{name="fetch-pod",reason="ECONNRESET"}')).toBe(2 + 2);
    expect(value('ridethrough_retry_recoveries_total{name="fetch-pod"}')).toBe(1);
    expect(value('ridethrough_retry_give_ups_total{name="fetch-pod",reason="attempts"}')).toBe(1);
    expect(value('ridethrough_retry_give_ups_total{name="patch-node",reason="permanent"}')).toBe(1);
    expect(value('ridethrough_retry_duration_seconds_count{name="fetch-pod",outcome="ok"}')).toBe(2);
    expect(value('ridethrough_retry_duration_seconds_count{name="fetch-pod",outcome="gave-up"}')).toBe(1);
    expect(value('ridethrough_atomic_writes_total{outcome="written"}')).toBe(2);
    expect(value('ridethrough_atomic_writes_total{outcome="skipped"}')).toBe(1);
    expect(value('ridethrough_watch_runs_total{name="config",trigger="start",outcome="failed"}')).toBe(1);
    expect(value('ridethrough_watch_runs_total{name="config",trigger="retry",outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(value('ridethrough_gate_check_ready{gate="gateways",subject="gw-1",check="tunnel"}')).toBe(1);
    expect(value('ridethrough_gate_check_ready{gate="gateways",subject="gw-1",check="peers"}')).toBe(0);
  });

  it('opentelemetry: one span per retry call with a child per attempt, error status on give-up', async () => {
    const { exporter } = (await import(pathToFileURL(recipes.file('opentelemetry')).href)) as {
      exporter: import('@opentelemetry/sdk-trace-base').InMemorySpanExporter;
    };
    exporter.reset();
    await retry(flaky(1), { name: 'list-pods', initialDelayMs: 0 });
    await expect(retry(flaky(9), { name: 'watch-nodes', initialDelayMs: 0, maxAttempts: 2 })).rejects.toThrow('connection reset');

    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const [ok] = byName('retry list-pods');
    const [failed] = byName('retry watch-nodes');
    expect(ok?.attributes).toMatchObject({ 'ridethrough.attempts': 2, 'ridethrough.verdict.reason': 'ECONNRESET' });
    expect(ok?.status.code).toBe(0); // UNSET
    expect(failed?.attributes).toMatchObject({ 'ridethrough.attempts': 2, 'ridethrough.verdict.reason': 'ECONNRESET' });
    expect(failed?.status.code).toBe(2); // ERROR
    const childrenOf = (parent: typeof ok) =>
      spans.filter((s) => s.parentSpanContext?.spanId === parent?.spanContext().spanId).map((s) => [s.name, s.status.code]);
    expect(childrenOf(ok)).toEqual([['attempt 1', 2], ['attempt 2', 0]]);
    expect(childrenOf(failed)).toEqual([['attempt 1', 2], ['attempt 2', 2]]);
    expect(spans).toHaveLength(6);
  });

  it('typecheck against the public API', async () => {
    const tsconfig = join(recipes.dir, 'tsconfig.json');
    await writeFile(tsconfig, JSON.stringify({ extends: relative(recipes.dir, join(root, 'tsconfig.json')), include: ['./*.ts'], compilerOptions: { noEmit: true } }));
    const result = await promisify(execFile)(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { cwd: root })
      .catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }));
    expect(result.stdout).toBe('');
  }, 120_000);
});
