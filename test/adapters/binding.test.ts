import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bindCall, isBoundTo, sameJson } from '../../src/adapters/binding.ts';
import { canonicalJson } from '../../src/core/canonical.ts';
import { copyPlain, NOT_PLAIN } from '../../src/guard/copy.ts';

// The binding of a held verdict must agree with the rule it replaced: a call is the call decided when its tool and
// the canonical JSON of its arguments are equal, and arguments canonical JSON cannot write match nothing.

/** The reference: canonical JSON of both, equal, and both writable. */
function sameCanonical(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}

/** An object with these entries in this order, an own `__proto__` key kept as a property; `null` prototype if asked. */
function objectOf(entries: [string, unknown][], bare = false): Record<string, unknown> {
  const out: Record<string, unknown> = bare ? Object.create(null) : {};
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const KEYS = ['a', 'b', 'c', '', '__proto__', 'constructor'];

/** Values near JSON and at its edges: -0, NaN, infinities, undefined, bigints, dates, holes, null-prototype objects. */
const { value } = fc.letrec<{ value: unknown; leaf: unknown; array: unknown[]; object: Record<string, unknown> }>(
  (tie) => ({
    leaf: fc.oneof(
      fc.constantFrom(0, -0, 1, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, true, false, null, undefined, 1n, ''),
      fc.string({ maxLength: 3 }),
      fc.constant(new Date(0)),
    ),
    array: fc.oneof(fc.array(tie('value'), { maxLength: 4 }), fc.sparseArray(tie('value'), { maxLength: 4 })),
    object: fc.tuple(fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 4 }), fc.boolean()).chain(([keys, bare]) =>
      fc.tuple(...keys.map(() => tie('value'))).map((values) =>
        objectOf(
          keys.map((key, i) => [key, values[i]]),
          bare,
        ),
      ),
    ),
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
  }),
);

type Gen = fc.GeneratorValue;

/**
 * A value built from `v`: mostly equal to it as canonical JSON (keys reordered, `0` for `-0`, an undefined-valued key
 * added, the prototype swapped), sometimes changed in one place (a key added or removed, a hole, an element, a leaf).
 */
function variant(v: unknown, g: Gen): unknown {
  const roll = g(fc.integer, { min: 0, max: 24 });
  if (roll === 0) return g(() => value);
  if (typeof v === 'number' && Object.is(Math.abs(v), 0)) return roll % 2 ? 0 : -0;
  if (typeof v !== 'object' || v === null || v instanceof Date) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    out.length = v.length;
    for (let i = 0; i < v.length; i++) if (i in v) out[i] = variant(v[i], g);
    if (roll === 1) out.push(g(() => value));
    if (roll === 2) out.pop();
    if (roll === 3 && out.length > 0) delete out[g(fc.integer, { min: 0, max: out.length - 1 })];
    if (roll === 4 && out.length > 0) out[g(fc.integer, { min: 0, max: out.length - 1 })] = undefined;
    return out;
  }
  const keys = g(fc.shuffledSubarray, Object.keys(v), { minLength: Object.keys(v).length });
  const entries: [string, unknown][] = keys.map((key) => [key, variant((v as Record<string, unknown>)[key], g)]);
  const fresh = KEYS.find((key) => !keys.includes(key));
  if (roll === 1 && fresh !== undefined) entries.push([fresh, undefined]);
  if (roll === 2 && fresh !== undefined) entries.push([fresh, g(() => value)]);
  if (roll === 3) entries.pop();
  return objectOf(entries, roll === 4 ? Object.getPrototypeOf(v) !== null : Object.getPrototypeOf(v) === null);
}

