import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/core/policy.ts';
import { parsePolicy } from '../../src/policy/load.ts';

const outcome = (text: string) => {
  const parsed = parsePolicy(text);
  // Either a document or issues that each say where and what.
  if (parsed.ok) return 'ok';
  for (const issue of parsed.issues) {
    expect(issue.code).toMatch(/^[a-z_]+$/);
    expect(typeof issue.path).toBe('string');
    expect(issue.message).not.toMatch(/^[A-Z]|\n/);
  }
  return 'issues';
};

describe('parsePolicy on arbitrary input', () => {
  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(['ok', 'issues']).toContain(outcome(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps a message on one line when the input has line breaks (seed 1622680874)', () => {
    const parsed = parsePolicy('\u0000\n\n\u0000');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues[0]?.message).toBe('expected a mapping, got string `\\u0000\\u000a\\u0000`');
  });

  it('never throws on random JSON, and accepts nothing without `version: 1`', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const result = outcome(JSON.stringify(value));
        const isPolicy =
          value !== null &&
          typeof value === 'object' &&
          !Array.isArray(value) &&
          (value as Record<string, unknown>).version === 1;
        if (!isPolicy) expect(result).toBe('issues');
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on policy-shaped documents with random values, and compiles what it accepts', () => {
    const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('AB', 'none', 'C', 'ask', '5m'));
    const tool = fc.dictionary(fc.constantFrom('legs', 'call', 'output', 'gate', 'when', 'results', 'x'), anything);
    const document = fc.record({
      version: fc.constantFrom(1, 2, '1'),
      session: fc.dictionary(fc.constantFrom('configuration', 'input'), anything),
      approvals: fc.dictionary(fc.constantFrom('gate', 'ttl', 'unanswered'), anything),
      lists: fc.dictionary(fc.string(), anything),
      tools: fc.dictionary(fc.string(), fc.oneof(tool, anything)),
    });
    fc.assert(
      fc.property(document, (value) => {
        const text = JSON.stringify(value);
        if (outcome(text) !== 'ok') return;
        const parsed = parsePolicy(text);
        if (parsed.ok) expect(() => compilePolicy(parsed.document)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});
