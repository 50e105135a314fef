import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.ts';
import { NO_ROOM, recordTape, UNWRITABLE, writeCanonicalJson, writeTapeJson } from '../../src/store/tape.ts';

/** JSON values with text of every kind: escapes, non-ASCII, astral and lone surrogates, long strings, odd keys. */
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.constantFrom('__proto__', '', '"', '\\', '\u2028', '\ud800', '\udfff x', 'é€😀', '\u007f', '\u0000'),
  fc.string({ unit: fc.constantFrom('a', '"', 'é', '\ud83d', '\n'), minLength: 16, maxLength: 64 }),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom(-0, 1e21, 5e-324, Number.MAX_SAFE_INTEGER + 2, 1795257539473),
    text,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(text, tie('value'), { maxKeys: 5 }),
  ),
})).value;
/** Values `canonicalJson` writes: JSON values, and objects with undefined properties (left out) and many keys. */
const canonicalValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    json,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(text, fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 6 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { minKeys: 30, maxKeys: 60 }),
  ),
})).value;

/** The bytes written for a value into a buffer of `size` bytes from `at`, or NO_ROOM. */
function written(value: unknown, size: number, at = 0): string | typeof NO_ROOM {
  const tape = recordTape(value);
  if (!tape) throw new Error('not recorded');
  const bytes = Buffer.alloc(size);
  const end = writeTapeJson(tape, bytes, at);
  return end === NO_ROOM ? NO_ROOM : bytes.toString('utf8', at, end);
}

