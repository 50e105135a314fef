import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/decision.ts';
import type { SessionView } from '../../src/guard/guard.ts';
import { dropViolations, shrinkViolations, trifectaViolations } from './invariants.ts';
import { policyArb, runAgainstModel, type Step, traceArb } from './trace.ts';

const RUNS = 1000;

describe('Rule-of-Two invariants on random traces through the guard', () => {
  const invariants: [string, (steps: Step[]) => string[]][] = [
    ['never allows a C call while A and B are held without a matching receipt', trifectaViolations],
    ['never shrinks held legs', shrinkViolations],
    ['never brings a dropped leg back', dropViolations],
  ];
  it.each(invariants)('%s', async (_name, violations) => {
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, async (doc, trace) => {
        expect(violations(await runAgainstModel(doc, trace))).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('decides the same trace the same way every time', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, async (doc, trace) => {
        const first = await runAgainstModel(doc, trace);
        const second = await runAgainstModel(doc, trace);
        expect(second).toEqual(first);
      }),
      { numRuns: 500 },
    );
  });
});

// The checkers above must be able to fail: fed a violating history, each reports it.
describe('invariant checkers', () => {
  const view = (legs: string, held: string, dropped: string): SessionView => ({
    id: 's1',
    configuration: 'dynamic',
    legs,
    held,
    reserved: '',
    dropped,
    seq: 0,
    pending: [],
    evidence: [],
  });
  const step = (v: SessionView | undefined, decision?: Partial<Decision>): Step => ({
    event: { t: 'tick', ms: 0 },
    views: new Map([['s1', v]]),
    ...(decision ? { decision: decision as Decision } : {}),
  });
  const allowSend: Partial<Decision> = {
    effect: 'allow',
    sessionId: 's1',
    tool: 'send',
    legsBefore: 'AB',
    call: { profile: 'send', source: 'base', pre: 'C', post: '' },
  };

  it('flag an unapproved trifecta call', () => {
    expect(trifectaViolations([step(view('AB', 'AB', '')), step(view('ABC', 'ABC', ''), allowSend)])).toHaveLength(1);
  });

  it('flag a held leg that disappears', () => {
    expect(shrinkViolations([step(view('AB', 'AB', '')), step(view('A', 'A', ''))])).toHaveLength(1);
  });

  it('flag a dropped leg that returns or is allowed', () => {
    expect(dropViolations([step(view('A', 'A', 'C')), step(view('A', 'A', ''))])).toHaveLength(1);
    expect(dropViolations([step(view('A', 'A', 'B')), step(view('AB', 'AB', 'B'))])).toHaveLength(1);
    // Allowed with a dropped C, and C (absent when dropped) back in the session: two findings.
    expect(dropViolations([step(view('AB', 'AB', 'C')), step(view('ABC', 'ABC', 'C'), allowSend)])).toHaveLength(2);
  });
});
