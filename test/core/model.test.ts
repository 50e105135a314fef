import fc from 'fast-check';
import { describe, it } from 'vitest';
import { assertValid, policyArb, runAgainstModel, traceArb } from './trace.ts';

// MODEL_RUNS=100000 for a deeper run by hand; CI runs the default.
const RUNS = Number(process.env.MODEL_RUNS ?? 10_000);
// About 25 s alone on two cores for 10,000 traces; more when other test files share the cores.
const TIMEOUT = 18 * RUNS;

describe('engine against the reference model', () => {
  it(`agrees on every decision, outcome and session state of ${RUNS.toLocaleString('en-US')} random traces`, {
    timeout: TIMEOUT,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, async (doc, trace) => {
        assertValid(doc);
        await runAgainstModel(doc, trace);
      }),
      { numRuns: RUNS },
    );
  });
});
