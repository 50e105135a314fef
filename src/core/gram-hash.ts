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

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The weight of each byte of a 16-byte gram read as four 32-bit words: word j, bits 8s to 8s + 7, is byte 4j + s in
 * memory on a little-endian machine (4j + 3 − s on a big-endian one), and weighs BASE^(15 − that byte's index).
 */
const WEIGHTS = Int32Array.from({ length: 16 }, (_, k) => {
  const lane = k & 3;
  const byte = (k & ~3) + (LITTLE_ENDIAN ? lane : 3 - lane);
  return power(15 - byte);
});

/** Word `w`'s share of a gram hash: its four bytes, from the low one up, times the weights from `at`. */
function wordShare(w: number, weights: Int32Array, at: number): number {
  const low = Math.imul(w & 255, weights[at] as number) + Math.imul((w >>> 8) & 255, weights[at + 1] as number);
  const high = Math.imul((w >>> 16) & 255, weights[at + 2] as number) + Math.imul(w >>> 24, weights[at + 3] as number);
  return (low + high) | 0;
}

/**
 * {@link gramHash} of the 16 bytes from word `at` of a byte buffer read as 32-bit words (bytes 4·at to 4·at + 15),
 * with four loads instead of sixteen, and as a sum of sixteen independent products instead of a chain of sixteen
 * multiplies (the same value mod 2^32), which the processor runs side by side. Indexing hashes aligned blocks with it
 * where the runtime lacks the WebAssembly kernel (see compact.ts).
 */
export function gramHash16Words(words: Uint32Array, at: number): number {
  const w = WEIGHTS;
  const high = wordShare(words[at] as number, w, 0) + wordShare(words[at + 1] as number, w, 4);
  return (high + wordShare(words[at + 2] as number, w, 8) + wordShare(words[at + 3] as number, w, 12)) | 0;
}
