/**
 * Value provenance: a per-session index of the values and text that labelled outputs brought into the context, so a
 * call's arguments can be traced back to the outputs they came from. Pure: no clock, no I/O; bounded memory.
 *
 * Two structures, one job each:
 * - **values**: distinctive tokens (URLs, email addresses, IBANs, phone numbers, identifiers with digits, domains)
 *   kept verbatim in compact form with the labels and events that brought them. An argument that *is* or
 *   *contains* such a value is found exactly (a hash of one {@link GRAM}-character anchor gram of the value, then a
 *   verbatim comparison), and the finding names the events.
 * - **text**: winnowed fingerprints (k = {@link GRAM}, window {@link WINDOW}) of all labelled text in a compact
 *   fingerprint table with label bits. An argument of at least {@link MIN_TEXT_LENGTH} compact characters that lies
 *   inside seen text, or that contains at least {@link MIN_CHUNK_LENGTH} characters of it, is found.
 *
 * Eviction errs on the side of flagging: whatever cannot be kept (values past the cap, fingerprints that do not fit)
 * adds its labels to `lost`, and from then on every argument of meaningful length counts as possibly carrying them.
 */
import { LEG_A, LEG_B, type LegMask, NO_LEGS } from './legs.ts';

/** Shortest value (in compact characters) that is indexed or matched; shorter strings cannot identify a source. */
export const MIN_VALUE_LENGTH = 8;
/** Length of the character n-grams that are fingerprinted. */
export const GRAM = 8;
/** Winnowing window: one fingerprint is kept per window of this many n-grams. */
export const WINDOW = 16;
/** Shortest argument guaranteed to be found when it lies inside seen text (winnowing guarantee: WINDOW + GRAM - 1). */
export const MIN_TEXT_LENGTH = WINDOW + GRAM - 1;
/** Shortest chunk of seen text guaranteed to be found inside a longer argument (two fingerprints). */
export const MIN_CHUNK_LENGTH = 2 * MIN_TEXT_LENGTH;

/** Limits of one index; the defaults keep a session that has seen 10 MB under 8 MB. */
export interface ProvenanceLimits {
  /** Most distinct values kept; the oldest are evicted first. */
  maxValues: number;
  /** Most compact characters of values kept. */
  maxValueChars: number;
  /** Longest value kept (longer strings are text only). */
  maxValueLength: number;
  /** log2 of the largest fingerprint table in 16-slot buckets (16 → 1,048,576 slots, 4 MiB). */
  maxTableBits: number;
  /** Most trusted URLs kept for URL controls. */
  maxTrustedUrls: number;
  /** Most compact characters of trusted input kept whole (values beyond it are flagged as if not given). */
  maxTrustedChars: number;
}

/** Default limits. */
export const DEFAULT_PROVENANCE_LIMITS: ProvenanceLimits = {
  maxValues: 40_000,
  maxValueChars: 1_000_000,
  maxValueLength: 512,
  maxTableBits: 16,
  maxTrustedUrls: 20_000,
  maxTrustedChars: 65_536,
};

/** The event that brought a value into the session. */
export interface ProvenanceSource {
  seq: number;
  callId: string;
  tool: string;
  /** Data legs the output brought: `A`, `B`, `AB`, or `` for a trusted, non-sensitive output. */
  labels: string;
}

/** What an index found in one string: the legs it may carry and why. */
export interface ProvenanceScan {
  /** A when the string carries a value or text from an untrusted output, B from a sensitive one. */
  labels: LegMask;
  /** `value`: a verbatim value; `text`: a run of seen text; `evicted`: the index lost data with these labels. */
  kind: 'value' | 'text' | 'evicted';
  /** The matched value, shortened for display. */
  value?: string;
  /** The events that brought it (up to {@link SOURCES_PER_ENTRY}). */
  sources: ProvenanceSource[];
}

/** Read side of a provenance index, as {@link decide} uses it. */
export interface ProvenanceReader {
  /** Findings for one argument string; empty when it carries nothing labelled. */
  scan(text: string): ProvenanceScan[];
  /** Whether a URL appeared verbatim in the output of a trusted source or in trusted input. */
  trustedUrl(url: string): boolean;
}

