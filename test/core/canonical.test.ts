import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ApprovalBinding, approvalHash } from '../../src/core/approval.ts';
import { CanonicalJsonError, canonicalHash, canonicalJson, sha256Hex } from '../../src/core/canonical.ts';

describe('canonical JSON', () => {
  it('sorts keys by code unit, drops undefined members and writes no white space', () => {
    expect(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: undefined }], B: 'é', '10': 0, '9': 0 })).toBe(
      '{"10":0,"9":0,"B":"é","a":[true,null,{"d":"x"}],"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson(Object.assign(Object.create(null), { z: 1 }))).toBe('{"z":1}');
    expect(canonicalJson('line\nbreak "quoted"')).toBe('"line\\nbreak \\"quoted\\""');
    expect(canonicalJson(-0)).toBe('0');
  });

  it('property: writes what JSON.stringify writes, with keys in the built-in sort order', () => {
    // The reference sorts with Array.prototype.sort; canonicalJson sorts few keys by insertion, many by the built-in.
    const reference = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      if (value === null || typeof value !== 'object') return JSON.stringify(value);
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .sort()
        .filter((key) => record[key] !== undefined);
      return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(record[key])}`).join(',')}}`;
    };
    // Numeric-looking keys too: objects list those first, in numeric order, which is not code-unit order.
    const key = fc.oneof(fc.string({ unit: 'binary' }), fc.nat(300).map(String), fc.constantFrom('a', 'B', 'é', '10'));
    const wide = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 80 });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), wide, fc.array(wide, { maxLength: 3 })), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 400 },
    );
  });

  it('rejects what is not JSON, naming where', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: [unknown, string][] = [
      [{ a: [1, Number.NaN] }, 'non-finite number at `$.a[1]`'],
      [{ f: () => 1 }, 'value of type function at `$.f`'],
      [{ d: new Date(0) }, 'non-plain object at `$.d`'],
      [{ m: new Map() }, 'non-plain object at `$.m`'],
      [{ x: { self: cycle } }, 'cycle at `$.x.self.self`'],
      [[1, undefined], 'value of type undefined at `$[1]`'],
      [10n, 'value of type bigint at `$`'],
      // biome-ignore lint/suspicious/noSparseArray: a hole must not be written as `[,1]`
      [[, 1], 'value of type undefined at `$[0]`'],
    ];
    for (const [value, message] of cases) {
      expect(() => canonicalJson(value)).toThrow(new CanonicalJsonError(message));
    }
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { a: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"a":1},{"a":1}]');
  });

  it('hashes with SHA-256 over UTF-8, ASCII and not', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const text of ['é', 'ascii then ü', '漢字 and 😀', 'a'.repeat(200)]) {
      expect(sha256Hex(text), text).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    }
    expect(canonicalHash({ b: 1, a: 2 })).toBe(sha256Hex('{"a":2,"b":1}'));
  });
});

describe('approval hash', () => {
  const binding: ApprovalBinding = {
    sessionId: 's1',
    seq: 4,
    tool: 'send_email',
    args: { to: 'eve@evil.test', body: 'hi' },
    policyVersion: '0123456789abcdef',
  };

  it('ignores key order and absent arguments read as null', () => {
    expect(approvalHash({ ...binding, args: { body: 'hi', to: 'eve@evil.test' } })).toBe(approvalHash(binding));
    expect(approvalHash({ ...binding, args: undefined })).toBe(approvalHash({ ...binding, args: null }));
  });

  it('changes when any bound field changes', () => {
    const base = approvalHash(binding);
    const changes: Partial<ApprovalBinding>[] = [
      { sessionId: 's2' },
      { seq: 5 },
      { tool: 'send_mail' },
      { args: { to: 'eve@evil.test', body: 'hi!' } },
      { args: { to: ['eve@evil.test'], body: 'hi' } },
      { args: { to: 'eve@evil.test', body: 'hi', cc: 'x' } },
      { policyVersion: '0123456789abcdee' },
    ];
    for (const change of changes)
      expect(approvalHash({ ...binding, ...change }), JSON.stringify(change)).not.toBe(base);
  });

  it('is domain-separated from a plain hash of the same fields', () => {
    const { sessionId, seq, tool, args, policyVersion } = binding;
    expect(approvalHash(binding)).not.toBe(canonicalHash([sessionId, seq, tool, args, policyVersion]));
  });
});

describe('native SHA-256 injected by the guard', () => {
  it('gives the same digest as the core default on any text', async () => {
    const { nativeSha256 } = await import('../../src/guard/guard.ts');
    const fc = await import('fast-check');
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => nativeSha256(text) === sha256Hex(text)));
  });
});
