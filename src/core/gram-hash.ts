/**
 * The polynomial hash of byte grams that indexing and scanning share: computed directly over a gram, or rolling
 * along a text (add the byte that enters, remove the one that leaves), with the same result.
 */

import { SHIFT0, SHIFT1, SHIFT2, SHIFT3 } from './compact.ts';

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

/** The four bytes of a word, in memory order, hashed as a gram of four. */
function quadOf(word: number): number {
  const h = Math.imul(Math.imul((word >>> SHIFT0) & 255, BASE) + ((word >>> SHIFT1) & 255), BASE);
  return (Math.imul(h + ((word >>> SHIFT2) & 255), BASE) + ((word >>> SHIFT3) & 255)) | 0;
}

/**
 * {@link gramHash} of the 16 bytes from word `at` of a byte buffer read as 32-bit words (bytes 4·at to 4·at + 15),
 * with four loads instead of sixteen, and as four independent chains of multiplies that the processor runs side by
 * side instead of one chain of sixteen (the sum is the same mod 2^32): indexing hashes aligned blocks with it.
 */
export function gramHash16Words(words: Uint32Array, at: number): number {
  const high = Math.imul(quadOf(words[at] as number), POW12) + Math.imul(quadOf(words[at + 1] as number), POW8);
  return (high + Math.imul(quadOf(words[at + 2] as number), POW4) + quadOf(words[at + 3] as number)) | 0;
}
