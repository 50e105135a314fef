import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import schema from '../../schema/policy.schema.json' with { type: 'json' };
import { parsePolicy } from '../../src/policy/load.ts';

const root = join(import.meta.dirname, '..', '..');
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

function examplePolicies(): string[] {
  const dir = join(root, 'examples');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('policy.yaml'))
    .map((f) => join(dir, f));
}

describe('JSON Schema for editors', () => {
  it('accepts every example policy, as the validator does', () => {
    const files = examplePolicies();
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(parsePolicy(text).ok, file).toBe(true);
      expect(validate(parse(text)), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('rejects a policy the validator rejects', () => {
    const text = readFileSync(join(root, 'test', 'fixtures', 'policy-cli', 'broken.yaml'), 'utf8');
    expect(parsePolicy(text).ok).toBe(false);
    expect(validate(parse(text))).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    expect(paths).toContain('/version');
    expect(paths).toContain('/tools/send_email/call');
  });
});
