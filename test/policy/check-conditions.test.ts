import { describe, expect, it } from 'vitest';
import { analysePolicy } from '../../src/policy/analyze.ts';
import { policyFromText } from '../../src/policy/load.ts';

const findings = (lines: string[], code: string) =>
  analysePolicy(policyFromText(lines.join('\n')))
    .findings.filter((f) => f.code === code)
    .map((f) => f.message);

describe('ruleoftwo check on argument conditions', () => {
  it('reads the conditions of a glob entry from that entry, whatever glob comes first', () => {
    const policy = [
      'version: 1',
      "lists: { internal: ['*@example.com'] }",
      'tools:',
      "  '*': ABC",
      "  'send_*':",
      '    call: BC',
      '    when:',
      '      - match: { to: { in: internal } }',
      '        call: B',
    ];
    expect(findings(policy, 'allow_list_without_provenance')).toEqual([
      expect.stringMatching(/^`send_\*` when\[0\] trusts `to` by allow-list alone/),
    ]);
  });
});
