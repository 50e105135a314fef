/**
 * Value provenance: a per-session index of the values and text that labelled outputs brought into the context, so a
 * call's arguments can be traced back to the outputs they came from. Pure: no clock, no I/O; bounded memory.
 *
 * Two structures, one job each:
 * - **values**: distinctive tokens (URLs, email addresses, IBANs, phone numbers, identifiers with digits, domains)
 *   kept verbatim in compact form with the labels and events that brought them. An argument that *is* or
 *   *contains* such a value is found exactly (a hash of one {@link GRAM}-character anchor gram of the value, then a
 *   verbatim comparison), and the finding names the events.
 * - **text**: fingerprints of the consecutive {@link TEXT_GRAM}-byte blocks of the compact form of all labelled
 *   text, in a compact table with label bits. An argument's grams are looked up at every position, so an argument
 *   of at least {@link MIN_TEXT_LENGTH} compact bytes that lies inside seen text, or that contains at least
 *   {@link MIN_CHUNK_LENGTH} bytes of it, is found. Sampling fixed blocks keeps indexing to one light pass; the
 *   price, a lookup per argument position, is paid on arguments, which are small.
 *
 * Eviction errs on the side of flagging: whatever cannot be kept (values past the cap, fingerprints that do not fit)
 * adds its labels to `lost`, and from then on every argument of meaningful length counts as possibly carrying them.
 */
import {
  blockHashes,
  bufferString,
  codesToString,
  compact,
  compactBuffer,
  compactEncodedRange,
  compactedAscii,
  compactInto,
  compactRangeInto,
  compactUtf8Into,
  originalSlice,
} from './compact.ts';
import { type EachRun, type Encoding, eachDecodedRun } from './encodings.ts';
import { FingerprintTable, filterBit } from './fingerprints.ts';
import { BASE, power } from './gram-hash.ts';
import { LEG_A, LEG_B, type LegMask, NO_LEGS } from './legs.ts';
import { anchorMask, anchorWord, GRAM, prefilterShift, SOURCES_PER_VALUE, ValueTable } from './value-table.ts';
import { extractValueRanges, extractValues, MIN_VALUE_LENGTH } from './values.ts';

export { compact, extractValues, GRAM, MIN_VALUE_LENGTH };
/** Length of the grams of text that are fingerprinted (hashed by `blockHashes`, so it is 16). */
export const TEXT_GRAM = 16;
/** Seen text is fingerprinted at every STRIDE-th compact byte (a power of two: scans test bits, not remainders). */
export const STRIDE = 16;
/** Shortest argument guaranteed to be found when it lies inside seen text: it holds a whole sampled gram. */
export const MIN_TEXT_LENGTH = STRIDE - 1 + TEXT_GRAM;
/** Shortest chunk of seen text guaranteed to be found inside a longer argument: two sampled grams in a row. */
export const MIN_CHUNK_LENGTH = 2 * STRIDE - 1 + TEXT_GRAM;

/** Limits of one index; the defaults keep a session that has seen 10 MB under 8 MB. */
export interface ProvenanceLimits {
  /** Most distinct values kept; the oldest are evicted first. */
  maxValues: number;
  /** Most compact bytes of values kept. */
  maxValueChars: number;
  /** Longest value kept, in compact bytes (longer strings are text only). */
  maxValueLength: number;
  /** log2 of the largest fingerprint table in 16-slot buckets (16 → 1,048,576 slots, 5 MiB with its filter). */
  maxTableBits: number;
  /** Most trusted URLs kept for URL controls. */
  maxTrustedUrls: number;
  /** Most compact bytes of trusted input kept whole (values beyond it are flagged as if not given). */
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
  /** The matched value, shortened for display (decoded when the argument carried it encoded). */
  value?: string;
  /** How the argument carried it when not verbatim: `base64` or `hex` of the value or text. */
  encoding?: Encoding;
  /** The events that brought it (up to {@link SOURCES_PER_ENTRY}). */
  sources: ProvenanceSource[];
}

