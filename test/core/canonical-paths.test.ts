import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, canonicalJson } from '../../src/core/canonical.ts';

describe('canonicalJson', () => {
  it('sorts keys, drops undefined members, and round-trips through JSON.parse', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x', { d: undefined, c: 2 }] })).toBe(
      '{"a":[true,null,"x",{"c":2}],"b":1}',
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('names the path of what cannot be written', () => {
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic.a as unknown[]).push(cyclic);
    const cases: [unknown, string][] = [
      [{ a: { b: [1, Number.NaN] } }, 'non-finite number at `$.a.b[1]`'],
      [{ f: () => 1 }, 'value of type function at `$.f`'],
      [cyclic, 'cycle at `$.a[1]`'],
      [{ d: new Date(0) }, 'non-plain object at `$.d`'],
      [undefined, 'value of type undefined at `$`'],
    ];
    for (const [value, message] of cases) {
      expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
      expect(() => canonicalJson(value)).toThrow(message);
    }
  });
});
