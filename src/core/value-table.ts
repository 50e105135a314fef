/**
 * The values of a provenance index, in typed arrays: their compact bytes in one arena, and per value its place, the
 * offset of its anchor gram, its labels and the first source that brought it, found by the hash of the anchor gram
 * in an open-addressing table with a chain per hash; a second table by the hash of the whole value finds a value
 * already held in one probe. About 56 bytes a value besides its bytes, where objects in maps cost four times that. Values leave oldest first; the labels they carried are reported to the caller, which remembers
 * them.
 */

import { BASE, gramHash, power } from './gram-hash.ts';

/** Length of the anchor grams of values. */
export const GRAM = 8;
const GRAM_POW = power(GRAM);
/** How many sources a value remembers; the first ones, which are what brought it. */
export const SOURCES_PER_VALUE = 4;
const NONE = -1;
/**
 * The arena and the per-value arrays may hold this many times their limit: room enough that compacting them (moving
 * the live values to the start) is rare, where growing them by doubling would reach twice the limit.
 */
const SLACK = 1.25;
/** Scratch: the hash of each gram of the value being added, by offset. */
let grams = new Int32Array(256);
/** Scratch: the hash of the whole value being added. */
let wholeHash = 0;
/** The multiplier of whole-value hashes: another than the grams', so values that share grams spread anyway. */
const WHOLE_BASE = 0x5bd1e995;

/** Hash of the GRAM bytes at `start`, as the rolling hash of a scan computes it. */
export function anchorHash(bytes: Uint8Array, start: number): number {
  return gramHash(bytes, start, GRAM);
}

/** A table of values; see the module comment. */
export class ValueTable {
  readonly #maxValues: number;
  readonly #maxChars: number;
  /** The largest size of the arena (but for one value that alone is larger) and of the per-value arrays. */
  readonly #arenaCap: number;
  readonly #valuesCap: number;
  #arena = new Uint8Array(1024);
  /** End of the used part of the arena; values before `#arenaStart` were evicted. */
  #arenaEnd = 0;
  #arenaStart = 0;
  // Per value, indexed by id − #base; ids only grow, the oldest live one is #first.
  #base = 0;
  #first = 0;
  #next = 0;
  #start = new Int32Array(64);
  #length = new Uint16Array(64);
  #offset = new Uint16Array(64);
  #labels = new Uint8Array(64);
  #source = new Int32Array(64);
  /** The next older value with the same anchor hash, or NONE. */
  #chain = new Int32Array(64);
  /** Hash of the whole value. */
  #hash = new Int32Array(64);
  /** Sources after the first, for the few values that several outputs brought. */
  readonly #more = new Map<number, number[]>();
  // Open addressing by anchor hash: the newest value with that hash (id + 1; 0 is empty).
  #keys = new Int32Array(128);
  #heads = new Int32Array(128);
  #used = 0;
  // Open addressing by whole-value hash, one slot per value (id + 1; 0 is empty); evicted ones leave at a rebuild.
  #whole = new Int32Array(128);
  #wholeUsed = 0;
  #chars = 0;
  /** One bit per anchor hash (mod its size), so most positions of an argument skip the table; grows with it. */
  #bits = new Uint32Array(128);

  readonly #onEvict: (labels: number) => void;

  /** `onEvict` hears the labels of each value evicted to make room. */
  constructor(maxValues: number, maxChars: number, onEvict: (labels: number) => void) {
    this.#maxValues = maxValues;
    this.#maxChars = maxChars;
    this.#arenaCap = Math.floor(maxChars * SLACK);
    // Eviction keeps fewer than maxValues live when an id is made, so a compaction at the cap always frees room.
    this.#valuesCap = Math.floor(maxValues * SLACK) + 1;
    this.#onEvict = onEvict;
  }

  /** Values held. */
  get count(): number {
    return this.#next - this.#first;
  }

  /** Bytes of values held. */
  get chars(): number {
    return this.#chars;
  }

  /** Bytes allocated. */
  get bytes(): number {
    const perValue = 4 + 2 + 2 + 1 + 4 + 4 + 4;
    const tables = this.#keys.byteLength * 2 + this.#whole.byteLength + this.#bits.byteLength;
    return this.#arena.byteLength + this.#start.length * perValue + tables;
  }

  /** The prefilter: the bits {@link anchorMask} of word {@link anchorWord} are set when a value may have that anchor hash. */
  get anchorBits(): Uint32Array {
    return this.#bits;
  }

