/**
 * The compact form that both sides of every provenance comparison go through, so formatting cannot hide a value:
 * the text's UTF-8 bytes with ASCII `%XX` escapes decoded, ASCII lower-cased, and spacing and the separators
 * `-().,'"_*+` (non-ASCII spacing too) removed. Written into a shared byte buffer: the text is encoded natively and
 * the bytes are folded 16 at a time by a WebAssembly kernel (kernels.wat), or in one branch-free loop where the
 * runtime has no WebAssembly SIMD, with no string built unless the caller asks for one.
 */

import { gramHash16Words } from './gram-hash.ts';
import { KERNELS_WASM } from './kernels-wasm.ts';

const SEPARATOR = 0;
const FOLD = new Uint8Array(256).map((_, c) => {
  if (c >= 128) return c;
  if (c <= 32 || '-().,\'"_*+'.includes(String.fromCharCode(c))) return SEPARATOR;
  return c >= 65 && c <= 90 ? c + 32 : c;
});
const UTF8 = new TextEncoder();
/**
 * Whether a text may hold what compaction drops beyond ASCII: non-ASCII spacing (what JavaScript's `\\s` matches)
 * and invisible characters an agent can put between the characters of a value without changing how it reads (the
 * zero-width characters and direction marks, the soft hyphen, the combining grapheme joiner, the Mongolian vowel
 * separator, bidirectional embeddings and isolates, the word joiner and invisible operators, variation selectors and
 * tag characters). One class (an alternation took half as long again on non-ASCII text): `\\udb40` leads every
 * character of plane 14, and the careful loop ({@link wideSpace}) decides which bytes to drop.
 */
const WIDE_SPACE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: code units are meant, the joiners are matched alone
  /[\u00a0\u00ad\u034f\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u2069\u3000\ufe00-\ufe0f\ufeff\udb40]/;

// The part of the WebAssembly API used here: the core is compiled without the DOM's types, which declare it.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

/** A WebAssembly memory: a buffer that grows by pages of 64 KiB (and is replaced when it does). */
interface Memory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The byte loops of kernels.wat, with the memory they work in. */
interface Kernels {
  memory: Memory;
  fold(input: number, length: number, out: number): number;
  hash16(input: number, count: number, out: number): void;
}

/** Bytes of the left-packing table at the start of the kernels' memory: 256 entries of 16. */
const PACKING = 4096;

function loadKernels(): Kernels | undefined {
  try {
    const bytes = Uint8Array.from(atob(KERNELS_WASM), (c) => c.charCodeAt(0));
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const memory = exports.memory as Memory;
    const packing = new Uint8Array(memory.buffer, 0, PACKING);
    for (let m = 0; m < 256; m++) {
      let k = m * 16;
      for (let bit = 0; bit < 8; bit++) if (m & (1 << bit)) packing[k++] = bit;
      packing.fill(0x80, k, m * 16 + 16);
    }
    return {
      memory,
      fold: exports.fold as Kernels['fold'],
      hash16: exports.hash16 as Kernels['hash16'],
    };
  } catch {
    // No WebAssembly, none with SIMD, or code generation forbidden: the loops here do the same work.
    return undefined;
  }
}

// INVARIANT: the kernels compact and hash exactly as the loops do, so an index is the same whichever ran
// (test/core/kernels.test.ts "fold a text exactly as the loop does").
const loaded = loadKernels();
let kernels = loaded;