/** Read side of a provenance index, as {@link decide} uses it. */
export interface ProvenanceReader {
  /** Findings for one argument string; empty when it carries nothing labelled. */
  scan(text: string): readonly ProvenanceScan[];
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
export const SOURCES_PER_ENTRY = SOURCES_PER_VALUE;

const UNTRUSTED = 1;
const SENSITIVE = 2;
const TRUSTED = 4;
const DISPLAY = 80;
const NOTHING: readonly ProvenanceScan[] = Object.freeze([]);
const UTF8 = new TextDecoder('utf-8');

/** Scratch: the start and end of each value found in the text being indexed, before they are added. */
let ranges = new Int32Array(1024);
let units = new Uint16Array(256);

/** A copy of `array` at twice its length. */
function grown(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const out = new Int32Array(array.length * 2);
  out.set(array);
  return out;
}

/**
 * A copy of a string that does not keep the text it was cut from alive: the engine represents a slice of a 1 MB
 * output as a view of it, and an index that kept such views would hold every output it ever saw.
 */
function detached(text: string): string {
  if (units.length < text.length) units = new Uint16Array(Math.max(text.length, units.length * 2));
  for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
  return codesToString(units, text.length);
}

// Scratch of a scan, shared by all indexes: the labels of the text gram at each position of the argument, and the
// positions (and hashes) where the anchor gram of a value may end.
let gramSlots = new Uint8Array(4096);
let gramLabels = new Uint8Array(4096);
let passedGrams = new Int32Array(4096);
const classPassed = new Int32Array(STRIDE);
let candidateEnds = new Int32Array(4096);
let candidateHashes = new Int32Array(4096);
/** The hash of the text gram at each position of the argument, so textPass tests and looks up neighbours directly. */
let textHashes = new Int32Array(4096);
/** Positions of the argument waiting for a filter test or a look-up in textPass. */
let gramQueue = new Int32Array(4096);
/** The hash of the anchor gram ending at each position of the argument. */
let anchorHashes = new Int32Array(4096);
/** Whether the last {@link gramPass} found any text gram in the table. */
let anyGram = false;
/** How many positions of `passedGrams` the last {@link textPass} filled (every position it may have labelled). */
let probedGrams = 0;

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

/** BASE^GRAM mod 2^32: what the byte leaving a rolling window of GRAM weighs, and a gram of GRAM before another. */
const GRAM_POW = power(GRAM);

function legsOf(bits: number): LegMask {
  return (bits & UNTRUSTED ? LEG_A : NO_LEGS) | (bits & SENSITIVE ? LEG_B : NO_LEGS);
}

function bitsOf(legs: LegMask): number {
  return (legs & LEG_A ? UNTRUSTED : 0) | (legs & LEG_B ? SENSITIVE : 0);
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
  readonly #values: ValueTable;
  readonly #table: FingerprintTable;
  readonly #sources: ProvenanceSource[] = [];
  /** Sources that brought text, per label bit, for findings on text. */
  readonly #textSources = new Map<number, number[]>();
  readonly #trustedUrls = new Set<string>();
  /** Compact trusted input: a value found inside it was given by the user or the operator. */
  readonly #trustedText: string[] = [];
  #trustedChars = 0;
  #lost = 0;

  /** `lost` starts an index that already lost data, e.g. a session whose index did not survive a restart. */
  constructor(limits: Partial<ProvenanceLimits> = {}, lost: LegMask = NO_LEGS) {
    this.#limits = { ...DEFAULT_PROVENANCE_LIMITS, ...limits };
    this.#table = new FingerprintTable(this.#limits.maxTableBits);
    // INVARIANT: eviction never turns a flag into a pass (test/core/provenance.test.ts "eviction never unflags").
    this.#values = new ValueTable(this.#limits.maxValues, this.#limits.maxValueChars, (labels) => {
      this.#lost |= untrustedUnlessTrusted(labels);
    });
    this.#lost = bitsOf(lost);
  }

  addOutput(source: Omit<ProvenanceSource, 'labels'>, labels: LegMask, output: unknown): void {
    // An output never vouches for a value's other occurrences (only trusted input does): what the agent wrote after
    // reading untrusted text can come back through a trusted tool, and must not be laundered that way.
    const index = this.#sources.length;
    this.#sources.push({ ...source, labels: (labels & LEG_A ? 'A' : '') + (labels & LEG_B ? 'B' : '') });
    this.#ingest(output, bitsOf(labels), index, !(labels & LEG_A));
  }

  lose(labels: LegMask): void {
    this.#lost |= bitsOf(labels);
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
      // Values are found first and added together, so the value table grows (and rehashes) once per text. They are
      // compacted from their ranges: a string sliced per value costs more than indexing it.
      let count = 0;
      let chars = 0;
      extractValueRanges(text, (start, end) => {
        if (count * 2 === ranges.length) ranges = grown(ranges);
        ranges[count * 2] = start;
        ranges[count * 2 + 1] = end;
        count++;
        chars += end - start;
      });
      if (vouchesForUrls) {
        for (let i = 0; i < count; i++) {
          // A URL in trusted input or in the output of a trusted source may be fetched verbatim.
          const raw = text.slice(ranges[i * 2] as number, ranges[i * 2 + 1] as number);
          if (raw.includes('://')) this.#trustUrl(raw);
        }
      }
      // An output that brought no legs matters only for the URLs it vouches for.
      if (bits === 0) return;
      this.#values.reserve(count + 1, chars);
      const n = compactInto(text, false);
      // A whole short string (a display name, a subject line) is a value of its own.
      if (n >= MIN_VALUE_LENGTH && n < MIN_TEXT_LENGTH) this.#addValue(n, bits, source);
      this.#addText(n, bits, source);
      // The values last: an ASCII text's are compacted from the bytes encoded for the text above, which the buffer
      // no longer needs once its blocks are in.
      const ascii = compactedAscii();
      for (let i = 0; i < count; i++) {
        const start = ranges[i * 2] as number;
        const end = ranges[i * 2 + 1] as number;
        this.#addValue(ascii ? compactEncodedRange(start, end) : compactRangeInto(text, start, end), bits, source);
      }
    });
  }

  #trustUrl(url: string): void {
    if (this.#trustedUrls.size >= this.#limits.maxTrustedUrls) {
      // Forgetting a trusted URL only makes a later fetch of it fail closed.
      const oldest = this.#trustedUrls.values().next().value;
      if (oldest !== undefined) this.#trustedUrls.delete(oldest);
    }
    this.#trustedUrls.add(detached(url));
  }

  /** Adds the first `n` compact bytes in the buffer as a value. */
  #addValue(n: number, bits: number, source: number): void {
    if (n < MIN_VALUE_LENGTH || n > this.#limits.maxValueLength) return;
    this.#values.add(compactBuffer(), n, bits, source);
  }

  /** Fingerprints the consecutive blocks of the first `n` buffer bytes. */
  #addText(n: number, bits: number, source: number): void {
    if (n < TEXT_GRAM) return;
    const table = this.#table;
    table.reserve(Math.floor(n / STRIDE));
    if (!addBlocks(table, n, bits)) this.#lost |= bits & (UNTRUSTED | SENSITIVE);
    if (source < 0) return;
    for (const bit of [UNTRUSTED, SENSITIVE]) {
      if (!(bits & bit)) continue;
      const list = this.#textSources.get(bit) ?? [];
      if (list.length < SOURCES_PER_ENTRY && !list.includes(source)) list.push(source);
      this.#textSources.set(bit, list);
    }
  }

  scan(text: string): readonly ProvenanceScan[] {
    this.#plain = this.#scanCompact(text, compactInto(text, false), undefined);
    eachDecodedRun(text, this.#eachRun);
    const found = this.#found ?? this.#plain;
    // Not kept past the call: findings hold slices of arguments.
    this.#plain = NOTHING;
    this.#found = undefined;
    return dropContained(found);
  }

  /** The findings of the scan under way: verbatim ones, and all of them once a decoded run adds one. */
  #plain: readonly ProvenanceScan[] = NOTHING;
  #found: ProvenanceScan[] | undefined;

  /** Scans one decoded run of the scan under way; made once per index, not per scan. */
  readonly #eachRun: EachRun = (encoding, bytes, length) => {
    // A value lies in valid UTF-8 (see compactUtf8Into): a run with no stretch of valid UTF-8 as long as the
    // shortest value is the garbage of a wrong alignment, not scanned.
    const n = compactUtf8Into(bytes, length, MIN_VALUE_LENGTH);
    if (n < MIN_VALUE_LENGTH) return;
    // The decoded text is built only for a finding, which shows it.
    const decoded = () => UTF8.decode(bytes.subarray(0, length));
    for (const finding of this.#scanCompact(decoded, n, encoding)) {
      this.#found ??= [...this.#plain];
      const found = this.#found;
      // A decoded run adds what the argument does not already show verbatim.
      if (finding.kind === 'evicted' || found.some((f) => f.kind === finding.kind && f.labels === finding.labels))
        continue;
      found.push(finding);
    }
  };

  /** Findings for the first `n` buffer characters, the compact form of `source` (a text, or what builds it). */
  #scanCompact(source: string | (() => string), n: number, encoding: ProvenanceScan['encoding']): ProvenanceScan[] {
    if (n < MIN_VALUE_LENGTH) return NOTHING as ProvenanceScan[];
    const candidates = gramPass(n, this.#table, this.#values.anchorBits);
    // Most strings hold no value's anchor and no seen text, and most indexes lost nothing: nothing more to do.
    if (candidates === 0 && !anyGram && this.#lost === 0) return NOTHING as ProvenanceScan[];
    return this.#findings(source, n, encoding, candidates);
  }

  /** Findings for the first `n` buffer characters, after {@link gramPass} found `candidates` anchors in them. */
  #findings(
    source: string | (() => string),
    n: number,
    encoding: ProvenanceScan['encoding'],
    candidates: number,
  ): ProvenanceScan[] {
    let built: string | undefined;
    const textOf = () => {
      built ??= typeof source === 'string' ? source : source();
      return built;
    };
    let found: ProvenanceScan[] | undefined;
    let matched: number[] | undefined;
    let valueBits = 0;
    let trusted: boolean | undefined;
    const trustedInput = () => {
      trusted ??= this.#trustedText.some((t) => t.includes(bufferString(n)));
      return trusted;
    };
    const values = this.#values;
    for (let k = 0; k < candidates; k++) {
      const i = candidateEnds[k] as number;
      for (let id = values.newest(candidateHashes[k] as number); id >= 0; id = values.older(id)) {
        const start = i - GRAM + 1 - values.offset(id);
        if (!values.matches(id, compactBuffer(), start, n) || matched?.includes(id)) continue;
        matched ??= [];
        matched.push(id);
        const value = values.value(id);
        const given = trustedInput() || this.#trustedText.some((t) => t.includes(value));
        const labels = effective(values.labels(id), given);
        if (!labels) continue;
        valueBits |= labels;
        const sources = values.sources(id).map((s) => this.#sources[s] as ProvenanceSource);
        found ??= [];
        found.push(finding(labels, 'value', originalSlice(textOf(), start, start + value.length), encoding, sources));
      }
    }
    const textBits = anyGram ? effective(textLabels(n), trustedInput()) & ~valueBits : 0;
    if (textBits) {
      const sources: ProvenanceSource[] = [];
      for (const bit of [UNTRUSTED, SENSITIVE]) {
        if (!(textBits & bit)) continue;
        for (const s of this.#textSources.get(bit) ?? []) {
          const source = this.#sources[s] as ProvenanceSource;
          if (!sources.includes(source)) sources.push(source);
        }
      }
      found ??= [];
      found.push(finding(textBits, 'text', textOf(), encoding, sources));
    }
    const lost = this.#lost & ~(valueBits | textBits);
    if (lost && !trustedInput()) {
      found ??= [];
      found.push({ labels: legsOf(lost), kind: 'evicted', sources: [] });
    }
    return found ?? (NOTHING as ProvenanceScan[]);
  }

  trustedUrl(url: string): boolean {
    return this.#trustedUrls.has(url);
  }

  stats(): ProvenanceStats {
    return {
      values: this.#values.count,
      valueChars: this.#values.chars,
      fingerprints: this.#table.count,
      tableSlots: this.#table.size,
      trustedUrls: this.#trustedUrls.size,
      lost: (this.#lost & UNTRUSTED ? 'A' : '') + (this.#lost & SENSITIVE ? 'B' : ''),
      bytes: this.#table.bytes + this.#values.bytes + this.#trustedUrls.size * 100,
    };
  }
}

/** Adds the blocks of the first `n` bytes to a table; false if one did not fit. */
function addBlocks(table: FingerprintTable, n: number, bits: number): boolean {
  // STRIDE and TEXT_GRAM are both 16: the sampled grams are the consecutive blocks that blockHashes hashes.
  const count = Math.floor((n - TEXT_GRAM) / STRIDE) + 1;
  return table.addAll(blockHashes(count), count, bits);
}

/**
 * The hot loop of a scan, over the first `n` compact bytes: computes the hashes of the text gram and of the anchor
 * gram at every position and tests both filters, noting the few positions that pass; then only those are looked at.
 * Writes the labels of each text gram into `gramLabels` (when any was seen, see `anyGram`) and the positions (and
 * hashes) where a value's anchor gram may end into `candidateEnds` and `candidateHashes`; returns how many of those.
 */
function gramPass(n: number, table: FingerprintTable, anchorBits: Uint32Array): number {
  if (gramSlots.length < n) {
    gramSlots = new Uint8Array(Math.max(n, gramSlots.length * 2));
    gramLabels = new Uint8Array(gramSlots.length);
    passedGrams = new Int32Array(gramSlots.length);
    candidateEnds = new Int32Array(gramSlots.length);
    candidateHashes = new Int32Array(gramSlots.length);
    textHashes = new Int32Array(gramSlots.length);
    gramQueue = new Int32Array(gramSlots.length);
    anchorHashes = new Int32Array(gramSlots.length);
  }
  const chars = compactBuffer();
  const anchors = anchorHashes;
  const texts = textHashes;
  // First the arithmetic alone, then the filter reads in loops of their own: a read's cache miss then overlaps with
  // the next ones instead of with a chain of multiplies, and the hashes are the only dependency between positions.
  let h8 = 0;
  let h16 = 0;
  const head = n < TEXT_GRAM ? n : TEXT_GRAM;
  for (let i = 0; i < head; i++) {
    const c = chars[i] as number;
    h8 = (Math.imul(h8, BASE) + c - Math.imul(i >= GRAM ? (chars[i - GRAM] as number) : 0, GRAM_POW)) | 0;
    h16 = (Math.imul(h16, BASE) + c) | 0;
    anchors[i] = h8;
  }
  texts[0] = h16;
  // A gram of 16 is two grams of 8 (TEXT_GRAM = 2·GRAM): its hash is the first one's times BASE^8 plus the second's,
  // so one rolling hash serves both.
  for (let i = TEXT_GRAM; i < n; i++) {
    h8 = (Math.imul(h8, BASE) + (chars[i] as number) - Math.imul(chars[i - GRAM] as number, GRAM_POW)) | 0;
    anchors[i] = h8;
    texts[i - TEXT_GRAM + 1] = (Math.imul(anchors[i - GRAM] as number, GRAM_POW) + h8) | 0;
  }
  const ends = candidateEnds;
  const found = candidateHashes;
  const anchorShift = prefilterShift(anchorBits);
  let count = 0;
  for (let i = GRAM - 1; i < n; i++) {
    const h = anchors[i] as number;
    const bits = anchorMask(h);
    if (((anchorBits[anchorWord(h, anchorShift)] as number) & bits) === bits) {
      ends[count] = i;
      found[count++] = h;
    }
  }
  // Shorter arguments can neither lie inside seen text nor carry a chunk of it (see textLabels): no text look-ups.
  anyGram = false;
  if (n < MIN_TEXT_LENGTH) return count;
  // The text gram is tested in every other stride only: a chunk holds two grams a stride apart, one of them in a
  // tested stride, and the untested strides are tested in textPass where that matters.
  const filter = table.filter;
  const shift = table.filterShift;
  const passes = passedGrams;
  const grams = n - TEXT_GRAM + 1;
  let passed = 0;
  for (let from = 0; from < grams; from += 2 * STRIDE) {
    const to = from + STRIDE < grams ? from + STRIDE : grams;
    for (let p = from; p < to; p++) {
      if (filterBit(filter, shift, texts[p] as number)) passes[passed++] = p;
    }
  }
  anyGram = passed > 0 && textPass(n, table, passed);
  return count;
}

/**
 * The text grams of the last argument that passed the filter in a tested stride (`passed` of them): the grams next
 * to them, and the untested grams of a residue class all of whose tested grams passed, are tested too; a gram that
 * is part of a chunk (with the gram a stride before or after it) or of such a class is looked up in the buckets.
 * Returns whether any was seen.
 */
function textPass(n: number, table: FingerprintTable, passed: number): boolean {
  const hashes = textHashes;
  const grams = n - TEXT_GRAM + 1;
  const ok = gramSlots;
  const labels = gramLabels;
  const passes = passedGrams;
  ok.fill(0, 0, grams);
  labels.fill(0, 0, grams);
  // Residue classes (mod STRIDE) all of whose tested grams passed: the argument may lie inside seen text.
  const inside = classPassed;
  inside.fill(0);
  if (n >= MIN_TEXT_LENGTH) {
    for (let k = 0; k < passed; k++) {
      const r = (passes[k] as number) & (STRIDE - 1);
      inside[r] = (inside[r] as number) + 1;
    }
    for (let r = 0; r < STRIDE; r++) {
      // Tested grams of class r: p = r + 2·STRIDE·j below `grams`.
      inside[r] = inside[r] === Math.ceil((grams - r) / (2 * STRIDE)) ? 1 : 0;
    }
  }
  for (let k = 0; k < passed; k++) ok[passes[k] as number] = 1;
  // The grams next to those that passed, and the untested grams of classes that may lie inside seen text, are queued
  // first and then tested in one loop of independent reads, so their cache misses overlap.
  const queue = gramQueue;
  let queued = 0;
  for (let k = 0; k < passed; k++) {
    const p = passes[k] as number;
    queued = enqueue(queue, queued, ok, p - STRIDE, grams);
    queued = enqueue(queue, queued, ok, p + STRIDE, grams);
  }
  for (let r = 0; r < STRIDE; r++) {
    if (!inside[r]) continue;
    for (let p = r + STRIDE; p < grams; p += 2 * STRIDE) queued = enqueue(queue, queued, ok, p, grams);
  }
  const filter = table.filter;
  const shift = table.filterShift;
  let total = passed;
  for (let k = 0; k < queued; k++) {
    const p = queue[k] as number;
    const bit = filterBit(filter, shift, hashes[p] as number);
    ok[p] = bit;
    passes[total] = p;
    total += bit;
  }
  // Grams that are part of a chunk (with the gram a stride before or after) or of a class inside seen text are looked
  // up in the buckets, all together.
  let probes = 0;
  for (let k = 0; k < total; k++) {
    const p = passes[k] as number;
    const near = (p >= STRIDE && ok[p - STRIDE]) || (p + STRIDE < grams && ok[p + STRIDE]);
    if (near || inside[p & (STRIDE - 1)]) queue[probes++] = p;
  }
  const any = table.probeAll(hashes, queue, probes, labels);
  probedGrams = total;
  return any !== 0;
}

/** Queues gram `p` (when it is one of the `grams` and not marked in `ok` yet) and marks it; returns the new count. */
function enqueue(queue: Int32Array, queued: number, ok: Uint8Array, p: number, grams: number): number {
  if (p < 0 || p >= grams || ok[p]) return queued;
  ok[p] = 1;
  queue[queued] = p;
  return queued + 1;
}

/**
 * Label bits of seen text in the last scanned argument of `n` compact bytes, from the labels of its gram at each
 * position: it lies inside seen text when every gram of one residue class (mod STRIDE) was seen, which is what a run
 * of seen blocks looks like, and it carries a chunk of seen text when two grams STRIDE apart were.
 */
function textLabels(n: number): number {
  const grams = n - TEXT_GRAM + 1;
  const labels = gramLabels;
  const passes = passedGrams;
  // Only positions textPass looked up carry labels, so only those (and the gram a stride after each) are read.
  let chunk = 0;
  for (let k = 0; k < probedGrams; k++) {
    const p = passes[k] as number;
    if (p + STRIDE < grams) chunk |= untrustedUnlessTrusted((labels[p] as number) & (labels[p + STRIDE] as number));
  }
  let inside = 0;
  if (n >= MIN_TEXT_LENGTH) {
    for (let r = 0; r < STRIDE; r++) {
      // A class whose tested grams did not all pass the filter holds an unseen gram.
      if (!classPassed[r]) continue;
      let all = 7;
      for (let p = r; p < grams; p += STRIDE) all &= labels[p] as number;
      inside |= untrustedUnlessTrusted(all);
    }
  }
  return inside | chunk;
}

function finding(
  bits: number,
  kind: 'value' | 'text',
  value: string,
  encoding: Encoding | undefined,
  sources: ProvenanceSource[],
): ProvenanceScan {
  const found: ProvenanceScan = { labels: legsOf(bits), kind, value: shorten(value), sources };
  if (encoding !== undefined) found.encoding = encoding;
  return found;
}

/** Drops value findings whose value lies inside another finding's value with the same labels (a phone in an IBAN). */
function dropContained(found: readonly ProvenanceScan[]): readonly ProvenanceScan[] {
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
