/**
 * The overhead of the readiness gate per trivial check: `evaluate()` with 1, 10 and 1,000 checks,
 * and `evaluateAll()` over 1,000 subjects, each beside a bare loop that calls the same checks and
 * collects their answers (the least any gate must do). Checks answer at once, synchronously
 * (`() => true`) or asynchronously (`async () => true`), so what is measured is the gate itself:
 * the context, the timing, the result objects, the timeout timer and the report.
 * Target: under 2 us per trivial check.
 */
import { readinessGate, type Check } from 'ridethrough/gate';
import { nsPerOp, printTable, type Row } from './harness.js';

type Kind = 'sync' | 'async';

function checksOf(count: number, kind: Kind): Record<string, Check<number>> {
  const checks: Record<string, Check<number>> = {};
  for (let i = 0; i < count; i++) checks[`check-${i}`] = kind === 'sync' ? () => true : async () => true;
  return checks;
}

/** What any gate must do at least: call every check on every subject and keep the answers. */
function bareLoop(checks: Record<string, Check<number>>, subjects: readonly number[], kind: Kind): () => unknown {
  const list = Object.values(checks);
  const signal = new AbortController().signal;
  const context = { signal };
  if (kind === 'sync') {
    return () => {
      const answers: unknown[] = [];
      for (const subject of subjects) for (const check of list) answers.push(check(subject, context));
      return answers;
    };
  }
  return () => {
    const answers: unknown[] = [];
    for (const subject of subjects) for (const check of list) answers.push(check(subject, context));
    return Promise.all(answers);
  };
}

interface Case {
  title: string;
  checks: number;
  subjects: number;
}

const cases: Case[] = [
  { title: 'evaluate(), 1 check', checks: 1, subjects: 1 },
  { title: 'evaluate(), 10 checks', checks: 10, subjects: 1 },
  { title: 'evaluate(), 1,000 checks', checks: 1_000, subjects: 1 },
  { title: 'evaluateAll(), 1,000 subjects x 5 checks', checks: 5, subjects: 1_000 },
];

for (const kind of ['sync', 'async'] as const) {
  const rows: Row[] = [];
  for (const c of cases) {
    const checks = checksOf(c.checks, kind);
    const subjects = Array.from({ length: c.subjects }, (_, i) => i);
    const gate = readinessGate({ checks });
    const perCall = c.checks * c.subjects;
    const minTimeMs = perCall > 100 ? 500 : 250;
    const bare = (await nsPerOp(bareLoop(checks, subjects, kind), { minTimeMs, async: kind === 'async' })) / perCall;
    const run =
      c.subjects === 1 ? () => gate.evaluate(0) : () => gate.evaluateAll(subjects);
    const gated = (await nsPerOp(run, { minTimeMs })) / perCall;
    rows.push({ name: `${c.title}: bare loop`, value: bare, unit: 'ns', ratio: 1 });
    rows.push({
      name: `${c.title}: gate`,
      value: gated,
      unit: 'ns',
      ratio: gated / bare,
      note: gated < 2_000 ? 'under 2 us' : 'OVER 2 us',
    });
  }
  printTable(`${kind} trivial checks (ns per check; ratio to the bare loop)`, rows);
}
