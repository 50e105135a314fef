/**
 * Encoded runs inside an argument, decoded so a provenance scan sees what they carry: base64 (standard and URL-safe,
 * at every alignment, so a payload after other characters of the alphabet is still decoded from its own start) and
 * hex, after `%XX` escapes are undone. One layer only: what is encoded twice, encrypted, compressed or paraphrased is
 * not decoded (docs/provenance.md says what this does not catch).
 */

/**
 * How an argument carried a value when not verbatim. `tags`: written in Unicode tag characters (U+E0020 to U+E007E
 * mirror printable ASCII and do not show), the "ASCII smuggling" of text a reader cannot see.
 */
export type Encoding = 'base64' | 'hex' | 'tags';

/** Shortest base64 run decoded: 12 characters carry 9 bytes, more than the shortest value. */
export const MIN_BASE64_RUN = 12;
/** Shortest hex run decoded: 16 digits carry 8 bytes, the shortest value. */
export const MIN_HEX_RUN = 16;

// Base64 digit values of both alphabets (`+/` and `-_`), -1 elsewhere; bit flags of what a run holds.
const VALUE = new Int8Array(256).fill(-1);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
VALUE[43] = 62; // +
VALUE[45] = 62; // -
VALUE[47] = 63; // /
VALUE[95] = 63; // _
const NOT_HEX = 1;
const UPPER = 2;
const LOWER = 4;
const DIGIT = 8;
const KIND = new Uint8Array(256).map((_, c) => {
  if (c >= 48 && c <= 57) return DIGIT;
  if (c >= 65 && c <= 90) return UPPER | (c > 70 ? NOT_HEX : 0);
  if (c >= 97 && c <= 122) return LOWER | (c > 102 ? NOT_HEX : 0);
  return NOT_HEX;
});

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** `%XX` escapes of ASCII undone, so a base64 run with `%2B`, `%2F` or `%3D` in it stays one run. */
function percentDecoded(text: string): string {
  if (!text.includes('%')) return text;
  let out = '';
  let from = 0;
  for (let i = text.indexOf('%'); i >= 0 && i + 2 < text.length; i = text.indexOf('%', i + 1)) {
    const high = hexValue(text.charCodeAt(i + 1));
    const low = hexValue(text.charCodeAt(i + 2));
    if (high < 0 || high > 7 || low < 0) continue;
    out += text.slice(from, i) + String.fromCharCode(high * 16 + low);
    from = i + 3;
    i += 2;
  }
  return out + text.slice(from);
}

const ENCODER = new TextEncoder();
let bytes = new Uint8Array(4096);

/** What {@link eachDecodedRun} calls with each decoded run. */
export type EachRun = (encoding: Encoding, decoded: Uint8Array, length: number) => void;

/**
 * Calls `each` with the encoding and the decoded bytes (the first `length` of a buffer that is only valid during the
 * call) of each base64 and hex run of an argument, so a scan need not build a string of garbage for every alignment.
 * Cheap when there is none: one loop over the argument's UTF-8 bytes, where a non-ASCII byte ends a run as any other
 * character outside the alphabet does.
 */
export function eachDecodedRun(argument: string, each: EachRun): void {
  // Too short for a run: undoing escapes only shortens a text, and a character outside ASCII is outside the alphabet.
  if (argument.length < MIN_BASE64_RUN) return;
  const text = percentDecoded(argument);
  if (bytes.length < text.length * 3) bytes = new Uint8Array(Math.max(text.length * 3, bytes.length * 2));
  const length = ENCODER.encodeInto(text, bytes).written;
  // INVARIANT: a value written in tag characters is scanned as the ASCII they mirror (test/core/adversarial.test.ts
  // "invisible characters"); only a text with non-ASCII characters can hold them.
  if (length > text.length && text.includes('\udb40')) tagged(text, each);
  findRuns(bytes, length, each);
}

/** The printable ASCII that the tag characters of a text mirror, in order, scanned as one decoded run. */
function tagged(text: string, each: EachRun): void {
  if (decoded.length < text.length) decoded = new Uint8Array(Math.max(text.length, decoded.length * 2));
  let n = 0;
  for (let i = text.indexOf('\udb40'); i >= 0; i = text.indexOf('\udb40', i + 1)) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc20 && low <= 0xdc7e) decoded[n++] = low - 0xdc00;
  }
  if (n > 0) each('tags', decoded, n);
}

/**
 * Runs of at least {@link MIN_BASE64_RUN} alphabet bytes are found by looking at the last byte of a window of that
 * length and walking back to the last byte outside the alphabet, from which the next window starts; so ordinary
 * words are mostly skipped over rather than read byte by byte.
 */
function findRuns(input: Uint8Array, length: number, each: EachRun): void {
  // `start` follows a byte outside the alphabet (or is 0): a run of the alphabet can only begin there.
  let start = 0;
  while (start + MIN_BASE64_RUN <= length) {
    let j = start + MIN_BASE64_RUN - 1;
    while (j >= start && (VALUE[input[j] as number] as number) >= 0) j--;
    if (j >= start) {
      start = j + 1;
      continue;
    }
    let end = start + MIN_BASE64_RUN;
    while (end < length && (VALUE[input[end] as number] as number) >= 0) end++;
    let kinds = 0;
    for (let i = start; i < end; i++) kinds |= KIND[input[i] as number] as number;
    // Ordinary words (one case, no digits) are not decoded; base64 of text mixes cases or has digits.
    if (kinds & DIGIT || (kinds & (UPPER | LOWER)) === (UPPER | LOWER)) decode(input, start, end, kinds, each);
    start = end + 1;
  }
}

/** Decodes a run at every alignment: four for base64, two for each run of hex digits inside it. */
function decode(input: Uint8Array, start: number, end: number, kinds: number, each: EachRun): void {
  if (kinds & DIGIT) {
    let from = start;
    for (let i = start; i <= end; i++) {
      if (i < end && !((KIND[input[i] as number] as number) & NOT_HEX)) continue;
      if (i - from >= MIN_HEX_RUN) {
        for (let shift = 0; shift < 2; shift++) {
          const n = hex(input, from + shift, i);
          each('hex', decoded, n);
        }
      }
      from = i + 1;
    }
  }
  for (let shift = 0; shift < 4 && end - start - shift >= MIN_BASE64_RUN; shift++) {
    // The length first: decoding may grow the buffer.
    const n = base64(input, start + shift, end);
    each('base64', decoded, n);
  }
}

/** Scratch for decoded bytes, which only live until they are read. */
let decoded = new Uint8Array(1024);

/** Decodes base64 from `from` to `to` into `decoded`; returns the number of bytes. */
function base64(input: Uint8Array, from: number, to: number): number {
  if (decoded.length < to - from) decoded = new Uint8Array(Math.max(to - from, decoded.length * 2));
  const out = decoded;
  let n = 0;
  let bits = 0;
  let count = 0;
  for (let i = from; i < to; i++) {
    bits = (bits << 6) | (VALUE[input[i] as number] as number);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[n++] = (bits >>> count) & 0xff;
    }
  }
  return n;
}

/** Decodes hex from `from` to `to` into `decoded`; returns the number of bytes. */
function hex(input: Uint8Array, from: number, to: number): number {
  if (decoded.length < to - from) decoded = new Uint8Array(Math.max(to - from, decoded.length * 2));
  const out = decoded;
  let n = 0;
  for (let i = from; i + 1 < to; i += 2) {
    out[n++] = hexValue(input[i] as number) * 16 + hexValue(input[i + 1] as number);
  }
  return n;
}
