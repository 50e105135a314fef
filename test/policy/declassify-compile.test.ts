import { describe, expect, it, vi } from 'vitest';
import { compilePolicy } from '../../src/core/policy.ts';
import * as regex from '../../src/core/regex.ts';
import { parsePolicy } from '../../src/policy/load.ts';

// Counts the expressions compiled through the regex module's exports: the validator and the declassifier each import
// them, so a pattern compiled once by one and again by the other shows here twice.
vi.mock('../../src/core/regex.ts', async (original) => {
  const actual = await original<typeof regex>();
  return { ...actual, regexProblem: vi.fn(actual.regexProblem), tryCompileRegex: vi.fn(actual.tryCompileRegex) };
});

function compilations(pattern: string): number {
  const calls = [...vi.mocked(regex.regexProblem).mock.calls, ...vi.mocked(regex.tryCompileRegex).mock.calls];
  return calls.filter(([source]) => source === pattern).length;
}

describe('a declassify id pattern', () => {
  it('is compiled once for validating and compiling a policy', () => {
    const pattern = '^INV-[0-9]{6}$';
    const text = `version: 1\ntools:\n  t:\n    output: A\n    declassify: { type: id, pattern: "${pattern}", maxLength: 10 }\n`;
    const parsed = parsePolicy(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    compilePolicy(parsed.document);
    expect(compilations(pattern)).toBe(1);
  });

  it('that cannot compile is reported once, with its code at its path', () => {
    const pattern = '^(a|b)\\1$';
    const parsed = parsePolicy(
      `version: 1\ntools:\n  t:\n    output: A\n    declassify: { type: id, pattern: '${pattern}', maxLength: 10 }\n`,
    );
    expect(parsed.ok ? [] : parsed.issues.map((i) => [i.code, i.path])).toEqual([
      ['unsupported_regex', 'tools.t.declassify.pattern'],
    ]);
    expect(compilations(pattern)).toBe(1);
  });
});
