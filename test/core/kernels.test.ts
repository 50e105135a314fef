import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { buildKernels } from '../../scripts/build-wasm.ts';
import {
  blockHashes,
  compact,
  compactBuffer,
  compactEncodedRange,
  compactInto,
  useKernels,
} from '../../src/core/compact.ts';
import { gramHash } from '../../src/core/gram-hash.ts';
import { KERNELS_WASM } from '../../src/core/kernels-wasm.ts';

// Characters of every kind the fold treats apart: kept, lower-cased, dropped, escaped, wide spacing, multi-byte.
const unit = fc.oneof(
  fc.constantFrom('a', 'Z', 'q', '7', '/', ':', '@', '~', '`', '{', '\x7f', ' ', '\t', '\n', '\x01'),
  fc.constantFrom('-', '(', ')', '.', ',', "'", '"', '_', '*', '+', '&', '!', '#', '=', '?', '[', '^'),
  fc.constantFrom('é', 'Ä', 'ß', '日', '😀', '\u00a0', '\u2003', '%', '%41'),
  fc.string({ unit: 'binary-ascii', maxLength: 1 }),
);
// Long enough for the encoder path (which the kernels serve), at every alignment.
const text = fc
  .tuple(fc.nat(40), fc.string({ unit, maxLength: 400 }))
  .map(([pad, s]) => `${'X'.repeat(pad)}${s}`.padEnd(300, 'y'));

function compacted(on: boolean, value: string): { bytes: number[]; hashes: number[] } {
  useKernels(on);
  const n = compactInto(value, false);
  const count = n >= 16 ? Math.floor(n / 16) : 0;
  return { bytes: [...compactBuffer().subarray(0, n)], hashes: [...blockHashes(count).subarray(0, count)] };
}

describe('WebAssembly kernels of the provenance core', () => {
  afterEach(() => {
    useKernels(true);
  });

  it('are built from kernels.wat: the committed module is what wabt makes of the source', async () => {
    const committed = Uint8Array.from(atob(KERNELS_WASM), (c) => c.charCodeAt(0));
    expect([...committed]).toEqual([...(await buildKernels())]);
  });

  it('load on this runtime, and can be turned off', () => {
    expect(useKernels(false)).toBe(false);
    expect(useKernels(true)).toBe(true);
  });

  it('property: fold a text exactly as the loop does, at every alignment and for every kind of character', () => {
    fc.assert(
      fc.property(text, (value) => {
        const plain = compacted(false, value);
        const kernel = compacted(true, value);
        expect(kernel.bytes).toEqual(plain.bytes);
        expect(kernel.hashes).toEqual(plain.hashes);
      }),
      { numRuns: 300 },
    );
  });

  it('property: hash each block as the rolling hash of a scan does', () => {
    fc.assert(
      fc.property(text, fc.boolean(), (value, on) => {
        useKernels(on);
        const n = compactInto(value, false);
        const bytes = Uint8Array.from(compactBuffer().subarray(0, n));
        const count = Math.floor(n / 16);
        const hashes = blockHashes(count);
        for (let k = 0; k < count; k++) expect(hashes[k]).toBe(gramHash(bytes, k * 16, 16));
      }),
      { numRuns: 100 },
    );
  });

  it('property: fold a range of an ASCII text as the text cut to that range folds', () => {
    const ascii = fc.string({
      unit: fc.oneof(
        fc.constantFrom('%41', '%2f', '%', 'Q', '-', ' '),
        fc.string({ unit: 'binary-ascii', maxLength: 1 }),
      ),
      minLength: 1,
      maxLength: 600,
    });
    fc.assert(
      fc.property(ascii, fc.nat(), fc.nat(), fc.boolean(), (value, a, b, on) => {
        useKernels(on);
        compactInto(value, false);
        const start = a % value.length;
        const end = start + (b % (value.length - start + 1));
        const n = compactEncodedRange(start, end);
        expect(String.fromCharCode(...compactBuffer().subarray(0, n))).toBe(compact(value.slice(start, end)));
      }),
      { numRuns: 500 },
    );
  });

  it('fold a text of several MB, past the memory they start with, as the loop does', () => {
    const big = 'Lorem IPSUM, dolor-sit (amet) "x_y" ü 日本 '.repeat(120_000);
    useKernels(false);
    const expected = compact(big);
    useKernels(true);
    expect(compact(big)).toBe(expected);
  });
});
