import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import schema from '../../schema/policy.schema.json' with { type: 'json' };
import { parsePolicy } from '../../src/policy/load.ts';

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
const suite = join(import.meta.dirname, '..', 'fixtures', 'attacks');

describe('policy validation of provenance, URL, reference, lineage and declassify settings', () => {
  it('accepts every attack-suite policy, and so does the JSON Schema', () => {
    for (const category of ['banking', 'browsing', 'chat', 'email', 'files', 'travel']) {
      const text = readFileSync(join(suite, category, 'policy.yaml'), 'utf8');
      expect(parsePolicy(text), category).toMatchObject({ ok: true });
      expect(validate(parse(text)), `${category}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('accepts the example policy of docs/provenance.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'provenance.md'), 'utf8');
    const example = /```yaml\n(version: 1[\s\S]*?)```/.exec(doc)?.[1] ?? '';
    expect(example).toContain('lineage:');
    expect(parsePolicy(example)).toMatchObject({ ok: true });
    expect(validate(parse(example))).toBe(true);
  });

  it('reports every issue with its path and line', () => {
    const text = [
      'version: 1',
      'provenance:',
      '  consequential: { untrusted: maybe }',
      'tools:',
      '  send_money:',
      '    call: BC',
      '    args:',
      '      recipient: { untrusted: block, reference: yes }',
      '      "a..b": { sensitive: ask }',
      '      memo: {}',
      '      url: { url: { from: anywhere, allow: nolist, embedded: 1 } }',
      '    lineage: { items: comments, untrusted: drop }',
      '    declassify: { type: text }',
    ].join('\n');
    const parsed = parsePolicy(text);
    expect(parsed.ok).toBe(false);
    const issues = parsed.ok ? [] : parsed.issues.map((i) => `${i.line} ${i.path} ${i.code}`);
    expect(issues).toEqual([
      '3 provenance.consequential.untrusted invalid_value',
      '8 tools.send_money.args.recipient.untrusted invalid_value',
      '8 tools.send_money.args.recipient.reference expected_boolean',
      '9 tools.send_money.args["a..b"] invalid_path',
      '10 tools.send_money.args.memo empty_control',
      '11 tools.send_money.args.url.url.from invalid_value',
      '11 tools.send_money.args.url.url.embedded expected_boolean',
      '11 tools.send_money.args.url.url.allow unknown_list',
      '12 tools.send_money.lineage missing_key',
      '12 tools.send_money.lineage.untrusted invalid_value',
      '13 tools.send_money.declassify invalid_schema',
    ]);
    expect(validate(parse(text))).toBe(false);
  });

  it('rejects a declassification schema that is not narrow', () => {
    const parsed = parsePolicy(
      'version: 1\ntools:\n  t:\n    output: A\n    declassify: { type: id, pattern: ".*", maxLength: 500 }\n',
    );
    expect(parsed.ok ? [] : parsed.issues.map((i) => i.message)).toEqual([
      "an id's maxLength must be an integer from 1 to 64",
    ]);
  });
});
