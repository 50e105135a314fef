import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyJsonl } from '../../src/audit/inspect.ts';
import { leafHash, leafHashOfInput } from '../../src/audit/merkle.ts';
import { eventBytes, leafInput, parseRecord } from '../../src/audit/record.ts';

const dir = join(import.meta.dirname, '../fixtures/audit');
const read = (name: string) => readFileSync(join(dir, name));
const publicPem = read('public.pem').toString();

describe('frozen audit fixtures', () => {
  it('valid.jsonl verifies with its pinned key, to its frozen root', () => {
    const report = verifyJsonl(read('valid.jsonl'), { publicKeys: [publicPem] });
    expect(report).toMatchObject({ ok: true, records: 12, checkpoints: 3, signed: 3, issues: [] });
    expect(report.root).toBe('063941ae6d5ff6bc45f4fc5ba5df0b0987e6271538fde1d3bd61d875a329effd');
  });

  it('this release writes every record of valid.jsonl byte for byte, and chains them the same way', () => {
    const lines = read('valid.jsonl').toString().trim().split('\n').slice(1);
    const records = lines.filter((line) => !line.startsWith('{"checkpoint":'));
    let prev = '0'.repeat(64);
    for (const text of records) {
      const parsed = parseRecord(text);
      if (!parsed.ok) throw new Error(parsed.problem.message);
      const { seq, at, event } = parsed.record;
      expect(parsed.record.prev).toBe(prev);
      const input = leafInput(seq, prev, at, eventBytes(event));
      expect(input.subarray(1).toString()).toBe(text);
      expect(input[0]).toBe(0);
      prev = leafHash(text);
      expect(leafHashOfInput(input)).toBe(prev);
    }
  });

  const cases: [string, { code: string; record?: number; message: RegExp }][] = [
    [
      'edited-record.jsonl',
      { code: 'hash_mismatch', record: 4, message: /record 4 was changed: record 5 does not chain to it/ },
    ],
    ['reordered.jsonl', { code: 'missing', record: 6, message: /record 6 is missing or moved \(record 7/ }],
    ['deleted-record.jsonl', { code: 'missing', record: 9, message: /record 9 is missing or moved \(record 10/ }],
    ['truncated.jsonl', { code: 'malformed', record: 12, message: /record 12: not JSON/ }],
    ['malformed-not-json.jsonl', { code: 'malformed', record: 5, message: /record 5: not JSON/ }],
    ['malformed-noncanonical.jsonl', { code: 'malformed', record: 2, message: /not in canonical form/ }],
    ['malformed-extra-field.jsonl', { code: 'malformed', record: 3, message: /unexpected fields/ }],
    ['malformed-header.jsonl', { code: 'malformed', message: /line 1 is not a ruleoftwo audit export header/ }],
    [
      'future-record-version.jsonl',
      { code: 'unsupported_version', record: 3, message: /record format version 2; this release reads version 1/ },
    ],
    [
      'future-export-version.jsonl',
      { code: 'malformed', message: /export format version `2`; this release reads version 1/ },
    ],
  ];
  for (const [file, expected] of cases) {
    it(`${file} is refused and the first issue says where`, () => {
      const report = verifyJsonl(read(file), { publicKeys: [publicPem] });
      expect(report.ok).toBe(false);
      const [first] = report.issues;
      expect(first?.code).toBe(expected.code);
      expect(first?.record).toBe(expected.record);
      expect(first?.message).toMatch(expected.message);
    });
  }
});
