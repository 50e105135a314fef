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

describe('condition paths', () => {
  it('refuse a `*` segment, which other paths read as any key but a condition would read as the key `*`', () => {
    const policy = (path: string) =>
      `version: 1\nlists: { internal: ['*@example.com'] }\ntools:\n  t:\n    call: BC\n    when:\n      - match: { '${path}': { in: internal } }\n        call: B\n    results:\n      - match: { '${path}': 1 }\n        output: none\n`;
    expect(issues(policy('recipients.0'))).toEqual([]);
    expect(issues(policy('recipients.*'))).toEqual([
      ['invalid_path', 'tools.t.when[0].match["recipients.*"]'],
      ['invalid_path', 'tools.t.results[0].match["recipients.*"]'],
    ]);
  });
});
