import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.ts';

const issues = (text: string) => {
  const parsed = parsePolicy(text);
  return parsed.ok ? [] : parsed.issues.map((i) => [i.code, i.path]);
};

describe('validation of what a policy means', () => {
  it('refuses an enum member that no output can equal: a declassify enum holds strings, numbers and booleans', () => {
    const policy = (values: string) =>
      `version: 1\ntools:\n  t:\n    output: A\n    declassify: { type: enum, values: ${values} }\n`;
    expect(issues(policy('[bug, 1, true]'))).toEqual([]);
    expect(issues(policy('[bug, { a: 1 }, [x], null]'))).toEqual([
      ['expected_scalar', 'tools.t.declassify.values[1]'],
      ['expected_scalar', 'tools.t.declassify.values[2]'],
      ['expected_scalar', 'tools.t.declassify.values[3]'],
    ]);
  });
});
