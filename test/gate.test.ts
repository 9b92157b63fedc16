import diagnostics_channel from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { permanent, transient } from 'ridethrough/classify';
import { formatReport, readinessGate, type CheckContext, type Report } from 'ridethrough/gate';
import { diagnosticsChannels } from 'ridethrough';
import { failOnLeftoverTimers } from './support/resources.js';

const never = (_subject: unknown, { signal }: CheckContext): Promise<boolean> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

// Counted around every test, so that a leftover timer is pinned on the test that left it.
failOnLeftoverTimers();

describe('evaluate: outcomes of a check', () => {
  it('passes on true and on { ok: true }, keeping a detail when given', async () => {
    const gate = readinessGate({
      checks: { a: () => true, b: async () => ({ ok: true }), c: () => ({ ok: true, detail: '3 replicas' }) },
    });
    const report = await gate.evaluate(undefined);
    expect(report.ready).toBe(true);
    expect(report.key).toBe('');
    expect(report.results.map((r) => [r.name, r.ok, r.detail])).toEqual([
      ['a', true, ''],
      ['b', true, ''],
      ['c', true, '3 replicas'],
    ]);
    for (const r of report.results) {
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect(r).not.toHaveProperty('error');
    }
  });

  it('fails with the detail on false, a string reason and { ok: false, detail }', async () => {
    const gate = readinessGate({
      checks: {
        no: () => false,
        reason: (gw: string) => `status of ${gw} is DOWN`,
        empty: () => '',
        object: async () => ({ ok: false, detail: 'key version 1, want 2' }),
        bare: () => ({ ok: false }),
      },
    });
    const report = await gate.evaluate('gw-2');
    expect(report.ready).toBe(false);
    expect(report.subject).toBe('gw-2');
    expect(report.key).toBe('gw-2');
    expect(report.results.map((r) => [r.name, r.ok, r.detail])).toEqual([
      ['no', false, 'not ready'],
      ['reason', false, 'status of gw-2 is DOWN'],
      ['empty', false, 'not ready'],
      ['object', false, 'key version 1, want 2'],
      ['bare', false, 'not ready'],
    ]);
    for (const r of report.results) expect(r).not.toHaveProperty('error');
  });

  it('is ready only when every check passes', async () => {
    const gate = readinessGate({ checks: { a: () => true, b: (n: number) => n > 1 } });
    expect((await gate.evaluate(2)).ready).toBe(true);
    expect((await gate.evaluate(1)).ready).toBe(false);
  });

  it('fails a check that throws a transient error with its message and verdict', async () => {
    const error = transient(new Error('connect ECONNREFUSED 10.0.0.7:443'), { retryAfterMs: 250 });
    const gate = readinessGate({
      checks: {
        sync: () => {
          throw error;
        },
        async: async () => {
          throw error;
        },
      },
    });
    const report = await gate.evaluate(undefined);
    expect(report.ready).toBe(false);
    for (const r of report.results) {
      expect(r.ok).toBe(false);
      expect(r.detail).toBe('connect ECONNREFUSED 10.0.0.7:443');
      expect(r.error).toBe(error);
      expect(r.verdict).toEqual({ kind: 'transient', reason: 'marked transient', retryAfterMs: 250 });
    }
  });

  it('fails a check that throws a permanent error with a permanent verdict', async () => {
    const error = permanent(new Error('pods "gw-9" not found'));
    const gate = readinessGate({ checks: { pod: async () => Promise.reject(error) } });
    const [result] = (await gate.evaluate(undefined)).results;
    expect(result).toMatchObject({ ok: false, detail: 'pods "gw-9" not found', error, verdict: { kind: 'permanent' } });
  });

  it('classifies with the gate classify option, and survives a classifier that throws', async () => {
    const error = new Error('odd');
    const seen: unknown[] = [];
    const gate = readinessGate({
      checks: { a: () => Promise.reject(error) },
      classify: (e) => {
        seen.push(e);
        return { kind: 'transient', reason: 'mine' };
      },
    });
    expect((await gate.evaluate(1)).results[0]!.verdict).toEqual({ kind: 'transient', reason: 'mine' });
    expect(seen).toEqual([error]);

    const broken = readinessGate({
      checks: { a: () => Promise.reject(error) },
      classify: () => {
        throw new Error('classifier bug');
      },
    });
    expect((await broken.evaluate(1)).results[0]!.verdict).toEqual({ kind: 'permanent', reason: 'classifier threw' });
  });

  it('gives a readable detail for thrown non-errors', async () => {
    const gate = readinessGate({
      checks: {
        string: () => {
          throw 'socket closed';
        },
        nothing: () => Promise.reject(undefined),
        nameOnly: () => Promise.reject(new DOMException('', 'AbortError')),
      },
    });
    const details = (await gate.evaluate(1)).results.map((r) => r.detail);
    expect(details).toEqual(['socket closed', 'threw undefined', 'AbortError']);
  });

  it('fails an invalid outcome permanently, naming what the check returned', async () => {
    const gate = readinessGate({
      checks: {
        undef: (() => undefined) as never,
        number: (() => 1) as never,
        okString: (() => ({ ok: 'yes' })) as never,
        getter: (() => ({
          get ok(): boolean {
            throw new Error('boom');
          },
        })) as never,
      },
    });
    const results = (await gate.evaluate(1)).results;
    expect(results.map((r) => r.ok)).toEqual([false, false, false, false]);
    expect(results[0]!.detail).toMatch(/^check "undef" returned undefined; expected/);
    expect(results[1]!.detail).toMatch(/^check "number" returned 1; expected/);
    for (const r of results) {
      expect(r.error).toBeInstanceOf(TypeError);
      expect(r.verdict).toEqual({ kind: 'permanent', reason: 'invalid check outcome' });
    }
  });

  it('fails a hanging check after timeoutMs, aborts its signal, and leaves no timer', async () => {
    let hungSignal: AbortSignal | undefined;
    const gate = readinessGate({
      checks: {
        quick: async () => true,
        hang: (_: unknown, { signal }) => {
          hungSignal = signal;
          return new Promise<boolean>(() => {});
        },
      },
      timeoutMs: 50,
    });
    const report = await gate.evaluate(undefined);
    expect(report.ready).toBe(false);
    expect(report.results[0]).toMatchObject({ name: 'quick', ok: true });
    const hang = report.results[1]!;
    expect(hang).toMatchObject({ name: 'hang', ok: false, detail: 'timed out after 50 ms', verdict: { kind: 'transient' } });
    expect(hang.durationMs).toBeGreaterThanOrEqual(45);
    expect(hang.error).toBeInstanceOf(DOMException);
    expect((hang.error as DOMException).name).toBe('TimeoutError');
    expect(hungSignal?.aborted).toBe(true);
    expect(hungSignal?.reason).toBe(hang.error);
  });

  it('does not abort the signal of a check that answered, and clears the timer at once', async () => {
    let signal: AbortSignal | undefined;
    const gate = readinessGate({
      checks: {
        a: async (_: unknown, context) => {
          signal = context.signal;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return true;
        },
      },
      timeoutMs: 60_000,
    });
    expect((await gate.evaluate(1)).ready).toBe(true);
    expect(signal?.aborted).toBe(false);
    // failOnLeftoverTimers asserts that the 60 s timeout timer is gone.
  });

  it('ignores a check that settles after its timeout, without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      let rejectLate!: (e: Error) => void;
      const gate = readinessGate({
        checks: { late: () => new Promise<boolean>((_, reject) => (rejectLate = reject)) },
        timeoutMs: 20,
      });
      const report = await gate.evaluate(1);
      rejectLate(new Error('too late'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(report.results[0]!.detail).toBe('timed out after 20 ms');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('runs the checks concurrently and reports them in declared order', async () => {
    const events: string[] = [];
    const step = (name: string, ms: number) => async () => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`end ${name}`);
      return true;
    };
    const gate = readinessGate({ checks: { slow: step('slow', 30), fast: step('fast', 1) } });
    const report = await gate.evaluate(1);
    expect(events.slice(0, 2)).toEqual(['start slow', 'start fast']);
    expect(events.slice(2)).toEqual(['end fast', 'end slow']);
    expect(report.results.map((r) => r.name)).toEqual(['slow', 'fast']);
  });

  it('accepts foreign thenables', async () => {
    const thenable = { then: (resolve: (v: string) => void) => resolve('lagging') };
    const gate = readinessGate({ checks: { t: () => thenable as unknown as Promise<string> } });
    expect((await gate.evaluate(1)).results[0]).toMatchObject({ ok: false, detail: 'lagging' });
  });

  it('passes the subject and a signal to every check', async () => {
    const seen: [unknown, boolean][] = [];
    const subject = { name: 'gw-1' };
    const gate = readinessGate({
      checks: {
        a: (s: typeof subject, { signal }) => {
          seen.push([s, signal instanceof AbortSignal && !signal.aborted]);
          return true;
        },
      },
      key: (s) => s.name,
    });
    const report = await gate.evaluate(subject);
    expect(seen).toEqual([[subject, true]]);
    expect(report.key).toBe('gw-1');
    expect(report.subject).toBe(subject);
  });
});

describe('evaluate: the caller signal', () => {
  it('rejects with signal.reason promptly, aborting the running checks', async () => {
    const checkSignals: AbortSignal[] = [];
    const gate = readinessGate({
      checks: {
        hang: (s: unknown, context) => {
          checkSignals.push(context.signal);
          return never(s, context);
        },
      },
      timeoutMs: 60_000,
    });
    const controller = new AbortController();
    const reason = new Error('operator stopped');
    const pending = gate.evaluate(1, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    const started = performance.now();
    await expect(pending).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(checkSignals[0]?.aborted).toBe(true);
    expect(checkSignals[0]?.reason).toBe(reason);
  });

  it('rejects at once without calling a check when the signal is already aborted', async () => {
    let calls = 0;
    const gate = readinessGate({ checks: { a: () => ++calls > 0 } });
    const reason = new Error('gone');
    await expect(gate.evaluate(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it('leaves no abort listener on a long-lived signal', async () => {
    const controller = new AbortController();
    const listeners = (): number => getEventListeners(controller.signal, 'abort').length;
    const gate = readinessGate({ checks: { a: async () => true, b: () => new Promise<boolean>((r) => setTimeout(() => r(true), 2)) } });
    for (let i = 0; i < 20; i++) await gate.evaluate(i, { signal: controller.signal });
    expect(listeners()).toBe(0);
  });
});

describe('evaluateAll', () => {
  const gate = readinessGate({ checks: { even: (n: number) => n % 2 === 0 || `${n} is odd`, async: async () => true } });

  it('is ready only when every subject is, with one report per subject in order', async () => {
    const all = await gate.evaluateAll([2, 4, 6]);
    expect(all.ready).toBe(true);
    expect(all.reports.map((r) => r.key)).toEqual(['2', '4', '6']);
    const some = await gate.evaluateAll([2, 3, 4]);
    expect(some.ready).toBe(false);
    expect(some.reports.map((r) => r.ready)).toEqual([true, false, true]);
    expect(some.reports[1]!.results[0]!.detail).toBe('3 is odd');
  });

  it('is ready for no subjects at all', async () => {
    expect(await gate.evaluateAll([])).toEqual({ ready: true, reports: [] });
  });

  it('names subjects with the key option', async () => {
    const byName = readinessGate({ checks: { up: (gw: { name: string; up: boolean }) => gw.up } });
    const set = await byName.evaluateAll(
      [
        { name: 'gw-1', up: true },
        { name: 'gw-2', up: false },
      ],
      { key: (gw) => gw.name },
    );
    expect(set.reports.map((r) => [r.key, r.ready])).toEqual([
      ['gw-1', true],
      ['gw-2', false],
    ]);
  });

  it('throws at the call on duplicate keys, naming them and the subjects', async () => {
    await expect(gate.evaluateAll([1, 2, 1])).rejects.toThrow(
      new TypeError('evaluateAll(): subjects 0 and 2 have the same key "1"; pass a "key" option that tells them apart'),
    );
    const objects = readinessGate({ checks: { a: (_: object) => true } });
    await expect(objects.evaluateAll([{}, {}])).rejects.toThrow(/same key "\[object Object\]"/);
  });

  it('throws at the call on bad input', async () => {
    await expect(gate.evaluateAll(5 as never)).rejects.toThrow(new TypeError('evaluateAll(): "subjects" must be an array, got 5'));
    await expect(gate.evaluateAll([1], { key: (() => 7) as never })).rejects.toThrow(
      new TypeError('evaluateAll(): option "key" must return a string, got 7 for subject 0'),
    );
    await expect(gate.evaluateAll([1], { key: 'name' as never })).rejects.toThrow(TypeError);
    await expect(gate.evaluateAll([1], { signal: 'x' as never })).rejects.toThrow(/option "signal" must be an AbortSignal/);
  });

  it('rejects with the signal reason when aborted mid-way', async () => {
    const slow = readinessGate({ checks: { hang: never }, timeoutMs: 60_000 });
    const controller = new AbortController();
    const pending = slow.evaluateAll([1, 2, 3], { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });
});

describe('readinessGate: bad input throws at the call', () => {
  it('needs checks, each a function, with usable names', () => {
    expect(() => readinessGate(undefined as never)).toThrow(TypeError);
    expect(() => readinessGate({} as never)).toThrow(
      new TypeError('readinessGate(): option "checks" must be an object of named check functions, got undefined'),
    );
    expect(() => readinessGate({ checks: [] as never })).toThrow(/got an array/);
    expect(() => readinessGate({ checks: {} })).toThrow(
      new TypeError('readinessGate(): option "checks" must name at least one check'),
    );
    expect(() => readinessGate({ checks: { tunnel: 'UP' as never } })).toThrow(
      new TypeError('readinessGate(): check "tunnel" must be a function, got "UP"'),
    );
    expect(() => readinessGate({ checks: { shutdown: () => true } })).toThrow(/"shutdown" is reserved/);
    expect(() => readinessGate({ checks: { '': () => true } })).toThrow(/non-empty and printable/);
    expect(() => readinessGate({ checks: { 'a\nb': () => true } })).toThrow(/non-empty and printable/);
  });

  it('rejects bad timeouts with a RangeError or TypeError naming the option', () => {
    const checks = { a: () => true };
    for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31]) {
      expect(() => readinessGate({ checks, timeoutMs: bad })).toThrow(RangeError);
    }
    expect(() => readinessGate({ checks, timeoutMs: 0 })).toThrow(
      'readinessGate(): option "timeoutMs" must be a finite number > 0 and <= 2147483647, got 0',
    );
    expect(() => readinessGate({ checks, timeoutMs: '5s' as never })).toThrow(TypeError);
  });

  it('rejects other bad options', async () => {
    const checks = { a: () => true };
    expect(() => readinessGate({ checks, key: 'name' as never })).toThrow(/option "key" must be a function/);
    expect(() => readinessGate({ checks, classify: {} as never })).toThrow(/option "classify" must be a function/);
    expect(() => readinessGate({ checks, clock: { now: () => 0 } as never })).toThrow(/option "clock" must be an object/);
    const gate = readinessGate({ checks });
    await expect(gate.evaluate(1, 'fast' as never)).rejects.toThrow(/options must be an object/);
  });

  it('copies the checks: changing the object later changes nothing', async () => {
    const checks: Record<string, () => boolean> = { a: () => true };
    const gate = readinessGate({ checks });
    checks.b = () => false;
    expect(gate.names).toEqual(['a']);
    expect((await gate.evaluate(1)).ready).toBe(true);
  });
});

describe('drain', () => {
  it('makes every later evaluation not ready at once, without running the checks', async () => {
    let calls = 0;
    const gate = readinessGate({ checks: { a: () => ++calls > 0 } });
    expect(gate.drained).toBe(false);
    gate.drain();
    gate.drain();
    expect(gate.drained).toBe(true);
    const report = await gate.evaluate(1);
    expect(report.ready).toBe(false);
    expect(report.results).toEqual([{ name: 'shutdown', ok: false, detail: 'process is shutting down', durationMs: 0 }]);
    expect(calls).toBe(0);
    expect((await gate.evaluateAll([1, 2])).ready).toBe(false);
  });

  it('ends evaluations in flight at once, aborting their checks', async () => {
    let signal: AbortSignal | undefined;
    const gate = readinessGate({
      checks: {
        done: () => true,
        hang: (s: number, context) => {
          signal = context.signal;
          return never(s, context);
        },
      },
      timeoutMs: 60_000,
    });
    const pending = gate.evaluate(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    gate.drain();
    const report = await pending;
    expect(report.ready).toBe(false);
    expect(report.results.map((r) => [r.name, r.ok, r.detail])).toEqual([
      ['done', true, ''],
      ['hang', false, 'aborted: the gate is draining'],
      ['shutdown', false, 'process is shutting down'],
    ]);
    expect(signal?.aborted).toBe(true);
  });

  it('publishes on the drain channel, and every report on the report channel', async () => {
    const reports: unknown[] = [];
    const drains: unknown[] = [];
    const onReport = (m: unknown): void => void reports.push(m);
    const onDrain = (m: unknown): void => void drains.push(m);
    diagnostics_channel.subscribe(diagnosticsChannels.gate.report, onReport);
    diagnostics_channel.subscribe(diagnosticsChannels.gate.drain, onDrain);
    try {
      const gate = readinessGate({ checks: { a: (n: number) => n > 0 } });
      const set = await gate.evaluateAll([1, 0]);
      expect(reports).toEqual(set.reports);
      gate.drain();
      expect(drains).toEqual([{ inFlight: 0 }]);
    } finally {
      diagnostics_channel.unsubscribe(diagnosticsChannels.gate.report, onReport);
      diagnostics_channel.unsubscribe(diagnosticsChannels.gate.drain, onDrain);
    }
  });
});

describe('formatReport', () => {
  const report = (key: string, results: Report<string>['results']): Report<string> => ({
    ready: results.every((r) => r.ok),
    subject: key,
    key,
    results,
  });
  const gw1 = report('gw-1', [
    { name: 'dns', ok: true, detail: '', durationMs: 1.2 },
    { name: 'tunnel', ok: true, detail: 'UP', durationMs: 3.7 },
  ]);
  const gw2 = report('gw-2', [
    { name: 'dns', ok: true, detail: '', durationMs: 0.4 },
    { name: 'tunnel', ok: false, detail: 'status is DOWN', durationMs: 12 },
    {
      name: 'api',
      ok: false,
      detail: 'connect ECONNREFUSED\n10.0.0.7:443',
      durationMs: 2,
      error: new Error('x'),
      verdict: { kind: 'transient', reason: 'ECONNREFUSED' },
    },
  ]);

  it('lists every check of one report', () => {
    expect(formatReport(gw2)).toBe(
      [
        'gw-2: not ready, 2 of 3 checks failed',
        '  [+]dns ok (0 ms)',
        '  [-]tunnel failed: status is DOWN (12 ms)',
        '  [-]api failed: connect ECONNREFUSED 10.0.0.7:443 (2 ms, transient error)',
      ].join('\n'),
    );
    expect(formatReport(gw1)).toBe(
      ['gw-1: ready, all 2 checks passed', '  [+]dns ok (1 ms)', '  [+]tunnel ok: UP (4 ms)'].join('\n'),
    );
    expect(formatReport({ ready: true, subject: undefined, key: '', results: [{ name: 'a', ok: true, detail: '', durationMs: 0 }] })).toBe(
      'ready, the check passed\n  [+]a ok (0 ms)',
    );
  });

  it('lists every subject and only the failing checks of many', () => {
    const expected = [
      'not ready: 1 of 2 subjects not ready',
      'gw-1: ready, all 2 checks passed',
      'gw-2: not ready, 2 of 3 checks failed',
      '  [-]tunnel failed: status is DOWN (12 ms)',
      '  [-]api failed: connect ECONNREFUSED 10.0.0.7:443 (2 ms, transient error)',
    ].join('\n');
    expect(formatReport([gw1, gw2])).toBe(expected);
    expect(formatReport({ ready: false, reports: [gw1, gw2] })).toBe(expected);
    expect(formatReport([gw1])).toBe('ready: all 1 subjects ready\ngw-1: ready, all 2 checks passed');
  });

  it('formats what evaluate produced', async () => {
    const gate = readinessGate({ checks: { dns: () => true, tunnel: (gw: string) => gw !== 'gw-2' || 'status is DOWN' } });
    expect(formatReport(await gate.evaluate('gw-2'))).toMatch(
      /^gw-2: not ready, 1 of 2 checks failed\n {2}\[\+\]dns ok \(\d+ ms\)\n {2}\[-\]tunnel failed: status is DOWN \(\d+ ms\)$/,
    );
  });

  it('throws on something that is not a report', () => {
    expect(() => formatReport(null as never)).toThrow(TypeError);
  });
});
