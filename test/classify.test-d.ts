import { describe, expectTypeOf, it } from 'vitest';
import {
  EmptyFileError,
  classify,
  createClassifier,
  defaultRules,
  permanent,
  rules,
  transient,
  type Classifier,
  type ClassifierOptions,
  type Rule,
  type TransientOptions,
  type Verdict,
  type VerdictKind,
} from 'ridethrough/classify';

describe('classify types', () => {
  it('Verdict and VerdictKind', () => {
    expectTypeOf<VerdictKind>().toEqualTypeOf<'transient' | 'permanent'>();
    expectTypeOf<Verdict>().toEqualTypeOf<{ readonly kind: VerdictKind; readonly reason: string; readonly retryAfterMs?: number }>();
    // Verdicts are read-only.
    const v = classify(new Error('x'));
    // @ts-expect-error kind is readonly
    v.kind = 'transient';
  });

  it('classify and createClassifier give a Classifier', () => {
    expectTypeOf(classify).toEqualTypeOf<(error: unknown) => Verdict>();
    expectTypeOf(classify).toMatchTypeOf<Classifier>();
    expectTypeOf(createClassifier).parameter(0).toEqualTypeOf<ClassifierOptions | undefined>();
    expectTypeOf(createClassifier({ rules: [rules.node], fallback: 'transient' })).toEqualTypeOf<Classifier>();
    // @ts-expect-error unknown fallback
    createClassifier({ fallback: 'maybe' });
    // @ts-expect-error rules are functions
    createClassifier({ rules: ['node'] });
  });

  it('ClassifierOptions', () => {
    expectTypeOf<ClassifierOptions>().toEqualTypeOf<{ rules?: readonly Rule[] | undefined; fallback?: VerdictKind | undefined }>();
    // Forwarding optional values compiles under exactOptionalPropertyTypes (issue 10).
    const forward = (rules?: readonly Rule[], fallback?: VerdictKind): Classifier => createClassifier({ rules, fallback });
    expectTypeOf(forward).returns.toEqualTypeOf<Classifier>();
  });

  it('Rule, rules and defaultRules', () => {
    expectTypeOf<Rule>().toEqualTypeOf<(error: unknown) => Verdict | undefined>();
    expectTypeOf(defaultRules).toEqualTypeOf<readonly Rule[]>();
    expectTypeOf(rules.node).toEqualTypeOf<Rule>();
    expectTypeOf(rules.rotatingFile).toEqualTypeOf<Rule>();
    expectTypeOf(rules).toHaveProperty('markers');
    expectTypeOf(rules).toHaveProperty('abort');
    expectTypeOf(rules).toHaveProperty('fetch');
    expectTypeOf(rules).toHaveProperty('tls');
    expectTypeOf(rules).toHaveProperty('kubernetes');
    expectTypeOf(rules).toHaveProperty('http');
    // A rule may be written inline and returns a literal verdict.
    const custom: Rule = (e) => (e === 1 ? { kind: 'transient', reason: 'one' } : undefined);
    createClassifier({ rules: [custom, ...defaultRules] });
    // @ts-expect-error rules is frozen
    rules.node = custom;
    // @ts-expect-error defaultRules is read-only
    defaultRules.push(custom);
  });

  it('markers return the type they were given; non-objects come back as Error', () => {
    class MyError extends Error {
      extra = 1;
    }
    expectTypeOf(permanent(new MyError())).toEqualTypeOf<MyError>();
    expectTypeOf(transient(new MyError(), { retryAfterMs: 5 })).toEqualTypeOf<MyError>();
    expectTypeOf(permanent('text')).toEqualTypeOf<Error>();
    expectTypeOf(transient(42)).toEqualTypeOf<Error>();
    const caught: unknown = new Error('x');
    expectTypeOf(permanent(caught)).toEqualTypeOf<unknown>();
    expectTypeOf<TransientOptions>().toEqualTypeOf<{ retryAfterMs?: number | undefined }>();
    transient(new Error('x'), { retryAfterMs: undefined });
    // @ts-expect-error retryAfterMs is a number
    transient(new Error('x'), { retryAfterMs: '5' });
  });

  it('EmptyFileError', () => {
    const e = new EmptyFileError('/etc/tls/tls.crt', { cause: new Error('x') });
    expectTypeOf(e).toMatchTypeOf<Error>();
    expectTypeOf(e.name).toEqualTypeOf<'EmptyFileError'>();
    expectTypeOf(e.code).toEqualTypeOf<'ERR_EMPTY_FILE'>();
    expectTypeOf(e.path).toEqualTypeOf<string>();
    // @ts-expect-error the path is a string
    new EmptyFileError(42);
  });
});
