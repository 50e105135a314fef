import fc from 'fast-check';
import { describe, it } from 'vitest';
import { assertValid, policyArb, runAgainstModel, traceArb } from './trace.ts';

// MODEL_RUNS=100000 for a deeper run by hand; CI runs the default.
const RUNS = Number(process.env.MODEL_RUNS ?? 10_000);

describe('engine against the reference model', () => {
  it('agrees on every decision, outcome and session state of 10,000 random traces', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, async (doc, trace) => {
        assertValid(doc);
        await runAgainstModel(doc, trace);
      }),
      { numRuns: RUNS },
    );
    // About 25 s alone on two cores; more when other test files share them.
  }, 18 * RUNS);
});