describe('tape', () => {
  it('writes exactly the UTF-8 of JSON.stringify, for every JSON value', () => {
    fc.assert(
      fc.property(json, (value) => {
        const expected = JSON.stringify(value);
        const bytes = Buffer.from(expected);
        const tape = recordTape(value);
        expect(tape).toBeDefined();
        const into = Buffer.alloc(bytes.length + 8);
        const end = writeTapeJson(tape ?? [], into, 3);
        expect(end).toBe(3 + bytes.length);
        expect(into.subarray(3, end).equals(bytes)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('says NO_ROOM whenever the buffer is one byte short, and fits when it is not', () => {
    fc.assert(
      fc.property(json, fc.nat(4), (value, at) => {
        const length = Buffer.byteLength(JSON.stringify(value));
        expect(written(value, at + length - 1, at)).toBe(NO_ROOM);
        expect(written(value, at + length, at)).toBe(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  it('is a copy: changing the value after recording it does not change what is written', () => {
    const value = { list: [1, { a: 'x' }], s: 'keep' };
    const tape = recordTape(value);
    value.list.push(2);
    value.s = 'changed';
    const bytes = Buffer.alloc(64);
    const end = writeTapeJson(tape ?? [], bytes, 0);
    expect(bytes.toString('utf8', 0, end)).toBe('{"list":[1,{"a":"x"}],"s":"keep"}');
  });

  it.each([
    [
      'a cycle',
      () => {
        const self: Record<string, unknown> = {};
        self.self = self;
        return self;
      },
    ],
    ['a non-finite number', () => ({ n: Number.POSITIVE_INFINITY })],
    ['a symbol', () => ({ s: Symbol('s') })],
    ['undefined in an array', () => [undefined]],
    ['a class instance', () => ({ when: new Date(0) })],
  ])('refuses %s', (_name, make) => {
    expect(recordTape(make())).toBeUndefined();
  });
});

/** The bytes writeCanonicalJson writes for a value into a buffer of `size` bytes from `at`, or what it returned. */
function canonicalBytes(value: unknown, size: number, at = 0): string | number {
  const bytes = Buffer.alloc(size);
  const end = writeCanonicalJson(value, bytes, at);
  return end < 0 ? end : bytes.toString('utf8', at, end);
}

describe('canonical JSON bytes', () => {
  it('writes exactly the UTF-8 of canonicalJson, for every value it accepts', () => {
    fc.assert(
      fc.property(canonicalValue, fc.nat(4), (value, at) => {
        const expected = Buffer.from(canonicalJson(value));
        const into = Buffer.alloc(at + expected.length + 8);
        const end = writeCanonicalJson(value, into, at);
        expect(end).toBe(at + expected.length);
        expect(into.subarray(at, end).equals(expected)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('says NO_ROOM whenever the buffer is one byte short, and fits when it is not', () => {
    fc.assert(
      fc.property(canonicalValue, fc.nat(4), (value, at) => {
        const length = Buffer.byteLength(canonicalJson(value));
        expect(canonicalBytes(value, at + length - 1, at)).toBe(NO_ROOM);
        expect(canonicalBytes(value, at + length, at)).toBe(canonicalJson(value));
      }),
      { numRuns: 300 },
    );
  });

  it('sorts keys by code unit and leaves out undefined properties', () => {
    const value = { b: [1, { z: null, a: 'é' }], a: undefined, B: -0, '': { y: undefined } };
    expect(canonicalBytes(value, 64)).toBe('{"":{},"B":0,"b":[1,{"a":"é","z":null}]}');
  });

  it.each([
    [
      'a cycle',
      () => {
        const self: Record<string, unknown> = {};
        self.self = [self];
        return self;
      },
    ],
    ['a non-finite number', () => ({ n: Number.NaN })],
    ['a symbol', () => ({ s: Symbol('s') })],
    ['a function', () => [() => 1]],
    ['a bigint', () => ({ n: 1n })],
    ['undefined in an array', () => [1, undefined]],
    ['a class instance', () => ({ when: new Date(0) })],
  ])('refuses %s, as canonicalJson does', (_name, make) => {
    const value = make();
    expect(canonicalBytes(value, 256)).toBe(UNWRITABLE);
    expect(() => canonicalJson(value)).toThrow();
  });

  it('writes the same bytes when a getter in the value writes values of its own, on a tape and as canonical JSON', () => {
    const inner = { z: [1, 2], y: 'x' };
    const nested: string[] = [];
    const value = {
      b: {
        get deep() {
          const bytes = Buffer.alloc(64);
          nested.push(bytes.toString('utf8', 0, writeCanonicalJson(inner, bytes, 0)));
          const tape = recordTape(inner) ?? [];
          nested.push(bytes.toString('utf8', 0, writeTapeJson(tape, bytes, 0)));
          return [inner, 'after'];
        },
      },
      a: 'first',
    };
    expect(canonicalBytes(value, 128, 2)).toBe('{"a":"first","b":{"deep":[{"y":"x","z":[1,2]},"after"]}}');
    expect(nested).toEqual(['{"y":"x","z":[1,2]}', '{"z":[1,2],"y":"x"}']);
    const self: Record<string, unknown> = {};
    const cyclic = {
      get loop() {
        // A cycle inside the getter's own write is refused there; the outer value is still written.
        self.self = self;
        return writeCanonicalJson(self, Buffer.alloc(64), 0);
      },
    };
    expect(canonicalBytes(cyclic, 64)).toBe(`{"loop":${UNWRITABLE}}`);
  });

  it('writes an object that appears twice side by side, as canonicalJson does', () => {
    const shared = { k: 1 };
    expect(canonicalBytes({ a: shared, b: [shared, shared] }, 64)).toBe(
      canonicalJson({ a: shared, b: [shared, shared] }),
    );
  });
});

it.each([
  ['a tape', (value: unknown) => written(value, 64)],
  ['canonical JSON bytes', (value: unknown) => canonicalBytes(value, 64)],
])(
  '%s holds only own keys, also when Object.prototype has an enumerable property, even one added mid-walk',
  (_name, write) => {
    const proto = Object.prototype as Record<string, unknown>;
    try {
      proto.polluted = 'inherited';
      expect(write({ a: 1, b: { c: 2 } })).toBe('{"a":1,"b":{"c":2}}');
      delete proto.polluted;
      const sneaky = {
        get a() {
          proto.polluted = 'inherited';
          return 1;
        },
        b: { c: 2 },
      };
      expect(write(sneaky)).toBe('{"a":1,"b":{"c":2}}');
    } finally {
      delete proto.polluted;
    }
  },
);
