import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import schema from '../../schema/policy.schema.json' with { type: 'json' };
import { compileRedaction, redactEvent } from '../../src/audit/redact.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import { sampleEvent } from './log.ts';

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

describe('the policy `audit:` section', () => {
  it('accepts redaction patterns, in the validator and the JSON Schema alike', () => {
    const policy = { version: 1, audit: { redact: ['send_email:body', '*.password', 'auth.token', 'mcp:*:args.x'] } };
    expect(parsePolicy(JSON.stringify(policy))).toMatchObject({ ok: true });
    expect(validate(policy)).toBe(true);
  });

  it('reports every bad pattern with its path and line', () => {
    const parsed = parsePolicy(
      'version: 1\naudit:\n  redact:\n    - ":body"\n    - "tool:a..b"\n    - 3\n  keep: all\n',
    );
    expect(parsed.ok).toBe(false);
    const issues = parsed.ok ? [] : parsed.issues;
    expect(issues.map((i) => [i.code, i.path, i.line])).toEqual([
      ['invalid_path', 'audit.redact[0]', 4],
      ['invalid_path', 'audit.redact[1]', 5],
      ['expected_string', 'audit.redact[2]', 6],
      ['unknown_key', 'audit.keep', 7],
    ]);
    expect(validate({ version: 1, audit: { redact: [':body'] } })).toBe(false);
  });

  it('redacts matching argument values of matching tools only, without touching the event given', () => {
    const event = sampleEvent(1);
    const before = JSON.stringify(event);
    const out = redactEvent(event, compileRedaction(['send_*:body', 'other_tool:to', '*.password', '__proto__']));
    expect(out).toMatchObject({
      redacted: ['args.body', 'args.nested.password'],
      request: { args: { to: 'x@evil.test', body: '[redacted]', nested: { password: '[redacted]' } } },
    });
    expect(JSON.stringify(event)).toBe(before);
    expect(redactEvent(sampleEvent(2), compileRedaction(['*.body']))).toEqual(sampleEvent(2));
  });

  it('redacts inside lists and never writes through a `__proto__` key', () => {
    const event = sampleEvent(1);
    if (event.type !== 'approval.request') throw new Error('expected an approval request');
    event.request.args = JSON.parse('{"to":[{"addr":"a"},{"addr":"b"}],"__proto__":{"polluted":true}}');
    const out = redactEvent(event, compileRedaction(['to.*.addr', '__proto__.polluted']));
    expect(out).toMatchObject({ redacted: ['args.__proto__.polluted', 'args.to[0].addr', 'args.to[1].addr'] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