let encoded = new Uint8Array(0);
/** `encoded` as 32-bit words, which the fold reads four bytes at a time. */
let encodedWords = new Uint32Array(0);
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
// Where bytes 0 to 3 of a 32-bit word sit, as shifts: the platform's byte order, so one loop serves both.
const SHIFT0 = LITTLE_ENDIAN ? 0 : 24;
const SHIFT1 = LITTLE_ENDIAN ? 8 : 16;
const SHIFT2 = LITTLE_ENDIAN ? 16 : 8;
const SHIFT3 = LITTLE_ENDIAN ? 24 : 0;
let buffer = new Uint8Array(0);
/** `buffer` as 32-bit words, which block hashing reads four bytes at a time. */
let bufferWords = new Uint32Array(0);
/** The hashes of the blocks of the buffer, see {@link blockHashes}. */
let hashes = new Int32Array(0);
// Where the encoded bytes, the buffer and the hashes start in the kernels' memory (16-byte aligned, with 16 bytes
// after the buffer, which the fold may write past the end of its output).
let encodedAt = 0;
let bufferAt = 0;
let hashesAt = 0;
let origin = new Int32Array(4096);
/** The text whose byte offsets `origin` holds, if any. */
let tracked: string | undefined;
/** Whether that text is ASCII (one byte per character). */
let trackedAscii = false;
/** Whether the text last given to {@link compactInto} may have escapes (a `%`). */
let escaped = false;

allocate(4096);

/** Allocates the encoded bytes, the buffer and the hashes for texts of up to `size` bytes (a multiple of 16). */
function allocate(size: number): void {
  if (kernels) {
    encodedAt = PACKING;
    bufferAt = encodedAt + size;
    hashesAt = bufferAt + size + 16;
    const end = hashesAt + size / 4 + 16;
    const memory = kernels.memory;
    // Past 4 GiB (a text of about 600 MB) growing throws, before any view changes: indexing that text fails, and the
    // guard counts it as lost, as for any output it could not index.
    if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
    encoded = new Uint8Array(memory.buffer, encodedAt, size);
    buffer = new Uint8Array(memory.buffer, bufferAt, size);
    hashes = new Int32Array(memory.buffer, hashesAt, size / 16);
  } else {
    encoded = new Uint8Array(size);
    buffer = new Uint8Array(size);
    hashes = new Int32Array(size / 16);
  }
  encodedWords = new Uint32Array(encoded.buffer, encoded.byteOffset, size / 4);
  bufferWords = new Uint32Array(buffer.buffer, buffer.byteOffset, size / 4);
}

/** For tests: whether compaction uses the WebAssembly kernels; returns whether it now does (the runtime may lack them). */
export function useKernels(on: boolean): boolean {
  kernels = on ? loaded : undefined;
  allocate(encoded.length);
  return kernels !== undefined;
}

/** The shared buffer holding the last compact form (valid up to the length {@link compactInto} returned). */
export function compactBuffer(): Uint8Array {
  return buffer;
}

/**
 * Writes the compact form of `text` into the shared buffer; returns its length in bytes. With `track`, the byte
 * offsets it came from are kept for {@link originalSlice}.
 */
export function compactInto(text: string, track: boolean): number {
  if (text.length <= SHORT_TEXT && isAscii(text)) {
    // A value or a short argument: its UTF-8 bytes are its character codes, copied without a call to the encoder.
    tracked = track ? text : undefined;
    trackedAscii = true;
    escaped = text.indexOf('%') >= 0;
    if (track || escaped) return compactEscaped(0, text.length, track);
    return fold(encodedWords, encoded, buffer, text.length);
  }
  const most = text.length * 3;
  reserve(most);
  if (track && origin.length < most) origin = new Int32Array(Math.max(most, origin.length * 2));
  const length = UTF8.encodeInto(text, encoded).written;
  tracked = track ? text : undefined;
  trackedAscii = length === text.length;
  // More bytes than UTF-16 units: the text has non-ASCII characters, which may be spacing.
  escaped = text.indexOf('%') >= 0;
  if (escaped || (length > text.length && WIDE_SPACE.test(text))) return compactEscaped(0, length, track);
  if (track) return foldTracked(encoded, buffer, origin, length);
  if (!kernels) return fold(encodedWords, encoded, buffer, length);
  return kernels.fold(encodedAt, length, bufferAt);
}

