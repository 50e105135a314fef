import { Buffer } from 'node:buffer';
import { canonicalJson } from '../core/canonical.ts';
import type { AuditEvent, AuditLog } from './types.ts';

/** Marks an object on a tape: followed by its key count, then key and value pairs. */
const OBJECT = Symbol('object');
/** Marks an array on a tape: followed by its length, then its items. */
const ARRAY = Symbol('array');
/** One event as a flat array of its keys, primitive values and structure marks. */
type Tape = unknown[];

/**
 * Sizes of the storage chunks: the first is small (many guards log little), each next one twice the last, up to
 * about 1,500 guarded calls' events.
 */
const FIRST_CHUNK_BYTES = 1 << 14;
const MAX_CHUNK_BYTES = 1 << 20;
/** Events on tape that make the log write them out at the next free turn of the event loop (in one hot batch). */
const WRITE_AFTER = 64;
/** Most events written out per turn of the event loop, so writing them out never holds the loop for long. */
const WRITE_BATCH = 512;

/**
 * Audit events kept in memory (for tests and short-lived processes; not tamper-evident: the durable SQLite log in
 * `src/audit` chains and signs its records).
 *
 * An append copies the event onto a tape, one flat array of its keys and primitive values: strings are immutable,
 * so the tape is a copy the caller cannot change, taken in one walk that also checks the event is JSON. Once a few
 * dozen tapes wait, they are written out at the next free turn of the event loop as UTF-8 JSON in large chunks
 * outside the JavaScript heap, where the collector neither copies nor traces them. The JSON text, which costs more
 * than the walk, is thus written off the guarded call's path; reading the log first writes out what is on tape.
 * Calls that never let the event loop turn (a batch job awaiting only promises) keep their events on tape, about
 * 1.2 KB each on the heap, until it does: writing them out inline instead made such runs slower at p99.
 */
export class MemoryAuditLog implements AuditLog {
  readonly #chunks: { bytes: Buffer; used: number }[] = [];
  /** Appended events not yet written out, oldest first. */
  #tapes: Tape[] = [];
  #written = 0;
  #scheduled = false;

  /** How many events were appended. */
  get size(): number {
    return this.#written + this.#tapes.length;
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
    const tape: Tape = [];
    // The same contract as a durable log: only JSON values can be recorded. `canonicalJson` explains a refusal (it
    // throws for every value the walk refuses).
    if (!record(event, tape, [])) {
      canonicalJson(event);
      throw new Error('audit event is not JSON');
    }
    this.#tapes.push(tape);
    if (!this.#scheduled && this.#tapes.length >= WRITE_AFTER) {
      this.#scheduled = true;
      setImmediate(() => this.#writeOutLater());
    }
  }

  async close(): Promise<void> {}

  #writeOutLater(): void {
    this.#writeOut(WRITE_BATCH);
    if (this.#tapes.length >= WRITE_AFTER) setImmediate(() => this.#writeOutLater());
    else this.#scheduled = false;
  }

  /** Writes up to `most` of the oldest tapes out as length-prefixed UTF-8 JSON records. */
  #writeOut(most: number): void {
    const count = Math.min(most, this.#tapes.length);
    for (let i = 0; i < count; i++) this.#writeRecord(JSON.stringify(play({ tape: this.#tapes[i] as Tape, at: 0 })));
    this.#tapes = count === this.#tapes.length ? [] : this.#tapes.slice(count);
    this.#written += count;
  }

  #writeRecord(text: string): void {
    let chunk = this.#chunks.at(-1);
    // UTF-8 needs at most three bytes per UTF-16 code unit; the exact length is counted only near a chunk's end.
    const room = chunk ? chunk.bytes.length - chunk.used - 4 : -1;
    if (!chunk || (room < 3 * text.length && room < Buffer.byteLength(text))) {
      const size = Math.min(MAX_CHUNK_BYTES, chunk ? 2 * chunk.bytes.length : FIRST_CHUNK_BYTES);
      chunk = { bytes: Buffer.allocUnsafeSlow(Math.max(size, 4 + 3 * text.length)), used: 0 };
      this.#chunks.push(chunk);
    }
    const written = chunk.bytes.write(text, chunk.used + 4);
    chunk.bytes.writeUInt32BE(written, chunk.used);
    chunk.used += 4 + written;
  }
}

/**
 * Copies a value onto a tape, checking on the way that it is what `canonicalJson` accepts: JSON values in plain
 * objects and arrays, no cycles; `undefined` only as an object property (left out). `for...in` is the fastest walk;
 * inherited keys are skipped as `Object.keys` would.
 */
function record(value: unknown, tape: Tape, ancestors: object[]): boolean {
  if (value === null) {
    tape.push(null);
    return true;
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      tape.push(value);
      return true;
    case 'number':
      tape.push(value);
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (ancestors.includes(value)) return false;
  ancestors.push(value);
  if (Array.isArray(value)) {
    tape.push(ARRAY, value.length);
    for (let i = 0; i < value.length; i++) if (!record(value[i], tape, ancestors)) return false;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    const entries = value as Record<string, unknown>;
    tape.push(OBJECT, 0);
    const countAt = tape.length - 1;
    let count = 0;
    for (const key in entries) {
      const item = entries[key];
      if (item === undefined || !Object.hasOwn(entries, key)) continue;
      tape.push(key);
      if (!record(item, tape, ancestors)) return false;
      count++;
    }
    tape[countAt] = count;
  }
  ancestors.pop();
  return true;
}

/** Rebuilds the value a tape holds, from `reader.at` on. */
function play(reader: { tape: Tape; at: number }): unknown {
  const { tape } = reader;
  const item = tape[reader.at++];
  if (item === ARRAY) {
    const length = tape[reader.at++] as number;
    const out: unknown[] = [];
    for (let i = 0; i < length; i++) out.push(play(reader));
    return out;
  }
  if (item !== OBJECT) return item;
  const count = tape[reader.at++] as number;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const key = tape[reader.at++] as string;
    const value = play(reader);
    // A key `__proto__` is an own property in JSON, not the object's prototype.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}