  /** The newest value whose anchor gram has this hash, or NONE; older ones follow through {@link older}. */
  newest(hash: number): number {
    const mask = this.#keys.length - 1;
    for (let at = slotOf(hash, mask); this.#heads[at] !== 0; at = (at + 1) & mask) {
      if (this.#keys[at] === hash) return this.#live((this.#heads[at] as number) - 1);
    }
    return NONE;
  }

  /** The next older value with the same anchor hash, or NONE. */
  older(id: number): number {
    return this.#live(this.#chain[id - this.#base] as number);
  }

  #live(id: number): number {
    return id >= this.#first ? id : NONE;
  }

  /** Where in a value its anchor gram starts. */
  offset(id: number): number {
    return this.#offset[id - this.#base] as number;
  }

  /** Length of a value in compact bytes. */
  length(id: number): number {
    return this.#length[id - this.#base] as number;
  }

  /** Label bits of a value. */
  labels(id: number): number {
    return this.#labels[id - this.#base] as number;
  }

  /** The sources that brought a value (indexes the caller gave), the first few. */
  sources(id: number): number[] {
    const first = this.#source[id - this.#base] as number;
    return first < 0 ? [] : [first, ...(this.#more.get(id) ?? [])];
  }

  /** A value as a string of one character per byte (the compact form's string). */
  value(id: number): string {
    const start = this.#start[id - this.#base] as number;
    return String.fromCharCode.apply(null, this.#arena.subarray(start, start + this.length(id)) as unknown as number[]);
  }

  /** Whether `bytes` hold value `id` at `at`, within their first `n`. */
  matches(id: number, bytes: Uint8Array, at: number, n: number): boolean {
    const length = this.length(id);
    if (at < 0 || at + length > n) return false;
    const arena = this.#arena;
    const start = this.#start[id - this.#base] as number;
    for (let i = 0; i < length; i++) if (arena[start + i] !== bytes[at + i]) return false;
    return true;
  }

  /**
   * Makes room for `values` more values of `chars` bytes in all, up to the limits, so that adding the values of one
   * output grows and rehashes the tables at most once.
   */
  reserve(values: number, chars: number): void {
    const live = Math.min(this.count + values, this.#maxValues);
    if (this.#start.length < live) this.#resize(live);
    const bitWords = prefilterWords(this.#bits.length, live);
    if (
      (this.#used + values) * 2 > this.#keys.length ||
      (this.#wholeUsed + values) * 2 > this.#whole.length ||
      bitWords > this.#bits.length
    ) {
      this.#rebuild(live, bitWords);
    }
    // What does not fit under the cap is made room for by evictions as the values come.
    this.#makeRoom(Math.min(chars, Math.max(0, this.#arenaCap - (this.#arenaEnd - this.#arenaStart))));
  }

  /** Adds a value (the first `n` of some compact bytes) with labels and the source that brought it (−1: none). */
  add(bytes: Uint8Array, n: number, labels: number, source: number): void {
    const existing = this.#find(bytes, n);
    if (existing !== NONE) {
      const at = existing - this.#base;
      this.#labels[at] = (this.#labels[at] as number) | labels;
      this.#addSource(existing, source);
      return;
    }
    while (this.count > 0 && (this.count >= this.#maxValues || this.#chars + n > this.#maxChars)) {
      this.#onEvict(this.#evictOldest());
    }
    if ((this.#used + 1) * 2 > this.#keys.length || (this.#wholeUsed + 1) * 2 > this.#whole.length) {
      this.#rebuild(this.count + 1, this.#bits.length);
    }
    const start = this.#reserveBytes(n);
    // A loop rather than `set(subarray)`: a view per value costs more than copying its few bytes.
    const arena = this.#arena;
    for (let i = 0; i < n; i++) arena[start + i] = bytes[i] as number;
    // Anchor the value on its least used gram: values that share a prefix (`https://`, a mail domain) would
    // otherwise pile up under one anchor and every scan of that prefix would compare them all.
    // The hashes of its grams are those #find computed. A gram the prefilter has no bit for is used by no value: it
    // wins at once, without walking chains (values sharing a prefix made those walks most of the cost of adding).
    let offset = unusedGram(this.#bits, n);
    let best = 0;
    if (offset < 0) {
      offset = 0;
      best = this.#uses(grams[0] as number);
    }
    let anchor = grams[offset] as number;
    for (let i = 1; best > 0 && i + GRAM <= n; i++) {
      const h = grams[i] as number;
      const used = this.#uses(h);
      if (used < best) {
        offset = i;
        anchor = h;
        best = used;
      }
    }
    const id = this.#newId();
    const at = id - this.#base;
    this.#start[at] = start;
    this.#length[at] = n;
    this.#offset[at] = offset;
    this.#labels[at] = labels;
    this.#source[at] = source;
    this.#hash[at] = wholeHash;
    this.#chars += n;
    this.#link(id, anchor);
    this.#linkWhole(id, wholeHash);
    setBit(this.#bits, anchor);
    const bitWords = prefilterWords(this.#bits.length, this.count);
    if (bitWords > this.#bits.length) this.#rebuild(this.count, bitWords);
  }

  #addSource(id: number, source: number): void {
    if (source < 0) return;
    const at = id - this.#base;
    if (this.#source[at] === NONE) {
      this.#source[at] = source;
      return;
    }
    const more = this.#more.get(id) ?? [];
    if (this.#source[at] === source || more.includes(source) || more.length + 1 >= SOURCES_PER_VALUE) return;
    more.push(source);
    this.#more.set(id, more);
  }

  /** How many live values have this anchor hash. */
  #uses(hash: number): number {
    if (!hasBit(this.#bits, hash)) return 0;
    let n = 0;
    for (let id = this.newest(hash); id !== NONE; id = this.older(id)) n++;
    return n;
  }

  /**
   * The id of a value already held (the first `n` bytes), found by the hash of the whole value, or NONE. Leaves that
   * hash in `wholeHash` and the hash of the gram at each offset in `grams`.
   */
  #find(bytes: Uint8Array, n: number): number {
    if (grams.length < n) grams = new Int32Array(Math.max(n, grams.length * 2));
    const gramHashes = grams;
    let h = 0;
    let whole = 0;
    for (let i = 0; i < n; i++) {
      const b = bytes[i] as number;
      const out = i >= GRAM ? (bytes[i - GRAM] as number) : 0;
      h = (Math.imul(h, BASE) + b - Math.imul(out, GRAM_POW)) | 0;
      whole = (Math.imul(whole, WHOLE_BASE) + b) | 0;
      if (i >= GRAM - 1) gramHashes[i - GRAM + 1] = h;
    }
    wholeHash = whole;
    const table = this.#whole;
    const mask = table.length - 1;
    for (let at = slotOf(whole, mask); table[at] !== 0; at = (at + 1) & mask) {
      const id = (table[at] as number) - 1;
      if (id < this.#first || this.#hash[id - this.#base] !== whole) continue;
      if (this.length(id) === n && this.matches(id, bytes, 0, n)) return id;
    }
    return NONE;
  }

  /** Puts a value in the whole-value table (it has room: see {@link add}). */
  #linkWhole(id: number, hash: number): void {
    const table = this.#whole;
    const mask = table.length - 1;
    let at = slotOf(hash, mask);
    while (table[at] !== 0) at = (at + 1) & mask;
    table[at] = id + 1;
    this.#wholeUsed++;
  }

  /** Links a value into the chain of its anchor hash (the table has room: see {@link add}). */
  #link(id: number, anchor: number): void {
    const mask = this.#keys.length - 1;
    let at = slotOf(anchor, mask);
    while (this.#heads[at] !== 0 && this.#keys[at] !== anchor) at = (at + 1) & mask;
    if (this.#heads[at] === 0) this.#used++;
    this.#chain[id - this.#base] = this.#heads[at] === 0 ? NONE : (this.#heads[at] as number) - 1;
    this.#keys[at] = anchor;
    this.#heads[at] = id + 1;
  }

  /** Evicts the oldest value; returns its labels. */
  #evictOldest(): number {
    const at = this.#first - this.#base;
    const labels = this.#labels[at] as number;
    this.#chars -= this.#length[at] as number;
    this.#arenaStart = (this.#start[at] as number) + (this.#length[at] as number);
    this.#more.delete(this.#first);
    // Chains skip evicted ids; their slots in the hash table go when it is rebuilt.
    this.#first++;
    return labels;
  }

  #newId(): number {
    if (this.#next - this.#base === this.#start.length) {
      const live = this.#next - this.#first;
      this.#resize(live * 2 > this.#start.length ? Math.min(this.#start.length * 2, this.#valuesCap) : live + 1);
    }
    return this.#next++;
  }

  /** Moves the live values to the start of the per-value arrays, with room for at least `size`. */
  #resize(size: number): void {
    const live = this.#next - this.#first;
    const shift = this.#first - this.#base;
    const length = Math.max(this.#start.length, size);
    this.#start = moved(this.#start, shift, live, length);
    this.#length = moved(this.#length, shift, live, length);
    this.#offset = moved(this.#offset, shift, live, length);
    this.#labels = moved(this.#labels, shift, live, length);
    this.#source = moved(this.#source, shift, live, length);
    this.#chain = moved(this.#chain, shift, live, length);
    this.#hash = moved(this.#hash, shift, live, length);
    this.#base = this.#first;
  }

  /** Room for `length` bytes at the end of the arena, moving live values to its start or growing it first. */
  #reserveBytes(length: number): number {
    this.#makeRoom(length);
    const start = this.#arenaEnd;
    this.#arenaEnd += length;
    return start;
  }

  /** Makes room for `length` more bytes at the end of the arena. */
  #makeRoom(length: number): void {
    if (this.#arenaEnd + length > this.#arena.length) {
      const live = this.#arenaEnd - this.#arenaStart;
      const wanted = this.#arena.length * (live + length > this.#arena.length / 2 ? 2 : 1);
      const size = Math.max(Math.min(wanted, this.#arenaCap), live + length);
      const arena = size === this.#arena.length ? this.#arena : new Uint8Array(size);
      arena.set(this.#arena.subarray(this.#arenaStart, this.#arenaEnd));
      for (let id = this.#first; id < this.#next; id++) {
        const at = id - this.#base;
        this.#start[at] = (this.#start[at] as number) - this.#arenaStart;
      }
      this.#arena = arena;
      this.#arenaEnd = live;
      this.#arenaStart = 0;
    }
  }

  /**
   * Rebuilds the hash tables (dropping evicted values) with room for `values` values, and the prefilter with
   * `bitWords` words.
   */
  #rebuild(values: number, bitWords: number): void {
    // At most a third full after a rebuild, so the next one (at half full) is at least half as many adds away.
    let size = 128;
    while (size < (values + 1) * 3) size *= 2;
    this.#keys = new Int32Array(size);
    this.#heads = new Int32Array(size);
    this.#whole = new Int32Array(size);
    this.#used = 0;
    this.#wholeUsed = 0;
    if (bitWords > this.#bits.length) this.#bits = new Uint32Array(bitWords);
    else this.#bits.fill(0);
    for (let id = this.#first; id < this.#next; id++) {
      const at = id - this.#base;
      const anchor = anchorHash(this.#arena, (this.#start[at] as number) + (this.#offset[at] as number));
      this.#link(id, anchor);
      this.#linkWhole(id, this.#hash[at] as number);
      setBit(this.#bits, anchor);
    }
  }
}

/** The first offset of the value being added (`n` bytes) whose gram has no bit in the prefilter, or -1. */
function unusedGram(bits: Uint32Array, n: number): number {
  const shift = prefilterShift(bits);
  const gramHashes = grams;
  for (let i = 0; i + GRAM <= n; i++) {
    const h = gramHashes[i] as number;
    const mask = anchorMask(h);
    if (((bits[anchorWord(h, shift)] as number) & mask) !== mask) return i;
  }
  return -1;
}

/** Words of a prefilter for `values` values: at least 32 bits per value (at most 3% set), up to 4 Mib. */
function prefilterWords(words: number, values: number): number {
  let size = words;
  while (values > size && size < 1 << 17) size *= 2;
  return size;
}

/**
 * The home slot of a hash: the product's high bits folded onto its low ones, so every slot of a table of any size can
 * be a home (the low bits of a polynomial hash alone depend on few bytes, the high half alone spans only 64 Ki slots).
 */
function slotOf(hash: number, mask: number): number {
  const x = Math.imul(hash, 0x9e3779b1);
  return (x ^ (x >>> 16)) & mask;
}

function setBit(bits: Uint32Array, hash: number): void {
  const word = anchorWord(hash, prefilterShift(bits));
  bits[word] = (bits[word] as number) | anchorMask(hash);
}

/** Whether a prefilter may hold an anchor hash (false: no value has it). */
export function hasBit(bits: Uint32Array, hash: number): boolean {
  const mask = anchorMask(hash);
  return ((bits[anchorWord(hash, prefilterShift(bits))] as number) & mask) === mask;
}

/** How far {@link anchorWord} shifts for a prefilter (a power of two of words). */
export function prefilterShift(bits: Uint32Array): number {
  return Math.clz32(bits.length) + 1;
}

/**
 * The prefilter is blocked: an anchor hash sets two bits of one word, so a test reads one word, and at 32 bits a value
 * two bits pass about a fifth as many absent hashes as one (0.6% against 3%). The word comes from a multiply of the
 * whole hash, the bits from its top, which in a polynomial hash depend on every byte.
 */
export function anchorWord(hash: number, shift: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> shift;
}

/** The two bits of its word an anchor hash sets; see {@link anchorWord}. */
export function anchorMask(hash: number): number {
  return (1 << (hash >>> 27)) | (1 << ((hash >>> 22) & 31));
}

/** `count` elements of an array from `from` on, at the start of an array of `size` (the same one when it fits). */
function moved<T extends Int32Array | Uint16Array | Uint8Array>(
  array: T,
  from: number,
  count: number,
  size: number,
): T {
  const out = (size === array.length ? array : new (array.constructor as new (n: number) => T)(size)) as T;
  out.set(array.subarray(from, from + count) as T);
  return out;
}