/** Room for `most` bytes in the encoded and compact buffers. */
function reserve(most: number): void {
  if (encoded.length >= most) return;
  // A whole number of 16-byte blocks, for the views and the kernels.
  allocate((Math.max(most, encoded.length * 2) + 15) & ~15);
}

/**
 * The hashes (`gramHash`) of the first `count` consecutive 16-byte blocks of the buffer, in a shared array that the
 * next compaction may overwrite.
 */
export function blockHashes(count: number): Int32Array {
  if (kernels) {
    kernels.hash16(bufferAt, count, hashesAt);
    return hashes;
  }
  const out = hashes;
  const words = bufferWords;
  for (let k = 0; k < count; k++) out[k] = gramHash16Words(words, k * 4);
  return out;
}

/**
 * {@link compactInto} (untracked) of the text that the first `length` of `bytes` decode to as UTF-8, each invalid
 * sequence replaced by U+FFFD as `TextDecoder` does, without building that text: the decoded runs a scan looks at
 * are mostly such garbage, and a string per run cost more than scanning it. Returns 0 (and compacts nothing) when no
 * stretch of valid UTF-8 between invalid sequences is `minValid` bytes long: the wrong alignments of a base64 run
 * decode to such garbage, while what was encoded decodes to valid UTF-8, and compacts to no more bytes than it has.
 */
export function compactUtf8Into(bytes: Uint8Array, length: number, minValid = 0): number {
  reserve(length * 3);
  tracked = undefined;
  const written = wellFormed(bytes, length, encoded);
  return longestValid < minValid ? 0 : compactEscaped(0, written, false);
}

/** The longest stretch of valid UTF-8 between invalid sequences, in bytes, that the last {@link wellFormed} copied. */
let longestValid = 0;

/**
 * Copies UTF-8 into `out`, replacing each maximal invalid subpart by U+FFFD (EF BF BD), the WHATWG decoder's rule
 * that `TextDecoder` follows; returns the bytes written. A leading byte order mark is kept: compaction drops it anyway.
 */
function wellFormed(input: Uint8Array, length: number, out: Uint8Array): number {
  let n = 0;
  let i = 0;
  let longest = 0;
  let stretch = 0;
  while (i < length) {
    const b = input[i] as number;
    if (b < 0x80) {
      out[n++] = b;
      i++;
      stretch++;
      continue;
    }
    let need = 0;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lower = 0xa0;
      else if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lower = 0x90;
      else if (b === 0xf4) upper = 0x8f;
    }
    let j = i + 1;
    let seen = 0;
    while (seen < need && j < length) {
      const c = input[j] as number;
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xbf;
      seen++;
      j++;
    }
    if (need > 0 && seen === need) {
      for (let k = i; k < j; k++) out[n++] = input[k] as number;
      stretch += j - i;
    } else {
      // The lead byte and the continuation bytes that fit it are one error; the byte that broke it starts anew.
      out[n++] = 0xef;
      out[n++] = 0xbf;
      out[n++] = 0xbd;
      if (stretch > longest) longest = stretch;
      stretch = 0;
    }
    i = j;
  }
  longestValid = stretch > longest ? stretch : longest;
  return n;
}

/** {@link compactInto} of `text` from `start` to `end` (untracked), without slicing a short range out of it. */
export function compactRangeInto(text: string, start: number, end: number): number {
  if (end - start > SHORT) return compactInto(text.slice(start, end), false);
  tracked = undefined;
  const n = foldRange(text, start, end);
  if (n >= 0) return n;
  if (isAsciiRange(text, start, end)) return compactEscaped(0, end - start, false);
  return compactInto(text.slice(start, end), false);
}

/**
 * The compact form of a range of ASCII without `%` (most values), folded straight from the character codes into the
 * buffer (which holds at least SHORT bytes); -1 when the range has other characters, for the careful loop.
 */
function foldRange(text: string, start: number, end: number): number {
  const table = FOLD;
  const out = buffer;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || c === 37) return -1;
    const f = table[c] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
  }
  return n;
}

