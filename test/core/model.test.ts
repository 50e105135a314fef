import fc from 'fast-check';
import { describe, it } from 'vitest';
import { assertValid, policyArb, runAgainstModel, traceArb } from './trace.ts';

describe('engine against the reference model', () => {
  it('agrees on every decision, outcome and session state of 10,000 random traces', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, async (doc, trace) => {
        assertValid(doc);
        await runAgainstModel(doc, trace);
      }),
      { numRuns: 10_000 },
    );
    // About 25 s alone on two cores; more when other test files share them.
  }, 180_000);
});