/** A per-session provenance index. */
export interface ProvenanceIndex extends ProvenanceReader {
  /** Indexes an output with the data legs it brought; outputs without A also vouch for the URLs they contain. */
  addOutput(source: Omit<ProvenanceSource, 'labels'>, labels: LegMask, output: unknown): void;
  /** Indexes trusted input (the user's request, policy constants): values in it are never flagged. */
  addTrusted(input: unknown): void;
  /** Records that data with these labels entered the session but could not be indexed: it now flags like eviction. */
  lose(labels: LegMask): void;
  /** Sizes and eviction state, for views and benchmarks. */
  stats(): ProvenanceStats;
}

/** Sizes of an index. */
export interface ProvenanceStats {
  values: number;
  valueChars: number;
  fingerprints: number;
  tableSlots: number;
  trustedUrls: number;
  /** Labels of data the index could not keep (see the module comment). */
  lost: string;
  /** Approximate bytes held. */
  bytes: number;
}

/** How many sources a value remembers; the first ones, which are what brought it. */
export const SOURCES_PER_ENTRY = 4;

const UNTRUSTED = 1;
const SENSITIVE = 2;
const TRUSTED = 4;
const BUCKET = 16;
const MIN_TABLE_BITS = 6;
const DISPLAY = 80;
/** Size of the anchor prefilter in bits (32 KiB). */
const ANCHOR_BITS = 1 << 18;
const ANCHOR_MASK = ANCHOR_BITS - 1;

interface ValueEntry {
  value: string;
  /** Where in the value its anchor gram starts. */
  offset: number;
  labels: number;
  /** Index of the source that brought it (-1: trusted input only), or the first few (memory: most have one). */
  sources: number | number[];
}

function sourceList(entry: ValueEntry): number[] {
  return typeof entry.sources === 'number' ? (entry.sources < 0 ? [] : [entry.sources]) : entry.sources;
}

function addSource(entry: ValueEntry, source: number): void {
  if (source < 0) return;
  const list = sourceList(entry);
  if (list.length >= SOURCES_PER_ENTRY || list.includes(source)) return;
  entry.sources = list.length === 0 ? source : [...list, source];
}

// Compact form, written into a shared buffer: `%XX` (ASCII) and `+` decoded, ASCII lower-cased, and spacing and
// separators (`-().,'"_*+`) removed. Both sides of every comparison go through it, so formatting cannot hide a value.
const SEPARATOR = 0;
const FOLD = new Uint16Array(128).map((_, c) => {
  if (c <= 32 || '-().,\'"_*+'.includes(String.fromCharCode(c))) return SEPARATOR;
  return c >= 65 && c <= 90 ? c + 32 : c;
});
let buffer = new Uint16Array(4096);

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

let origin = new Int32Array(256);

/**
 * Writes the compact form of `text` into the shared buffer; returns its length. With `track`, `origin[i]` is the
 * index in `text` of compact character `i`, so a match can be shown as the caller wrote it.
 */
function compactInto(text: string, track = false): number {
  if (buffer.length < text.length) buffer = new Uint16Array(Math.max(text.length, buffer.length * 2));
  if (track && origin.length < text.length) origin = new Int32Array(Math.max(text.length, origin.length * 2));
  const out = buffer;
  const length = text.length;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const at = i;
    let c = text.charCodeAt(i);
    if (c === 37 && i + 2 < length) {
      const high = hexDigit(text.charCodeAt(i + 1));
      const low = hexDigit(text.charCodeAt(i + 2));
      if (high >= 0 && high < 8 && low >= 0) {
        c = high * 16 + low;
        i += 2;
      }
    }
    if (c < 128) {
      c = FOLD[c] as number;
      if (c === SEPARATOR) continue;
    } else if (c === 0xa0 || (c >= 0x2000 && c <= 0x200b) || c === 0x3000 || c === 0xfeff) continue;
    if (track) origin[n] = at;
    out[n++] = c;
  }
  return n;
}

