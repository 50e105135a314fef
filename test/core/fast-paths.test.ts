import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compact, compactInto, originalSlice } from '../../src/core/compact.ts';
import { gramHash, gramHash16Words } from '../../src/core/gram-hash.ts';

describe('fast paths of the provenance core', () => {
  it('hashes 16 bytes from four words in four chains exactly as the rolling hash does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.nat(12), (data, at) => {
        const bytes = new Uint8Array(64);
        bytes.set(data);
        const word = at % ((data.length >>> 2) - 3);
        expect(gramHash16Words(new Uint32Array(bytes.buffer), word)).toBe(gramHash(bytes, word * 4, 16));
      }),
    );
  });

  it('maps compact bytes of an ASCII text back to its characters exactly as the UTF-8 walk does', () => {
    // A trailing `é` (kept, two bytes) sends the same text down the walk over UTF-8 lengths.
    const text = fc.string({
      unit: fc.constantFrom('a', 'Z', '7', '%', '%41', '%2f', ' ', '-', '.', '/'),
      minLength: 1,
    });
    fc.assert(
      fc.property(text, fc.nat(), fc.nat(), (value, a, b) => {
        const n = compactInto(value, false);
        fc.pre(n > 0);
        const from = a % n;
        const to = from + 1 + (b % (n - from));
        expect(originalSlice(value, from, to)).toBe(originalSlice(`${value}é`, from, to));
      }),
    );
  });

  it('compacts a short text by hand exactly as the encoder path compacts it', () => {
    // The padding (spacing, which compacts to nothing) pushes the same text onto the native encoder path.
    const text = fc.string({
      unit: fc.constantFrom('a', 'Z', '7', '%', '%41', '%2f', ' ', '-', '.', 'é', '\u00a0', '/'),
    });
    fc.assert(
      fc.property(text, (value) => {
        expect(compact(value)).toBe(compact(value + ' '.repeat(300)));
      }),
    );
  });
});