describe('sameJson', () => {
  it('agrees with canonical JSON equality on values and their variants', () => {
    let equal = 0;
    fc.assert(
      fc.property(value, fc.gen(), (a, g) => {
        const b = variant(a, g);
        const copy = copyPlain(a);
        fc.pre(copy !== NOT_PLAIN);
        const expected = sameCanonical(a, b);
        if (expected) equal++;
        expect(sameJson(copy, b)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    // The variants are equal often enough that agreement on "equal" is tested, not only on "different".
    expect(equal).toBeGreaterThan(500);
  });

  it('agrees with canonical JSON equality on unrelated values', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const copy = copyPlain(a);
        fc.pre(copy !== NOT_PLAIN);
        expect(sameJson(copy, b)).toBe(sameCanonical(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with canonical JSON equality on JSON values that differ in key order', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.gen(), (a, g) => {
        const b = variant(a, g);
        expect(sameJson(copyPlain(a), b)).toBe(sameCanonical(a, b));
      }),
      { numRuns: 1000 },
    );
  });

  it('treats the edges as canonical JSON writes them', () => {
    expect(sameJson(copyPlain({ n: 0 }), { n: -0 })).toBe(true);
    expect(sameJson(copyPlain({ a: 1, b: undefined }), { a: 1 })).toBe(true);
    expect(sameJson(copyPlain({ a: 1 }), { b: undefined, a: 1 })).toBe(true);
    expect(sameJson(copyPlain({ a: 1 }), { a: 1, b: null })).toBe(false);
    expect(sameJson(copyPlain({ n: Number.NaN }), { n: Number.NaN })).toBe(false);
    expect(sameJson(copyPlain([undefined]), [undefined])).toBe(false);
    // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested.
    expect(sameJson(copyPlain([1]), [, 1].slice(1))).toBe(true);
    // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested.
    expect(sameJson(copyPlain([null]), [,])).toBe(false);
    expect(sameJson(copyPlain({ a: [1] }), { a: { 0: 1 } })).toBe(false);
    expect(sameJson(copyPlain({ n: 1n }), { n: 1n })).toBe(false);
    // An own `__proto__` key is a key like any other, not the copy's prototype read through it.
    expect(sameJson(copyPlain({ a: 1 }), JSON.parse('{"__proto__": {}}'))).toBe(false);
    expect(sameJson(copyPlain(JSON.parse('{"__proto__": {}}')), JSON.parse('{"__proto__": {}}'))).toBe(true);
  });

  it('ends on a cycle in the value, as canonical JSON refuses it', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const copy = copyPlain({ a: 1, self: { a: 1, self: { a: 1, self: {} } } });
    expect(sameJson(copy, cyclic)).toBe(false);
  });
});

describe('a held call binding', () => {
  const call = (args: unknown, tool = 'send_email') => ({ id: 'c1', tool, args });

  it('agrees with the canonical key of tool and arguments it replaced', () => {
    fc.assert(
      fc.property(value, fc.gen(), fc.constantFrom('send_email', 'read_inbox'), (a, g, tool) => {
        const b = variant(a, g);
        const expected = sameCanonical(['send_email', a ?? null], [tool, b ?? null]);
        expect(isBoundTo(bindCall(call(a)), call(b, tool))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('is not moved by changes to the caller arguments after it was made', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 2 }), fc.gen(), (a, leaf, g) => {
        const args = { payload: a };
        const before = canonicalJson(args);
        const binding = bindCall(call(args));
        // Change the arguments in place somewhere along a random path.
        let at: Record<string, unknown> | unknown[] = args;
        for (;;) {
          const keys = Object.keys(at);
          const key = keys.length === 0 ? 'x' : g(fc.constantFrom, ...keys, 'x');
          const next = (at as Record<string, unknown>)[key];
          if (typeof next === 'object' && next !== null && g(fc.boolean)) at = next as Record<string, unknown>;
          else {
            (at as Record<string, unknown>)[key] = leaf;
            break;
          }
        }
        expect(isBoundTo(binding, call(args))).toBe(canonicalJson(args) === before);
      }),
      { numRuns: 1000 },
    );
  });

  it('binds arguments deeper than the plain copy goes by their canonical JSON', () => {
    const deep = (leaf: string) => {
      let v: unknown = leaf;
      for (let i = 0; i < 100; i++) v = { v };
      return v;
    };
    const binding = bindCall(call(deep('alice@example.com')));
    expect(binding.key).toBeDefined();
    expect(isBoundTo(binding, call(deep('alice@example.com')))).toBe(true);
    expect(isBoundTo(binding, call(deep('attacker@evil.test')))).toBe(false);
  });

  it('matches nothing when the arguments are not JSON, or reading them throws', () => {
    const date = { at: new Date(0) };
    expect(isBoundTo(bindCall(call(date)), call(date))).toBe(false);
    const throwing = {
      get to(): string {
        throw new Error('no');
      },
    };
    expect(isBoundTo(bindCall(call(throwing)), call(throwing))).toBe(false);
    const args = { to: 'alice@example.com' };
    const binding = bindCall(call(args));
    expect(isBoundTo(binding, call(throwing))).toBe(false);
    const revoked = Proxy.revocable({ to: 'alice@example.com' }, {});
    revoked.revoke();
    expect(isBoundTo(binding, call(revoked.proxy))).toBe(false);
    expect(isBoundTo(binding, call(args))).toBe(true);
  });

  it('takes missing arguments as null, as the approval hash does', () => {
    expect(isBoundTo(bindCall(call(undefined)), call(null))).toBe(true);
    expect(isBoundTo(bindCall(call(undefined)), call({}))).toBe(false);
  });
});
