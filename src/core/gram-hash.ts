/**
 * The polynomial hash of byte grams that indexing and scanning share: computed directly over a gram, or rolling
 * along a text (add the byte that enters, remove the one that leaves), with the same result.
 */

/** The multiplier (the FNV prime; any odd number would do). */
export const BASE = 0x01000193;

/** BASE to the power `exponent`, mod 2^32: what a byte leaving a rolling window of that length weighs. */
export function power(exponent: number): number {
  let p = 1;
  for (let i = 0; i < exponent; i++) p = Math.imul(p, BASE);
  return p;
}

/** Hash of `length` bytes at `start`, as the rolling hash of a scan computes it. */
export function gramHash(bytes: Uint8Array, start: number, length: number): number {
  let h = 0;
  for (let i = start; i < start + length; i++) h = (Math.imul(h, BASE) + (bytes[i] as number)) | 0;
  return h;
}

const POW4 = power(4);
const POW8 = power(8);
const POW12 = power(12);

/** The first four bytes at `start`, hashed. */
function quad(bytes: Uint8Array, start: number): number {
  const h = Math.imul(Math.imul(bytes[start] as number, BASE) + (bytes[start + 1] as number), BASE);
  return (Math.imul(h + (bytes[start + 2] as number), BASE) + (bytes[start + 3] as number)) | 0;
}

/**
 * {@link gramHash} of the 16 bytes at `start`, as four independent chains of multiplies that the processor runs side
 * by side instead of one chain of sixteen (the sum is the same mod 2^32).
 */
export function gramHash16(bytes: Uint8Array, start: number): number {
  const high = Math.imul(quad(bytes, start), POW12) + Math.imul(quad(bytes, start + 4), POW8);
  return (high + Math.imul(quad(bytes, start + 8), POW4) + quad(bytes, start + 12)) | 0;
}
