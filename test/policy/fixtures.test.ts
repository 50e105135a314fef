import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import schema from '../../schema/policy.schema.json' with { type: 'json' };
import { decide } from '../../src/core/decide.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { newSessionState } from '../../src/core/state.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadPolicy, parsePolicy } from '../../src/policy/load.ts';

// Frozen fixtures of policy format version 1: a change to what these files mean is a format change.
const root = join(import.meta.dirname, '..', 'fixtures', 'policy');
const files = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => /\.(ya?ml|json)$/.test(f) && !f.endsWith('.issues.json'))
    .sort();
const read = (dir: string, file: string) => readFileSync(join(root, dir, file), 'utf8');
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

describe('valid policy fixtures', () => {
  it.each(files('valid'))('%s validates, compiles and matches the JSON Schema', (file) => {
    const text = read('valid', file);
    const parsed = parsePolicy(text);
    expect(parsed.ok ? [] : parsed.issues).toEqual([]);
    if (!parsed.ok) return;
    expect(() => compilePolicy(parsed.document)).not.toThrow();
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('reads the same policy from YAML and JSON', () => {
    const policies = ['full.yaml', 'full.json'].map((file) => {
      const parsed = parsePolicy(read('valid', file));
      if (!parsed.ok) throw new Error(file);
      return compilePolicy({ ...parsed.document, name: 'full' });
    });
    expect(policies[0]?.version).toBe(policies[1]?.version);
    const calls = [
      { id: 'c1', tool: 'send_email', args: { to: 'bob@corp.example' } },
      { id: 'c2', tool: 'send_email', args: { to: 'eve@evil.example', priority: 2 } },
      { id: 'c3', tool: 'pay', args: { amount: 50, currency: 'EUR', recurring: false, memo: null } },
      { id: 'c4', tool: 'fs.write' },
      { id: 'c5', tool: 'db.query' },
    ];
    for (const call of calls) {
      const [yaml, json] = policies.map((policy) => {
        const state = newSessionState({ id: 's', configuration: 'dynamic', input: 'trusted', now: 0 });
        return policy && decide(policy, state, call, { now: 0, newId: () => 'r' }).decision;
      });
      expect(yaml, call.tool).toEqual(json);
    }
  });

  it('keeps prototype-like tool names apart from object keys', () => {
    const parsed = parsePolicy(read('valid', 'odd-names.yaml'));
    if (!parsed.ok) throw new Error('odd-names.yaml');
    const policy = compilePolicy(parsed.document);
    expect(policy.resolve('__proto__')).toMatchObject({ key: '__proto__', known: true });
    expect(policy.resolve('__proto__').legsFor({}).pre).toBe(4);
    expect(policy.resolve('constructor').legsFor({}).post).toBe(1);
    expect(policy.resolve('hasOwnProperty').key).toBe('*');
    expect(policy.resolve('命令.执行').legsFor({}).pre).toBe(4);
  });
});

describe('malformed policy fixtures', () => {
  it.each(files('malformed'))('%s reports its frozen issues and never throws', async (file) => {
    const expected = JSON.parse(read('malformed', file.replace(/\.(ya?ml|json)$/, '.issues.json')));
    const parsed = parsePolicy(read('malformed', file));
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.issues).toEqual(expected);
    const error = await loadPolicy(join(root, 'malformed', file)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual(expected);
  });

  it('cover every issue code the validator has', () => {
    const codes = new Set(
      files('malformed').flatMap((file) =>
        JSON.parse(read('malformed', file.replace(/\.(ya?ml|json)$/, '.issues.json'))).map(
          (i: { code: string }) => i.code,
        ),
      ),
    );
    const source = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'policy', 'validate.ts'), 'utf8');
    const reported = new Set([...source.matchAll(/#report\(\s*'([a-z_]+)'/g)].map((m) => m[1]));
    expect([...reported].filter((code) => !codes.has(code as string))).toEqual([]);
  });

  it('produce exactly the issue codes docs/policy.md lists', () => {
    const codes = new Set(
      files('malformed').flatMap((file) =>
        JSON.parse(read('malformed', file.replace(/\.(ya?ml|json)$/, '.issues.json'))).map(
          (i: { code: string }) => i.code,
        ),
      ),
    );
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'policy.md'), 'utf8');
    const list = doc.match(/Codes: ([^.]*)\./)?.[1] ?? '';
    const documented = [...list.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
    expect(documented.length).toBeGreaterThan(0);
    expect(documented.sort()).toEqual([...codes].sort());
  });
});
