import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyArguments } from '../../src/guard/copy.ts';

/** Every object and array of a value, to show a copy shares none of them. */
function containers(value: unknown, into = new Set<object>()): Set<object> {
  if (typeof value === 'object' && value !== null && !into.has(value)) {
    into.add(value);
    for (const v of Object.values(value)) containers(v, into);
  }
  return into;
}

describe('copyArguments', () => {
  it('copies any JSON value as structuredClone does, sharing no object with it', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const copy = copyArguments(value);
        expect(copy).toStrictEqual(structuredClone(value));
        const shared = [...containers(copy)].filter((c) => containers(value).has(c));
        expect(shared).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps an own __proto__ key a property and the copy an ordinary object', () => {
    const copy = copyArguments(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('leaves what is not plain data to structuredClone: dates, holes, cycles, deep nesting', () => {
    const date = new Date(0);
    expect(copyArguments({ at: date }).at).toEqual(date);
    expect(copyArguments({ at: date }).at).not.toBe(date);
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point.
    const holed = copyArguments([, 'bob@company.example']);
    expect(0 in holed).toBe(false);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const copy = copyArguments(cyclic);
    expect(copy.self).toBe(copy);
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = { deep };
    expect(copyArguments(deep)).toStrictEqual(deep);
  });

  it('throws on what structuredClone cannot copy', () => {
    expect(() => copyArguments({ onSent: () => 'x' })).toThrow(/could not be cloned/);
    expect(() => copyArguments({ tag: Symbol('x') })).toThrow(/could not be cloned/);
  });

  it('reads each property once, so a getter cannot answer the check and the tool differently', () => {
    let reads = 0;
    const copy = copyArguments({
      get to() {
        reads++;
        return 'alice@example.com';
      },
    });
    expect(copy).toEqual({ to: 'alice@example.com' });
    expect(reads).toBe(1);
  });
});
