import { describe, expect, it } from 'vitest';
import { LEG_B } from '../../src/core/legs.ts';
import { analysePolicy } from '../../src/policy/analyze.ts';
import { policyFromText } from '../../src/policy/load.ts';

const findings = (lines: string[], code: string) =>
  analysePolicy(policyFromText(lines.join('\n')))
    .findings.filter((f) => f.code === code)
    .map((f) => f.message);

describe('ruleoftwo check on argument conditions', () => {
  it('warns on a condition that adds legs: a call that does not match it keeps the lower base legs', () => {
    const raising = [
      'version: 1',
      'tools:',
      '  transfer:',
      '    call: B',
      '    when:',
      '      - match: { amount: { gt: 100 } }',
      '        call: BC',
    ];
    // The amount as a string (which many tools coerce to a number) misses the condition: the call has no C.
    expect(policyFromText(raising.join('\n')).resolve('transfer').legsFor({ amount: '5000' }).pre).toBe(LEG_B);
    expect(findings(raising, 'condition_raises_legs')).toEqual([
      expect.stringMatching(/^`transfer` when\[0\] adds C: a call that does not match it /),
    ]);
    const lowering = [
      'version: 1',
      'tools:',
      '  transfer:',
      '    call: BC',
      '    args: { account: { reference: true } }',
      '    when:',
      '      - match: { amount: { lte: 100 } }',
      '        call: B',
    ];
    expect(findings(lowering, 'condition_raises_legs')).toEqual([]);
  });

  it('warns on a condition that moves B from the call to the output: the call itself no longer touches B', () => {
    const policy = [
      'version: 1',
      'tools:',
      '  send_money:',
      '    call: BC',
      '    when:',
      '      - match: { memo: { exists: true } }',
      '        call: C',
      '        output: B',
    ];
    expect(findings(policy, 'condition_lowers_legs')).toEqual([
      expect.stringMatching(/^`send_money` when\[0\] removes B from the call: /),
    ]);
    const raising = policy.map((line) =>
      line.replace('call: BC', 'call: C\n    output: B').replace(/^ {8}call: C$/, '        call: BC'),
    );
    expect(findings(raising, 'condition_raises_legs')).toEqual([
      expect.stringMatching(/^`send_money` when\[0\] adds B to the call: /),
    ]);
  });

  it('warns on a result condition that removes A: it reads an output that outsiders can write', () => {
    const policy = [
      'version: 1',
      "lists: { internal: ['*@example.com'] }",
      'tools:',
      '  read_mail:',
      '    output: AB',
      '    results:',
      '      - match: { from: { in: internal } }',
      '        output: B',
      '      - match: { spam: true }',
      '        output: AB',
    ];
    expect(findings(policy, 'result_lowers_legs')).toEqual([
      expect.stringMatching(
        /^`read_mail` results\[0\] removes A: outputs matching it are trusted on the operator's word/,
      ),
    ]);
  });

  it('warns on a bare value with a wildcard, which is compared as it is written, not as a glob', () => {
    const policy = [
      'version: 1',
      'tools:',
      '  send_email:',
      '    call: BC',
      '    when:',
      "      - match: { to: '*@example.com', cc: { exists: false } }",
      '        call: B',
      '    results:',
      "      - match: { from: { equals: 'a*b' } }",
      '        output: none',
    ];
    expect(policyFromText(policy.join('\n')).resolve('send_email').legsFor({ to: 'bob@example.com' }).source).toBe(
      'base',
    );
    expect(findings(policy, 'literal_wildcard')).toEqual([
      expect.stringMatching(/^`send_email` when\[0\] compares `to` with `\*@example.com` as written; /),
    ]);
  });

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

describe('ruleoftwo check on a catch-all glob', () => {
  it('fails a policy whose `*` labels every unnamed tool with less than A+B+C, as it fails such unknownTools', () => {
    const policy = ['version: 1', 'tools:', '  send_money: BC', "  '*': { output: A }"];
    // `unknownTools` never applies: a tool the policy does not name is labelled by the glob.
    const compiled = policyFromText(policy.join('\n'));
    expect(compiled.resolve('delete_everything').key).toBe('*');
    expect(analysePolicy(compiled).findings.filter((f) => f.severity === 'error')).toEqual([
      expect.objectContaining({ code: 'catch_all_not_trifecta', message: expect.stringMatching(/^`\*` labels /) }),
    ]);
    expect(findings(['version: 1', 'tools:', "  '**': ABC"], 'catch_all_not_trifecta')).toEqual([]);
  });
});

describe('ruleoftwo check on a tool entry without legs', () => {
  it('warns that it counts as no legs, so a `gate: deny` on it never applies', () => {
    const policy = [
      'version: 1',
      'tools:',
      '  delete_repo: { gate: deny }',
      '  get_time: none',
      '  clock: { legs: none }',
    ];
    const compiled = policyFromText(policy.join('\n'));
    const variant = compiled.resolve('delete_repo').variants[0];
    expect(variant && variant.pre | variant.post).toBe(0);
    expect(findings(policy, 'tool_without_legs')).toEqual([
      expect.stringMatching(/^`delete_repo` sets none of legs, call, output: it counts as no legs/),
    ]);
  });
});
