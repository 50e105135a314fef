import { Buffer } from 'node:buffer';
import { canonicalJson } from '../core/canonical.ts';
import { NO_ROOM, recordTape, type Tape, writeTapeJson } from './tape.ts';
import type { AuditEvent, AuditLog } from './types.ts';

/**
 * Sizes of the storage chunks: the first is small (many guards log little), each next one twice the last, up to
 * about 2,000 guarded calls' events; an event larger than that gets a chunk of its own.
 */
const FIRST_CHUNK_BYTES = 1 << 14;
const MAX_CHUNK_BYTES = 1 << 20;
/**
 * Events on tape that make the log write them out at the next free turn of the event loop: one guarded call in about
 * 250 then starts with caches the write-out cooled (with 64, one in 32 did, which showed at p99).
 */
export const WRITE_AFTER = 512;
/** Most events written out per turn of the event loop (about a millisecond), so the loop is never held for long. */
const WRITE_BATCH = 512;
/**
 * Most events kept on tape (about 2.5 MB of heap): when the event loop does not turn, an append that reaches this
 * writes the older half out itself. One call in about 1,000 pays for that (a few milliseconds); paying a little in
 * every call instead made every call slower, and a larger bound made the collector's work (and p99) grow.
 */
export const MAX_ON_TAPE = 4096;
/** Takes a written tape's place until the array of tapes is compacted. */
const WRITTEN: Tape = [];

/**
 * Audit events kept in memory (for tests and short-lived processes; not tamper-evident: the durable SQLite log in
 * `src/audit` chains and signs its records).
 *
 * An append copies the event onto a tape (see `tape.ts`), in one walk that also checks the event is JSON. Once a few
 * hundred tapes wait, they are written out at the next free turn of the event loop, straight from the tape as UTF-8
 * JSON bytes, into large chunks outside the JavaScript heap where the collector neither copies nor traces them. The
 * JSON, which costs more than the walk, is thus written off the guarded call's path, in batches far apart, so few
 * calls meet the caches it cooled. Reading the log first writes out what is on tape. Calls that never let the event
 * loop turn (a batch job awaiting only promises) keep their events on tape (about 0.6 KB each on the heap) up to
 * {@link MAX_ON_TAPE}, when an append writes half of them out itself.
 */
export class MemoryAuditLog implements AuditLog {
  readonly #chunks: { bytes: Buffer; used: number }[] = [];
  /** Appended events not yet written out, oldest first from `#first`. */
  #tapes: Tape[] = [];
  #first = 0;
  #written = 0;
  #scheduled = false;

  /** How many events were appended. */
  get size(): number {
    return this.#written + this.onTape;
  }

  /** How many appended events wait on tape, on the heap, to be written out (at most {@link MAX_ON_TAPE}). */
  get onTape(): number {
    return this.#tapes.length - this.#first;
  }

  /** The events appended so far, in order (fresh copies on every read). */
  get events(): AuditEvent[] {
    this.#writeOut(Number.POSITIVE_INFINITY);
    const out: AuditEvent[] = [];
    for (const { bytes, used } of this.#chunks) {
      for (let at = 0; at < used; ) {
        const end = at + 4 + bytes.readUInt32BE(at);
        out.push(JSON.parse(bytes.toString('utf8', at + 4, end)) as AuditEvent);
        at = end;
      }
    }
    return out;
  }

  async append(event: AuditEvent): Promise<void> {
    // The same contract as a durable log: only JSON values can be recorded. `canonicalJson` explains a refusal (it
    // throws for every value the walk refuses).
    const tape = recordTape(event);
    if (!tape) {
      canonicalJson(event);
      throw new Error('audit event is not JSON');
    }
    this.#tapes.push(tape);
    const waiting = this.onTape;
    // INVARIANT: memory stays bounded when the event loop never turns (test/store/memory-audit.test.ts "never turns").
    if (waiting >= MAX_ON_TAPE) this.#writeOut(MAX_ON_TAPE / 2);
    else if (!this.#scheduled && waiting >= WRITE_AFTER) {
      this.#scheduled = true;
      setImmediate(() => this.#writeOutLater());
    }
  }

  async close(): Promise<void> {}

  #writeOutLater(): void {
    this.#writeOut(WRITE_BATCH);
    if (this.onTape >= WRITE_AFTER) setImmediate(() => this.#writeOutLater());
    else this.#scheduled = false;
  }

  /** Writes up to `most` of the oldest events on tape out as length-prefixed records, in order. */
  #writeOut(most: number): void {
    const tapes = this.#tapes;
    const last = Math.min(tapes.length, this.#first + most);
    for (let i = this.#first; i < last; i++) {
      this.#writeRecord(tapes[i] as Tape);
      // A written tape is let go at once; the array is compacted once half of it is written.
      tapes[i] = WRITTEN;
    }
    this.#written += last - this.#first;
    this.#first = last;
    if (last === tapes.length) {
      this.#tapes = [];
      this.#first = 0;
    } else if (last > tapes.length / 2) {
      this.#tapes = tapes.slice(last);
      this.#first = 0;
    }
  }

  /** Writes an event's tape at the end of the last chunk, or of a new one when it does not fit. */
  #writeRecord(tape: Tape): void {
    let chunk = this.#chunks.at(-1);
    let fresh = false;
    for (;;) {
      if (chunk) {
        const end = writeTapeJson(tape, chunk.bytes, chunk.used + 4);
        if (end !== NO_ROOM) {
          chunk.bytes.writeUInt32BE(end - chunk.used - 4, chunk.used);
          chunk.used = end;
          return;
        }
      }
      // A new chunk twice the last; one the record did not fit in while empty is replaced by one twice its size.
      const size = chunk ? 2 * chunk.bytes.length : FIRST_CHUNK_BYTES;
      const next = { bytes: Buffer.allocUnsafeSlow(fresh ? size : Math.min(MAX_CHUNK_BYTES, size)), used: 0 };
      if (fresh) this.#chunks.pop();
      this.#chunks.push(next);
      chunk = next;
      fresh = true;
    }
  }
}