/** Whether the text last given to {@link compactInto} is ASCII, so that {@link compactEncodedRange} may read it. */
export function compactedAscii(): boolean {
  return trackedAscii;
}

/**
 * {@link compactRangeInto} of the ASCII text last given to {@link compactInto} (see {@link compactedAscii}), from the
 * bytes that call encoded, whose offsets are its character offsets: no character is read from the string again
 * (reading them cost more than folding them). Leaves those bytes intact, so a text's values are compacted in turn.
 */
export function compactEncodedRange(start: number, end: number): number {
  tracked = undefined;
  // The kernel folds a value in one call, where the loop below takes a few nanoseconds a byte; it does not decode
  // escapes, which a text without `%` has none of.
  if (kernels && !escaped) return kernels.fold(encodedAt + start, end - start, bufferAt);
  const table = FOLD;
  const bytes = encoded;
  const out = buffer;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c === 37) return compactEscaped(start, end, false);
    const f = table[c] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
  }
  return n;
}

/** {@link isAscii} of a range of `text`. */
function isAsciiRange(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) return false;
    encoded[i - start] = c;
  }
  return true;
}

/** Longest range copied by hand rather than sliced and encoded natively: below it, the slice costs more. */
const SHORT = 256;
/**
 * Longest text copied by hand rather than encoded natively: below it, the call to the encoder costs more; above it,
 * the copy (about 2 ns a character) does.
 */
const SHORT_TEXT = 64;

/** Whether `text` is ASCII; copies its codes into `encoded` on the way (it holds at least SHORT bytes). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) return false;
    encoded[i] = c;
  }
  return true;
}

// The loops live in functions of their own, so the compiler optimizes them whole rather than only on stack
// replacement in the middle of a long text. Every byte is written and the count advances past the kept ones,
// without a branch per byte. The plain fold reads a word per four bytes: fewer loads and bounds checks, a fifth less
// time on 1 MB.
function fold(words: Uint32Array, bytes: Uint8Array, out: Uint8Array, length: number): number {
  const table = FOLD;
  let n = 0;
  const whole = length >>> 2;
  for (let j = 0; j < whole; j++) {
    const w = words[j] as number;
    let f = table[(w >>> SHIFT0) & 255] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
    f = table[(w >>> SHIFT1) & 255] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
    f = table[(w >>> SHIFT2) & 255] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
    f = table[(w >>> SHIFT3) & 255] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
  }
  for (let i = whole * 4; i < length; i++) {
    const f = table[bytes[i] as number] as number;
    out[n] = f;
    n += (f + 0xff) >>> 8;
  }
  return n;
}

function foldTracked(bytes: Uint8Array, out: Uint8Array, where: Int32Array, length: number): number {
  const table = FOLD;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const f = table[bytes[i] as number] as number;
    out[n] = f;
    where[n] = i;
    n += (f + 0xff) >>> 8;
  }
  return n;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Bytes of non-ASCII spacing or an invisible character ({@link WIDE_SPACE}) at `i` of the encoded text, 0 if none. */
function wideSpace(bytes: Uint8Array, i: number): number {
  // INVARIANT: drops exactly what WIDE_SPACE matches (test/core/adversarial.test.ts "invisible characters").
  const b = bytes[i] as number;
  const b1 = bytes[i + 1] as number;
  if (b === 0xc2) return b1 === 0xa0 || b1 === 0xad ? 2 : 0;
  if (b === 0xcd) return b1 === 0x8f ? 2 : 0;
  const b2 = bytes[i + 2] as number;
  if (b === 0xe2) {
    if (b1 === 0x80) return b2 <= 0x8f || (b2 >= 0xa8 && b2 <= 0xaf) ? 3 : 0;
    return b1 === 0x81 && b2 >= 0x9f && b2 <= 0xa9 && b2 !== 0xa5 ? 3 : 0;
  }
  if (b === 0xe1) return (b1 === 0xa0 && b2 === 0x8e) || (b1 === 0x9a && b2 === 0x80) ? 3 : 0;
  if (b === 0xe3) return b1 === 0x80 && b2 === 0x80 ? 3 : 0;
  if (b === 0xef) return (b1 === 0xbb && b2 === 0xbf) || (b1 === 0xb8 && b2 >= 0x80 && b2 <= 0x8f) ? 3 : 0;
  if (b === 0xf3 && b1 === 0xa0) {
    const b3 = bytes[i + 3] as number;
    if (b3 < 0x80 || b3 > 0xbf) return 0;
    return b2 === 0x80 || b2 === 0x81 || (b2 >= 0x84 && b2 <= 0x86) || (b2 === 0x87 && b3 <= 0xaf) ? 4 : 0;
  }
  return 0;
}