/** The part of `text` that compact characters `from` to `to` (exclusive) came from; needs a tracked compaction. */
function originalSlice(text: string, from: number, to: number): string {
  const start = origin[from] as number;
  const last = origin[to - 1] as number;
  // A decoded `%XX` spans three characters of the original; a literal `%` stays `%` in the compact form.
  const end = text.charCodeAt(last) === 37 && buffer[to - 1] !== 37 ? last + 3 : last + 1;
  return text.slice(start, end);
}

// The buffer holds UTF-16 code units; decoding them natively is much faster than String.fromCharCode.
const UTF16 = new TextDecoder('utf-16le');

function bufferString(n: number): string {
  return UTF16.decode(buffer.subarray(0, n));
}

/** Compact form used on both sides of every comparison: `%XX` decoded, lower case, no spacing or separators. */
export function compact(text: string): string {
  return bufferString(compactInto(text));
}

const SPACED_IBAN = /\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?\b/g;
const SPACED_PHONE = /\+?\d{1,4}(?:[ -]\(?\d{2,5}\)?){2,5}/g;
const DOMAIN = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}$/i;
// Characters that end a token: spacing, quotes, brackets and list punctuation.
const DELIMITER = new Uint8Array(128).map((_, c) =>
  c <= 32 || '"\'<>()[]{}`\\,;|'.includes(String.fromCharCode(c)) ? 1 : 0,
);
/** Trailing sentence punctuation that is not part of a token: `.`, `:`, `!`, `?`. */
function trailing(c: number): boolean {
  return c === 46 || c === 58 || c === 33 || c === 63;
}

// Characters that can make a token distinctive; the native search for them skips plain words at full speed.
const SPECIAL = /[\d@.:]/g;
const DIGIT = /\d/;

/**
 * Distinctive values in a text, raw: tokens of at least {@link MIN_VALUE_LENGTH} characters with a digit, an `@`, a
 * scheme (`://`) or the shape of a domain, a URL without its query, and IBANs and phone numbers written with spaces.
 */
export function extractValues(text: string, each: (raw: string) => void): void {
  const tokens: string[] = [];
  const length = text.length;
  let done = 0;
  SPECIAL.lastIndex = 0;
  for (let match = SPECIAL.exec(text); match !== null; match = SPECIAL.exec(text)) {
    // Expand the special character to its whole token, once per token.
    let start = match.index;
    while (start > done && !isDelimiter(text.charCodeAt(start - 1))) start--;
    let end = match.index;
    while (end < length && !isDelimiter(text.charCodeAt(end))) end++;
    done = end;
    SPECIAL.lastIndex = end;
    while (end > start && trailing(text.charCodeAt(end - 1))) end--;
    if (end - start < MIN_VALUE_LENGTH) continue;
    const token = text.slice(start, end);
    if (DIGIT.test(token) || token.includes('@') || token.includes('://') || DOMAIN.test(token)) tokens.push(token);
  }
  for (const token of tokens) {
    each(token);
    // A URL's query values are values too, but so is the URL without them.
    const query = token.indexOf('?');
    if (query > 0 && token.includes('://')) each(token.slice(0, query));
  }
  if (!DIGIT.test(text)) return;
  for (const match of text.matchAll(SPACED_IBAN)) each(match[0]);
  for (const match of text.matchAll(SPACED_PHONE)) if (match[0].includes(' ') || match[0].includes('-')) each(match[0]);
}

function isDelimiter(c: number): boolean {
  return c < 128 && DELIMITER[c] === 1;
}

/** Every string in a value (object keys included, so nothing labelled hides in a key), depth-first. */
export function stringsOf(value: unknown, each: (text: string) => void, depth = 0): void {
  if (typeof value === 'string') each(value);
  else if (typeof value === 'number' || typeof value === 'bigint') each(String(value));
  else if (value !== null && typeof value === 'object') {
    if (depth > 64) throw new Error('value nests deeper than 64 levels');
    if (Array.isArray(value)) for (const item of value) stringsOf(item, each, depth + 1);
    else {
      for (const [key, item] of Object.entries(value)) {
        each(key);
        stringsOf(item, each, depth + 1);
      }
    }
  }
}

