import { Buffer } from 'node:buffer';
import { canonicalJson } from '../core/canonical.ts';
import { NO_ROOM, UNWRITABLE, writeCanonicalJson, writeSafeInteger } from '../store/tape.ts';
import type { AuditEvent } from '../store/types.ts';

/** The record format version this release writes and reads. */
export const RECORD_VERSION = 1;

/** The `prev` of the first record. */
export const GENESIS_PREV = '0'.repeat(64);

/** One audit record: an event with its place in the chain. Its canonical JSON text is what is hashed. */
export interface AuditRecord {
  v: 1;
  /** Record number, from 1, without gaps. */
  seq: number;
  /** Leaf hash (hex) of the previous record; {@link GENESIS_PREV} for record 1. */
  prev: string;
  /** When the log wrote it, in milliseconds since the epoch. */
  at: number;
  event: AuditEvent & { redacted?: string[] };
}

/** Bytes of the record buffers; they grow to fit the largest event seen. */
const INITIAL_BYTES = 4096;
/** Bytes a record adds around its event: the fixed field names and marks, two numbers and `prev`. */
const RECORD_OVERHEAD = 160;
let eventScratch = Buffer.allocUnsafeSlow(INITIAL_BYTES);
let recordScratch = Buffer.allocUnsafeSlow(INITIAL_BYTES + RECORD_OVERHEAD);

/**
 * The canonical JSON of an event as UTF-8 bytes, in a buffer of its own (written straight from the value, without the
 * strings `canonicalJson` concatenates: every append pays for it). Throws `canonicalJson`'s error for a value it
 * refuses.
 */
export function eventBytes(event: unknown): Buffer {
  for (;;) {
    const end = writeCanonicalJson(event, eventScratch, 0);
    if (end === UNWRITABLE) {
      canonicalJson(event);
      throw new Error('audit event is not JSON');
    }
    if (end !== NO_ROOM) {
      const bytes = Buffer.allocUnsafe(end);
      eventScratch.copy(bytes, 0, 0, end);
      return bytes;
    }
    eventScratch = Buffer.allocUnsafeSlow(2 * eventScratch.length);
  }
}

/**
 * The input of a record's leaf hash: a 0x00 byte, then the canonical text of the record (keys sorted, as
 * `canonicalJson` writes it) as UTF-8, built around an event already in canonical JSON bytes ({@link eventBytes}).
 * The bytes are valid until the next call; the record text is `subarray(1)`.
 */
export function leafInput(seq: number, prev: string, at: number, event: Uint8Array): Buffer {
  if (recordScratch.length < event.length + RECORD_OVERHEAD) {
    recordScratch = Buffer.allocUnsafeSlow(2 * (event.length + RECORD_OVERHEAD));
  }
  const bytes = recordScratch;
  bytes[0] = 0;
  let end = 1 + bytes.write('{"at":', 1, 'latin1');
  end = writeNumber(bytes, end, at);
  end += bytes.write(',"event":', end, 'latin1');
  bytes.set(event, end);
  end += event.length;
  end += bytes.write(',"prev":"', end, 'latin1');
  end += bytes.write(prev, end, 'latin1');
  end += bytes.write('","seq":', end, 'latin1');
  end = writeNumber(bytes, end, seq);
  end += bytes.write(`,"v":${RECORD_VERSION}}`, end, 'latin1');
  return bytes.subarray(0, end);
}

/** Writes a number as JSON writes it; the digits of a safe integer directly, without making its text. */
function writeNumber(bytes: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n)) return at + bytes.write(JSON.stringify(n), at, 'latin1');
  return writeSafeInteger(bytes, at, n);
}

/** The chain fields of a record text: its number, its version, and where its 64-digit `prev` starts. */
export interface RecordTail {
  seq: number;
  v: number;
  /** Index of the first hex digit of `prev` in the text; compare with `text.startsWith(expected, prevAt)`. */
  prevAt: number;
}

const PREV_MARK = ',"prev":"';

/**
 * Reads `seq`, `v` and the position of `prev` from the fixed tail of a record text without parsing the event:
 * `...,"prev":"<64 hex>","seq":<n>,"v":<n>}`. Undefined when the text does not end that way. Verification hashes
 * every record, so this runs once per record and avoids regular expressions and substrings.
 */
export function readTail(text: string): RecordTail | undefined {
  const end = text.length - 1;
  if (text.charCodeAt(end) !== 125 || !text.startsWith('{"at":')) return undefined;
  const vAt = text.lastIndexOf(',"v":', end);
  const v = digits(text, vAt + 5, end);
  const seqAt = text.lastIndexOf(',"seq":', vAt);
  const seq = digits(text, seqAt + 7, vAt);
  if (vAt < 0 || seqAt < 74 || v === undefined || seq === undefined) return undefined;
  if (text.charCodeAt(seqAt - 1) !== 34 || !text.startsWith(PREV_MARK, seqAt - 74)) return undefined;
  return { seq, v, prevAt: seqAt - 65 };
}

/** A positive decimal integer written exactly in `text[from, to)`, without leading zeros. */
function digits(text: string, from: number, to: number): number | undefined {
  if (to <= from || to - from > 15 || text.charCodeAt(from) === 48) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n;
}

/** Why a record text could not be read. */
export type RecordProblem = { code: 'malformed' | 'unsupported_version'; message: string };

/**
 * Parses and checks a record text in full: JSON, the version, the fields, an event with a type, and canonical form
 * (a record that is not byte-for-byte canonical was not written by a ruleoftwo log).
 */
export function parseRecord(text: string): { ok: true; record: AuditRecord } | { ok: false; problem: RecordProblem } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: { code: 'malformed', message: 'not JSON' } };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, problem: { code: 'malformed', message: 'not a JSON object' } };
  }
  const r = value as Record<string, unknown>;
  if (r.v !== RECORD_VERSION) {
    return typeof r.v === 'number' && Number.isInteger(r.v) && r.v > RECORD_VERSION
      ? {
          ok: false,
          problem: {
            code: 'unsupported_version',
            message: `record format version ${r.v}; this release reads version ${RECORD_VERSION}`,
          },
        }
      : { ok: false, problem: { code: 'malformed', message: `invalid record version \`${String(r.v)}\`` } };
  }
  const keys = Object.keys(r).sort().join(',');
  if (keys !== 'at,event,prev,seq,v') {
    return { ok: false, problem: { code: 'malformed', message: `unexpected fields \`${keys}\`` } };
  }
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) {
    return { ok: false, problem: { code: 'malformed', message: 'invalid `seq`' } };
  }
  if (typeof r.prev !== 'string' || !/^[0-9a-f]{64}$/.test(r.prev)) {
    return { ok: false, problem: { code: 'malformed', message: 'invalid `prev`' } };
  }
  if (!Number.isSafeInteger(r.at)) return { ok: false, problem: { code: 'malformed', message: 'invalid `at`' } };
  const event = r.event as Record<string, unknown> | null;
  if (event === null || typeof event !== 'object' || Array.isArray(event) || typeof event.type !== 'string') {
    return { ok: false, problem: { code: 'malformed', message: 'the event has no `type`' } };
  }
  let canonical: string;
  try {
    canonical = canonicalJson(value);
  } catch (error) {
    // JSON.parse accepts numbers such as 1e999 (Infinity) that canonical JSON refuses: a tampered record.
    return { ok: false, problem: { code: 'malformed', message: `not canonical JSON: ${(error as Error).message}` } };
  }
  if (canonical !== text) {
    return { ok: false, problem: { code: 'malformed', message: 'not in canonical form' } };
  }
  return { ok: true, record: value as AuditRecord };
}