/**
 * The careful loop, for text with `%` or non-ASCII spacing, over the encoded bytes from `start` to `end`: escapes are
 * decoded and wide spacing dropped.
 */
function compactEscaped(start: number, end: number, track: boolean): number {
  const bytes = encoded;
  let n = 0;
  for (let i = start; i < end; i++) {
    const at = i;
    let b = bytes[i] as number;
    if (b >= 128) {
      const skip = wideSpace(bytes, i);
      if (skip > 0) {
        i += skip - 1;
        continue;
      }
    } else if (b === 37 && i + 2 < end) {
      const high = hexDigit(bytes[i + 1] as number);
      const low = hexDigit(bytes[i + 2] as number);
      if (high >= 0 && high < 8 && low >= 0) {
        b = high * 16 + low;
        i += 2;
      }
    }
    b = FOLD[b] as number;
    if (b === SEPARATOR) continue;
    if (track) origin[n] = at;
    buffer[n++] = b;
  }
  return n;
}

/**
 * The part of `text` that compact bytes `from` to `to` (exclusive) came from, where `text` is what the buffer holds
 * the compact form of. The offsets are tracked on demand (compacting the same text again writes the same bytes), so
 * scans, which rarely find anything, do not pay for them.
 */
export function originalSlice(text: string, from: number, to: number): string {
  if (tracked !== text) compactInto(text, true);
  const first = origin[from] as number;
  const last = origin[to - 1] as number;
  // A decoded `%XX` spans three bytes of the original; a literal `%` stays `%` in the compact form.
  const end = encoded[last] === 37 && buffer[to - 1] !== 37 ? last + 3 : last + 1;
  // An ASCII text's byte offsets are its character offsets.
  if (trackedAscii) return text.slice(first, end);
  // Byte offsets to character offsets: walk the text, counting the UTF-8 length of each character.
  let bytes = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    if (start < 0 && bytes + utf8Length(text, i) > first) start = i;
    bytes += utf8Length(text, i);
    if (bytes >= end) return text.slice(start, i + 1 + (isHighSurrogate(text.charCodeAt(i)) ? 1 : 0));
    if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) i++;
  }
  return text.slice(Math.max(0, start));
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** UTF-8 length of the character at `i` (a surrogate pair counts once, at its high half; a lone surrogate is 3). */
function utf8Length(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  return isHighSurrogate(c) && isLowSurrogate(text.charCodeAt(i + 1)) ? 4 : 3;
}

/** The first `n` compact bytes as a string, one character per byte (what values are keyed and compared by). */
export function bufferString(n: number): string {
  return codesToString(buffer, n);
}

/** A string of the first `n` character codes of an array, built natively in chunks the engine accepts. */
export function codesToString(codes: Uint8Array | Uint16Array, n: number): string {
  let out = '';
  for (let from = 0; from < n; from += 8192) {
    out += String.fromCharCode.apply(null, codes.subarray(from, Math.min(n, from + 8192)) as unknown as number[]);
  }
  return out;
}

/** Compact form of a text, as a string of one character per byte. */
export function compact(text: string): string {
  return bufferString(compactInto(text, false));
}
