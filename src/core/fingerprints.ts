/**
 * A bounded set of text fingerprints with label bits: 29-bit tags (the top of a gram's hash) and 3 label bits per
 * 32-bit slot, in 16-slot buckets with two choices, behind a bit filter (6 to 12 bits per slot, three per tag) so
 * that looking up an absent fingerprint, the common case when an argument is checked, reads one word. Buckets and
 * filter bits derive from the tag, so the table can grow without keeping the original hashes.
 */

const BUCKET = 16;
const MIN_TABLE_BITS = 6;
const MIN_BUCKETS = 1 << MIN_TABLE_BITS;
/** Fill at which the table doubles, while it may. */
const LOAD = 0.85;

/** Scratch of {@link FingerprintTable.probeAll}: the first slot of both buckets of each look-up. */
let heads = new Uint32Array(256);

/** The finalizer of MurmurHash3: spreads a 32-bit hash over all bits. */
export function mix(h: number): number {
  let x = h | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Fingerprint table; see the module comment. */
export class FingerprintTable {
  readonly #maxBuckets: number;
  #buckets = MIN_BUCKETS;
  #slots = new Uint32Array(BUCKET * MIN_BUCKETS);
  /** Slots used per bucket: a bucket fills from its start and slots are never freed. */
  #fill = new Uint8Array(MIN_BUCKETS);
  #filter = new Int32Array(filterWords(MIN_BUCKETS));
  #filterShift = filterShift(MIN_BUCKETS);
  #count = 0;
  /** The count above which the table grows: its load limit. */
  #limit = Math.floor(BUCKET * MIN_BUCKETS * LOAD);

  /** `maxBits`: log2 of the most 16-slot buckets the table may grow to. */
  constructor(maxBits: number) {
    this.#maxBuckets = 2 ** Math.max(MIN_TABLE_BITS, maxBits);
  }

  /** Fingerprints held. */
  get count(): number {
    return this.#count;
  }

  /** Slots allocated. */
  get size(): number {
    return this.#slots.length;
  }

  /** Bytes allocated. */
  get bytes(): number {
    return this.#slots.byteLength + this.#fill.byteLength + this.#filter.byteLength;
  }

  /** Grows the table once, ahead of `more` insertions, instead of step by step. */
  reserve(more: number): void {
    const needed = Math.ceil((this.#count + more) / (BUCKET * LOAD));
    if (needed > this.#buckets) this.#grow(needed);
  }

  /** Adds labels to the fingerprint of a hash; returns false when it does not fit (the caller records the loss). */
  add(hash: number, labels: number): boolean {
    return this.#add(hash >>> 3 || 1, labels);
  }

  /** Label bits of the fingerprint of a hash, 0 when absent. */
  get(hash: number): number {
    return this.mayHold(hash) ? this.probe(hash) : 0;
  }

  /** The filter, for a caller that tests many hashes without a branch each (see {@link filterBit}). */
  get filter(): Int32Array {
    return this.#filter;
  }

  /** The shift {@link filterBit} takes for the current filter. */
  get filterShift(): number {
    return this.#filterShift;
  }

  /** Whether the table may hold the fingerprint of a hash (false: it surely does not). */
  mayHold(hash: number): boolean {
    return filterBit(this.#filter, this.#filterShift, hash) !== 0;
  }

  /** Label bits of the fingerprint of a hash, 0 when absent, from the buckets (the filter is not consulted). */
  probe(hash: number): number {
    const tag = hash >>> 3 || 1;
    const one = this.#first(tag);
    let at = this.#find(one, tag);
    if (at < 0) at = this.#find(this.#second(tag, one), tag);
    return at < 0 ? 0 : (this.#slots[at] as number) & 7;
  }

  /**
   * {@link probe} of the hashes at the first `count` of `positions`, each written into `labels` at its position;
   * returns the union of the labels. The buckets are read first in a loop of independent reads, so their cache
   * misses overlap, and only then searched.
   */
  probeAll(hashes: Int32Array, positions: Int32Array, count: number, labels: Uint8Array): number {
    if (heads.length < count * 2) heads = new Uint32Array(Math.max(count * 2, heads.length * 2));
    const slots = this.#slots;
    for (let k = 0; k < count; k++) {
      const tag = (hashes[positions[k] as number] as number) >>> 3 || 1;
      const one = this.#first(tag);
      heads[2 * k] = slots[one * BUCKET] as number;
      heads[2 * k + 1] = slots[this.#second(tag, one) * BUCKET] as number;
    }
    let any = 0;
    for (let k = 0; k < count; k++) {
      const p = positions[k] as number;
      const tag = (hashes[p] as number) >>> 3 || 1;
      // Most look-ups end at the first slot of a bucket (its oldest tag) or need the rest, now in cache.
      const one = heads[2 * k] as number;
      const two = heads[2 * k + 1] as number;
      const label = one >>> 3 === tag ? one & 7 : two >>> 3 === tag ? two & 7 : this.probe(hashes[p] as number);
      labels[p] = label;
      any |= label;
    }
    return any;
  }

  /**
   * {@link add} of the first `count` hashes, all with the same labels; false when one did not fit. The common case, a
   * new fingerprint with room in a bucket, runs here with the table in local variables; the rest goes through
   * {@link add}'s own path, which may find the fingerprint held already or grow the table.
   */
  addAll(hashes: Int32Array, count: number, labels: number): boolean {
    let ok = true;
    let slots = this.#slots;
    let fill = this.#fill;
    let filter = this.#filter;
    let shift = this.#filterShift;
    let buckets = this.#buckets;
    // firstBucket and secondBucket, written out with the scale computed once (the same products: both are exact).
    let scale = buckets * 2 ** -32;
    // The count lives in a local while the loop runs; past the load limit the table grows, while it may.
    let held = this.#count;
    let limit = this.#growLimit();
    for (let k = 0; k < count; k++) {
      const tag = (hashes[k] as number) >>> 3 || 1;
      const word = filterWord(tag) >>> shift;
      const mask = filterMask(tag);
      const one = (mix(tag) * scale) | 0;
      let two = (mix(tag ^ SECOND) * scale) | 0;
      if (two === one) two = (two + 1) % buckets;
      const a = fill[one] as number;
      const b = fill[two] as number;
      const fresh = ((filter[word] as number) & mask) !== mask && (a < BUCKET || b < BUCKET);
      if (fresh) {
        // #put, written out: a call per fingerprint here made indexing a tenth slower.
        const second = (b - a) >> 31;
        const used = a ^ ((a ^ b) & second);
        const bucket = one ^ ((one ^ two) & second);
        slots[bucket * BUCKET + used] = ((tag << 3) | labels) >>> 0;
        fill[bucket] = used + 1;
        filter[word] = (filter[word] as number) | mask;
        held++;
        if (held <= limit) continue;
        this.#count = held;
        this.#grow(this.#buckets * 2);
      } else {
        this.#count = held;
        if (!this.#add(tag, labels)) ok = false;
      }
      slots = this.#slots;
      fill = this.#fill;
      filter = this.#filter;
      shift = this.#filterShift;
      buckets = this.#buckets;
      scale = buckets * 2 ** -32;
      held = this.#count;
      limit = this.#growLimit();
    }
    this.#count = held;
    return ok;
  }

  /** The count past which an insertion grows the table: its load limit, or none once it cannot grow. */
  #growLimit(): number {
    return this.#buckets < this.#maxBuckets ? this.#limit : Number.POSITIVE_INFINITY;
  }

  #add(tag: number, labels: number): boolean {
    const word = filterWord(tag) >>> this.#filterShift;
    const mask = filterMask(tag);
    const filter = this.#filter;
    const one = this.#first(tag);
    const two = this.#second(tag, one);
    if (((filter[word] as number) & mask) === mask) {
      let at = this.#find(one, tag);
      if (at < 0) at = this.#find(two, tag);
      if (at >= 0) {
        this.#slots[at] = (this.#slots[at] as number) | labels;
        return true;
      }
    }
    const fill = this.#fill;
    const a = fill[one] as number;
    const b = fill[two] as number;
    if (a === BUCKET && b === BUCKET) return this.#grow(this.#buckets * 2) && this.#add(tag, labels);
    this.#put(tag, labels, one, two, a, b, word, mask);
    if (this.#count > this.#limit) this.#grow(this.#buckets * 2);
    return true;
  }

  /**
   * Puts a new tag into the emptier of its buckets `one` and `two` (filled to `a` and `b`, not both full) and sets
   * its filter bits. Two choices, the emptier bucket wins: that is what lets the table fill to 85% without
   * overflowing. Chosen by a mask (all ones when the second is emptier), not a branch: which one is emptier is a coin
   * toss that the processor would mispredict half the time.
   */
  #put(tag: number, labels: number, one: number, two: number, a: number, b: number, word: number, mask: number) {
    const second = (b - a) >> 31;
    const bucket = one ^ ((one ^ two) & second);
    const used = a ^ ((a ^ b) & second);
    this.#slots[bucket * BUCKET + used] = ((tag << 3) | labels) >>> 0;
    this.#fill[bucket] = used + 1;
    this.#filter[word] = (this.#filter[word] as number) | mask;
    this.#count++;
  }

  // Buckets by multiply-and-scale (any bucket count, not only powers of two, so the table grows in finer steps). The
  // product is below the bucket count, so `| 0` floors it, and as an integer the bucket indexes slots without
  // conversions from floating point.
  #first(tag: number): number {
    return firstBucket(tag, this.#buckets);
  }

  #second(tag: number, first: number): number {
    return secondBucket(tag, first, this.#buckets);
  }

  /** The slot of a tag in a bucket, or -1. */
  #find(bucket: number, tag: number): number {
    const slots = this.#slots;
    const start = bucket * BUCKET;
    const end = start + (this.#fill[bucket] as number);
    for (let i = start; i < end; i++) if ((slots[i] as number) >>> 3 === tag) return i;
    return -1;
  }

  /** Grows to `wanted` buckets, by at least half and at most to the limit; false when at the limit already. */
  #grow(wanted: number): boolean {
    if (this.#buckets >= this.#maxBuckets) return false;
    const old = this.#slots;
    this.#buckets = Math.min(Math.max(wanted, Math.ceil(this.#buckets * 1.5)), this.#maxBuckets);
    this.#slots = new Uint32Array(BUCKET * this.#buckets);
    this.#fill = new Uint8Array(this.#buckets);
    this.#filter = new Int32Array(filterWords(this.#buckets));
    this.#filterShift = filterShift(this.#buckets);
    this.#count = 0;
    this.#limit = Math.floor(this.#slots.length * LOAD);
    // Re-adding into a larger table cannot fail in practice; a slot that did not fit would be a lost fingerprint,
    // so the caller is told through the return value like any other loss.
    let ok = true;
    for (const slot of old) if (slot !== 0 && !this.#add(slot >>> 3, slot & 7)) ok = false;
    return ok;
  }
}

/** What a tag is xored with for its second bucket. */
const SECOND = 0x27d4eb2f;

function firstBucket(tag: number, buckets: number): number {
  return (mix(tag) * buckets * 2 ** -32) | 0;
}

function secondBucket(tag: number, first: number, buckets: number): number {
  const two = (mix(tag ^ SECOND) * buckets * 2 ** -32) | 0;
  return two === first ? (two + 1) % buckets : two;
}

/**
 * The filter is blocked: a tag sets three bits of one 32-bit word, so a lookup reads one word (one cache miss); at
 * the table's full load three bits pass about 40% fewer absent tags than two (1.4% against 2.2%), and each absent
 * tag that passes costs a scan the look-ups around it. Word and bits come from one multiply, as cheap as possible
 * because an argument is looked up at every position: the word from the product's top bits, which depend on every
 * bit of the tag, the bits from its low ones (with 10 MB of random text seen, 5.7% of absent grams pass, as with a
 * multiply each); the tag is the top of a polynomial hash, whose high bits already depend on every byte.
 */
function filterWord(tag: number): number {
  return Math.imul(tag, 0x2c1b3c6d);
}

function filterMask(tag: number): number {
  const m = Math.imul(tag, 0x2c1b3c6d);
  return (1 << (m & 31)) | (1 << ((m >>> 5) & 31)) | (1 << ((m >>> 10) & 31));
}

/** 1 when the table may hold the fingerprint of a hash, 0 when it surely does not; without a branch. */
export function filterBit(filter: Int32Array, shift: number, hash: number): number {
  const tag = hash >>> 3 || 1;
  const mask = filterMask(tag);
  return ((filter[filterWord(tag) >>> shift] as number) & mask) === mask ? 1 : 0;
}

/** log2 of the filter's size in bits: the smallest power of two with at least 6 bits per slot. */
function filterLog(buckets: number): number {
  return Math.max(6, Math.ceil(Math.log2(buckets * BUCKET * 6)));
}

function filterWords(buckets: number): number {
  return 2 ** (filterLog(buckets) - 5);
}

/** How far a word hash shifts right to index a word of the filter. */
function filterShift(buckets: number): number {
  return 32 - (filterLog(buckets) - 5);
}
