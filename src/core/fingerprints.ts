/**
 * A bounded set of text fingerprints with label bits: 29-bit tags and 3 label bits per 32-bit slot, in 16-slot buckets
 * with two choices, behind a bit filter (6 to 12 bits per slot) so that looking up an absent fingerprint, the common case
 * when an argument is checked, reads one bit. Buckets and filter bits derive from the tag, so the table can grow
 * without keeping the original hashes.
 */

const BUCKET = 16;
const MIN_TABLE_BITS = 6;
const MIN_BUCKETS = 1 << MIN_TABLE_BITS;
/** Fill at which the table doubles, while it may. */
const LOAD = 0.85;

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
    return this.#add(mix(hash) >>> 3 || 1, labels);
  }

  /** Label bits of the fingerprint of a hash, 0 when absent. */
  get(hash: number): number {
    const tag = mix(hash) >>> 3 || 1;
    const f = Math.imul(tag, 0x2c1b3c6d) >>> this.#filterShift;
    if (((this.#filter[f >>> 5] as number) & (1 << (f & 31))) === 0) return 0;
    const one = this.#first(tag);
    let at = this.#find(one, tag);
    if (at < 0) at = this.#find(this.#second(tag, one), tag);
    return at < 0 ? 0 : (this.#slots[at] as number) & 7;
  }

  #add(tag: number, labels: number): boolean {
    const f = Math.imul(tag, 0x2c1b3c6d) >>> this.#filterShift;
    const word = f >>> 5;
    const bit = 1 << (f & 31);
    const filter = this.#filter;
    const one = this.#first(tag);
    const two = this.#second(tag, one);
    if ((filter[word] as number) & bit) {
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
    // Two choices, the emptier bucket wins: that is what lets the table fill to 85% without overflowing.
    const bucket = a <= b ? one : two;
    const used = a <= b ? a : b;
    this.#slots[bucket * BUCKET + used] = ((tag << 3) | labels) >>> 0;
    fill[bucket] = used + 1;
    filter[word] = (filter[word] as number) | bit;
    this.#count++;
    if (this.#count > this.#slots.length * LOAD) this.#grow(this.#buckets * 2);
    return true;
  }

  // Buckets by multiply-and-scale (any bucket count, not only powers of two, so the table grows in finer steps).
  #first(tag: number): number {
    return Math.floor((Math.imul(tag, 0x9e3779b1) >>> 0) * this.#buckets * 2 ** -32);
  }

  #second(tag: number, first: number): number {
    const two = Math.floor(mix(tag ^ 0x27d4eb2f) * this.#buckets * 2 ** -32);
    return two === first ? (two + 1) % this.#buckets : two;
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
    // Re-adding into a larger table cannot fail in practice; a slot that did not fit would be a lost fingerprint,
    // so the caller is told through the return value like any other loss.
    let ok = true;
    for (const slot of old) if (slot !== 0 && !this.#add(slot >>> 3, slot & 7)) ok = false;
    return ok;
  }
}

/** log2 of the filter's size in bits: the smallest power of two with at least 6 bits per slot. */
function filterLog(buckets: number): number {
  return Math.max(5, Math.ceil(Math.log2(buckets * BUCKET * 6)));
}

function filterWords(buckets: number): number {
  return 2 ** (filterLog(buckets) - 5);
}

function filterShift(buckets: number): number {
  return 32 - filterLog(buckets);
}
