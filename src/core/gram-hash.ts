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