function mix(h: number): number {
  let x = h | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const BASE = 0x01000193;
// BASE^GRAM mod 2^32, to remove the character leaving the rolling window.
const BASE_POW = (() => {
  let p = 1;
  for (let i = 0; i < GRAM; i++) p = Math.imul(p, BASE);
  return p;
})();

/** Rolling hash of the GRAM characters of the buffer at `start`. */
function gramHash(start: number): number {
  let h = 0;
  for (let i = start; i < start + GRAM; i++) h = (Math.imul(h, BASE) + (buffer[i] as number)) | 0;
  return h;
}

/** Hash of the GRAM characters of `value` at `offset`, as the rolling hash computes it. */
function anchorOf(value: string, offset: number): number {
  let h = 0;
  for (let i = offset; i < offset + GRAM; i++) h = (Math.imul(h, BASE) + value.charCodeAt(i)) | 0;
  return h;
}

/** A second, independent hash of the gram at a position: the table's identity for a fingerprint. */
function gramIdentity(position: number, rolling: number): number {
  const text = buffer;
  let h = rolling ^ 0x9e3779b9;
  for (let i = position; i < position + GRAM; i++) h = Math.imul(h ^ (text[i] as number), 0x5bd1e995);
  return mix(h);
}

// WINDOW is a power of two, so positions wrap with a mask.
const RING_MASK = WINDOW - 1;
const ring = new Int32Array(WINDOW);
let keptPosition = new Int32Array(1024);
let keptHash = new Int32Array(1024);

/**
 * Winnowing (Schleimer, Wilkerson, Aiken 2003) over the first `n` buffer characters: in every window of WINDOW
 * consecutive gram hashes keep the rightmost minimum, so any shared substring of at least MIN_TEXT_LENGTH characters
 * shares a kept fingerprint. A string shorter than a window keeps its minimum. Writes the kept positions and hashes
 * into `keptPosition`/`keptHash` and returns how many there are.
 */
function winnow(n: number): number {
  const count = n - GRAM + 1;
  if (count <= 0) return 0;
  if (keptPosition.length < count) {
    keptPosition = new Int32Array(Math.max(count, keptPosition.length * 2));
    keptHash = new Int32Array(keptPosition.length);
  }
  // Locals, not module bindings, in the hot loop.
  const text = buffer;
  const window = ring;
  const positions = keptPosition;
  const hashes = keptHash;
  let h = gramHash(0);
  let min = 0;
  let minHash = h;
  let last = -1;
  let out = 0;
  window[0] = h;
  for (let i = 1; i < count; i++) {
    h = (Math.imul(h, BASE) + (text[i + GRAM - 1] as number) - Math.imul(text[i - 1] as number, BASE_POW)) | 0;
    window[i & RING_MASK] = h;
    const start = i - WINDOW + 1;
    if (min < start) {
      min = start;
      minHash = window[start & RING_MASK] as number;
      for (let j = start + 1; j <= i; j++) {
        const v = window[j & RING_MASK] as number;
        if (v <= minHash) {
          min = j;
          minHash = v;
        }
      }
    } else if (h <= minHash) {
      min = i;
      minHash = h;
    }
    if (i >= WINDOW - 1 && min !== last) {
      positions[out] = min;
      hashes[out++] = minHash;
      last = min;
    }
  }
  if (count < WINDOW) {
    positions[0] = min;
    hashes[0] = minHash;
    out = 1;
  }
  return out;
}

/**
 * Fingerprint table: 16-slot buckets, two bucket choices, 29-bit tags with 3 label bits in each 32-bit slot.
 * Buckets are derived from the tag so the table can double without keeping the original hashes.
 */
class FingerprintTable {
  #bits = MIN_TABLE_BITS;
  #slots = new Uint32Array(BUCKET << MIN_TABLE_BITS);
  #count = 0;
  readonly #maxBits: number;
  constructor(maxBits: number) {
    this.#maxBits = Math.max(MIN_TABLE_BITS, maxBits);
  }

  get count(): number {
    return this.#count;
  }
  get size(): number {
    return this.#slots.length;
  }

  #first(tag: number): number {
    return (Math.imul(tag, 0x9e3779b1) >>> (32 - this.#bits)) * BUCKET;
  }
  #second(tag: number, first: number): number {
    const mask = (1 << this.#bits) - 1;
    const two = mix(tag ^ 0x27d4eb2f) & mask;
    return (two * BUCKET === first ? (two + 1) & mask : two) * BUCKET;
  }

  /** Grows the table once, ahead of `more` insertions, instead of doubling step by step. */
  reserve(more: number): void {
    let bits = this.#bits;
    while (bits < this.#maxBits && this.#count + more > (BUCKET << bits) * 0.85) bits++;
    if (bits > this.#bits) this.#grow(bits);
  }

  /** Adds labels to a fingerprint; returns false when it does not fit (the caller records the loss). */
  add(identity: number, labels: number): boolean {
    const tag = identity >>> 3 || 1;
    const slots = this.#slots;
    const one = this.#first(tag);
    const two = this.#second(tag, one);
    const a = this.#find(one, tag);
    const b = a < 0 ? a : this.#find(two, tag);
    if (b < 0) {
      const at = a < 0 ? -1 - a : -1 - b;
      slots[at] = (slots[at] as number) | labels;
      return true;
    }
    if (a === BUCKET && b === BUCKET) return this.#grow(this.#bits + 1) && this.add(identity, labels);
    // Two choices, the emptier bucket wins: that is what lets the table fill to 85% without overflowing.
    const at = a <= b ? one + a : two + b;
    slots[at] = ((tag << 3) | labels) >>> 0;
    this.#count++;
    if (this.#count > slots.length * 0.85) this.#grow(this.#bits + 1);
    return true;
  }

  /**
   * Looks for a tag in one bucket: `-1 - index` when found, else how many slots are used. Slots are never freed,
   * so a bucket fills from its start and the first empty slot ends the search.
   */
  #find(start: number, tag: number): number {
    const slots = this.#slots;
    for (let i = start; i < start + BUCKET; i++) {
      const slot = slots[i] as number;
      if (slot === 0) return i - start;
      if (slot >>> 3 === tag) return -1 - i;
    }
    return BUCKET;
  }

  /** Label bits of a fingerprint, 0 when absent. */
  get(identity: number): number {
    const tag = identity >>> 3 || 1;
    const one = this.#first(tag);
    let found = this.#find(one, tag);
    if (found >= 0) found = this.#find(this.#second(tag, one), tag);
    return found < 0 ? (this.#slots[-1 - found] as number) & 7 : 0;
  }

  #grow(bits: number): boolean {
    if (this.#bits >= this.#maxBits) return false;
    const old = this.#slots;
    this.#bits = Math.min(bits, this.#maxBits);
    this.#slots = new Uint32Array(BUCKET << this.#bits);
    this.#count = 0;
    // Re-adding into a table twice as large cannot fail in practice; a slot that did not fit would be a lost
    // fingerprint, so the caller is told through the return value like any other loss.
    let ok = true;
    for (const slot of old) if (slot !== 0 && !this.add(slot & ~7, slot & 7)) ok = false;
    return ok;
  }
}

function legsOf(bits: number): LegMask {
  return (bits & UNTRUSTED ? LEG_A : NO_LEGS) | (bits & SENSITIVE ? LEG_B : NO_LEGS);
}

function shorten(text: string): string {
  return text.length > DISPLAY ? `${text.slice(0, DISPLAY - 1)}…` : text;
}

/** Untrusted unless trusted input also holds it; sensitive as it is. */
function untrustedUnlessTrusted(bits: number): number {
  return bits & TRUSTED ? bits & SENSITIVE : bits & (UNTRUSTED | SENSITIVE);
}

/** Labels that count against an argument: none when trusted input holds it, else untrusted unless also trusted. */
function effective(bits: number, trustedInput: boolean): number {
  return trustedInput ? 0 : untrustedUnlessTrusted(bits);
}

/** A provenance index held in memory, bounded by {@link ProvenanceLimits}. */
export class MemoryProvenanceIndex implements ProvenanceIndex {
  readonly #limits: ProvenanceLimits;
  readonly #values = new Map<string, ValueEntry>();
  /** Values by the hash of their anchor gram: one entry, or a list when several share it. */
  readonly #anchors = new Map<number, ValueEntry | ValueEntry[]>();
  /** One bit per anchor hash (mod its size), so most positions of an argument skip the map. */
  readonly #anchorBits = new Uint32Array(ANCHOR_BITS >>> 5);
  readonly #table: FingerprintTable;
  readonly #sources: ProvenanceSource[] = [];
  /** Sources that brought text, per label bit, for findings on text. */
  readonly #textSources = new Map<number, number[]>();
  readonly #trustedUrls = new Set<string>();
  /** Compact trusted input: a value found inside it was given by the user or the operator. */
  readonly #trustedText: string[] = [];
  #valueChars = 0;
  #trustedChars = 0;
  #lost = 0;

  /** `lost` starts an index that already lost data, e.g. a session whose index did not survive a restart. */
  constructor(limits: Partial<ProvenanceLimits> = {}, lost: LegMask = NO_LEGS) {
    this.#limits = { ...DEFAULT_PROVENANCE_LIMITS, ...limits };
    this.#table = new FingerprintTable(this.#limits.maxTableBits);
    this.#lost = (lost & LEG_A ? UNTRUSTED : 0) | (lost & LEG_B ? SENSITIVE : 0);
  }

  addOutput(source: Omit<ProvenanceSource, 'labels'>, labels: LegMask, output: unknown): void {
    // An output never vouches for a value's other occurrences (only trusted input does): what the agent wrote after
    // reading untrusted text can come back through a trusted tool, and must not be laundered that way.
    const bits = (labels & LEG_A ? UNTRUSTED : 0) | (labels & LEG_B ? SENSITIVE : 0);
    const index = this.#sources.length;
    this.#sources.push({ ...source, labels: (labels & LEG_A ? 'A' : '') + (labels & LEG_B ? 'B' : '') });
    this.#ingest(output, bits, index, !(labels & LEG_A));
  }

  lose(labels: LegMask): void {
    this.#lost |= (labels & LEG_A ? UNTRUSTED : 0) | (labels & LEG_B ? SENSITIVE : 0);
  }

  addTrusted(input: unknown): void {
    stringsOf(input, (text) => {
      const small = compact(text);
      if (small.length < MIN_VALUE_LENGTH || this.#trustedChars + small.length > this.#limits.maxTrustedChars) return;
      this.#trustedText.push(small);
      this.#trustedChars += small.length;
    });
    this.#ingest(input, TRUSTED, -1, true);
  }

  #ingest(output: unknown, bits: number, source: number, vouchesForUrls: boolean): void {
    stringsOf(output, (text) => {
      extractValues(text, (raw) => {
        // A URL in trusted input or in the output of a trusted source may be fetched verbatim.
        if (vouchesForUrls && raw.includes('://')) this.#trustUrl(raw);
        if (bits !== 0) this.#addValue(compact(raw), bits, source);
      });
      // An output that brought no legs matters only for the URLs it vouches for.
      if (bits === 0) return;
      const n = compactInto(text);
      // A whole short string (a display name, a subject line) is a value of its own.
      if (n >= MIN_VALUE_LENGTH && n < MIN_TEXT_LENGTH) this.#addValue(bufferString(n), bits, source);
      this.#addText(n, bits, source);
    });
  }

  #trustUrl(url: string): void {
    if (this.#trustedUrls.size >= this.#limits.maxTrustedUrls) {
      // Forgetting a trusted URL only makes a later fetch of it fail closed.
      const oldest = this.#trustedUrls.values().next().value;
      if (oldest !== undefined) this.#trustedUrls.delete(oldest);
    }
    this.#trustedUrls.add(url);
  }

  #addValue(value: string, bits: number, source: number): void {
    if (value.length < MIN_VALUE_LENGTH || value.length > this.#limits.maxValueLength) return;
    const existing = this.#values.get(value);
    if (existing) {
      existing.labels |= bits;
      addSource(existing, source);
      return;
    }
    while (
      this.#values.size > 0 &&
      (this.#values.size >= this.#limits.maxValues || this.#valueChars + value.length > this.#limits.maxValueChars)
    ) {
      this.#evictOldestValue();
    }
    // Anchor the value on its least used gram: values that share a prefix (`https://`, a mail domain) would
    // otherwise pile up under one anchor and every scan of that prefix would compare them all.
    let offset = 0;
    let anchor = anchorOf(value, 0);
    let best = this.#anchorCount(anchor);
    for (let i = 1; best > 0 && i + GRAM <= value.length; i++) {
      const h = anchorOf(value, i);
      const used = this.#anchorCount(h);
      if (used < best) {
        offset = i;
        anchor = h;
        best = used;
      }
    }
    const entry: ValueEntry = { value, offset, labels: bits, sources: source };
    this.#values.set(value, entry);
    this.#valueChars += value.length;
    const slot = this.#anchors.get(anchor);
    if (slot === undefined) this.#anchors.set(anchor, entry);
    else if (Array.isArray(slot)) slot.push(entry);
    else this.#anchors.set(anchor, [slot, entry]);
    const bit = anchor & ANCHOR_MASK;
    this.#anchorBits[bit >>> 5] = (this.#anchorBits[bit >>> 5] as number) | (1 << (bit & 31));
  }

  #anchorCount(anchor: number): number {
    const slot = this.#anchors.get(anchor);
    return slot === undefined ? 0 : Array.isArray(slot) ? slot.length : 1;
  }

  #evictOldestValue(): void {
    const first = this.#values.values().next().value as ValueEntry;
    this.#values.delete(first.value);
    this.#valueChars -= first.value.length;
    const anchor = anchorOf(first.value, first.offset);
    const slot = this.#anchors.get(anchor);
    const rest = Array.isArray(slot) ? slot.filter((e) => e !== first) : [];
    if (rest.length > 1) this.#anchors.set(anchor, rest);
    else if (rest.length === 1) this.#anchors.set(anchor, rest[0] as ValueEntry);
    else this.#anchors.delete(anchor);
    // INVARIANT: eviction never turns a flag into a pass (test/core/provenance.test.ts "eviction never unflags").
    this.#lost |= untrustedUnlessTrusted(first.labels);
  }

  /** Fingerprints the first `n` buffer characters. */
  #addText(n: number, bits: number, source: number): void {
    let lost = false;
    const kept = winnow(n);
    this.#table.reserve(kept);
    for (let k = 0; k < kept; k++) {
      if (!this.#table.add(gramIdentity(keptPosition[k] as number, keptHash[k] as number), bits)) lost = true;
    }
    if (lost) this.#lost |= bits & (UNTRUSTED | SENSITIVE);
    if (source < 0) return;
    for (const bit of [UNTRUSTED, SENSITIVE]) {
      if (!(bits & bit)) continue;
      const list = this.#textSources.get(bit) ?? [];
      if (list.length < SOURCES_PER_ENTRY && !list.includes(source)) list.push(source);
      this.#textSources.set(bit, list);
    }
  }

  scan(text: string): ProvenanceScan[] {
    const n = compactInto(text, true);
    if (n < MIN_VALUE_LENGTH) return [];
    const small = bufferString(n);
    const trustedInput = this.#trustedText.some((t) => t.includes(small));
    const found: ProvenanceScan[] = [];
    let valueBits = 0;
    // Values: every position of the argument may hold a value's anchor gram.
    // Evicted anchors leave their bit set: the prefilter only ever says "maybe".
    const bits = this.#anchorBits;
    let seen: Set<ValueEntry> | undefined;
    let h = gramHash(0);
    for (let i = 0; i + GRAM <= n; i++) {
      if (i > 0)
        h = (Math.imul(h, BASE) + (buffer[i + GRAM - 1] as number) - Math.imul(buffer[i - 1] as number, BASE_POW)) | 0;
      const bit = h & ANCHOR_MASK;
      if (((bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) continue;
      const slot = this.#anchors.get(h);
      if (slot === undefined) continue;
      for (const entry of Array.isArray(slot) ? slot : [slot]) {
        const start = i - entry.offset;
        if (start < 0 || seen?.has(entry) || !small.startsWith(entry.value, start)) continue;
        seen ??= new Set();
        seen.add(entry);
        const bits = effective(entry.labels, trustedInput || this.#trustedText.some((t) => t.includes(entry.value)));
        if (!bits) continue;
        valueBits |= bits;
        found.push({
          labels: legsOf(bits),
          kind: 'value',
          value: shorten(originalSlice(text, start, start + entry.value.length)),
          sources: sourceList(entry).map((s) => this.#sources[s] as ProvenanceSource),
        });
      }
    }
    const textBits = effective(this.#scanText(n), trustedInput) & ~valueBits;
    if (textBits) {
      const sources: ProvenanceSource[] = [];
      for (const bit of [UNTRUSTED, SENSITIVE]) {
        if (!(textBits & bit)) continue;
        for (const s of this.#textSources.get(bit) ?? []) {
          const source = this.#sources[s] as ProvenanceSource;
          if (!sources.includes(source)) sources.push(source);
        }
      }
      found.push({ labels: legsOf(textBits), kind: 'text', value: shorten(text), sources });
    }
    const lost = this.#lost & ~(valueBits | textBits);
    if (lost && !trustedInput) found.push({ labels: legsOf(lost), kind: 'evicted', sources: [] });
    return dropContained(found);
  }

  /**
   * Label bits of seen text the argument (the first `n` buffer characters) lies in (all its fingerprints) or carries
   * a chunk of (two kept fingerprints in a row), each without the untrusted bit where a trusted source wrote it too.
   */
  #scanText(n: number): number {
    let all = 7;
    let previous = 0;
    let chunk = 0;
    const kept = winnow(n);
    for (let k = 0; k < kept; k++) {
      const bits = this.#table.get(gramIdentity(keptPosition[k] as number, keptHash[k] as number));
      all &= bits;
      chunk |= untrustedUnlessTrusted(previous & bits);
      previous = bits;
    }
    const inside = n >= MIN_TEXT_LENGTH && kept > 0 ? untrustedUnlessTrusted(all) : 0;
    return inside | chunk;
  }

  trustedUrl(url: string): boolean {
    return this.#trustedUrls.has(url);
  }

  stats(): ProvenanceStats {
    return {
      values: this.#values.size,
      valueChars: this.#valueChars,
      fingerprints: this.#table.count,
      tableSlots: this.#table.size,
      trustedUrls: this.#trustedUrls.size,
      lost: (this.#lost & UNTRUSTED ? 'A' : '') + (this.#lost & SENSITIVE ? 'B' : ''),
      // Slots are 4 bytes; a value costs its characters plus about 150 bytes of map, anchor and entry overhead.
      bytes:
        this.#table.size * 4 +
        ANCHOR_BITS / 8 +
        this.#valueChars +
        this.#values.size * 150 +
        this.#trustedUrls.size * 100,
    };
  }
}

/** Drops value findings whose value lies inside another finding's value with the same labels (a phone in an IBAN). */
function dropContained(found: ProvenanceScan[]): ProvenanceScan[] {
  if (found.length < 2) return found;
  return found.filter(
    (f) =>
      f.kind !== 'value' ||
      !found.some(
        (g) =>
          g !== f &&
          g.kind === 'value' &&
          g.labels === f.labels &&
          g.value !== undefined &&
          f.value !== undefined &&
          g.value.length > f.value.length &&
          g.value.includes(f.value),
      ),
  );
}
