import { Buffer } from 'node:buffer';
import { sortKeys } from '../core/canonical.ts';

/**
 * A tape: one JSON value as a flat array of its keys, primitive values and structure marks. Strings are immutable, so
 * a tape is a copy its source cannot change afterwards, and taking it costs one walk and no text.
 */
export type Tape = unknown[];

/** Marks an object on a tape: followed by its key count, then key and value pairs. */
const OBJECT = Symbol('object');
/** Marks an array on a tape: followed by its length, then its items. */
const ARRAY = Symbol('array');

/**
 * Copies a value onto a new tape, checking on the way that it is what `canonicalJson` accepts: JSON values in plain
 * objects and arrays, no cycles; `undefined` only as an object property (left out). Undefined when it is not.
 */
export function recordTape(value: unknown): Tape | undefined {
  // A fresh array per value: filling one long-lived tape instead costs more, as each store of a new string into an
  // old array is remembered for the collector.
  let tape: Tape = [];
  checkOwn = !onlyOwnKeys();
  let ok = walk(value, tape);
  if (ok && !checkOwn && !onlyOwnKeys()) {
    // A getter gave `Object.prototype` an enumerable key during the walk: walk again, checking every key. (One that
    // also took it away again before the walk ended is not seen; events are the guard's own plain data.)
    checkOwn = true;
    tape = [];
    ok = walk(value, tape);
  }
  return ok ? tape : undefined;
}

/**
 * Whether `for...in` over an object whose prototype is `Object.prototype` (or null) yields only its own keys, as it
 * does unless someone gave `Object.prototype` an enumerable property; then each key need not be checked (a third of
 * the walk's time).
 */
function onlyOwnKeys(): boolean {
  for (const _ in Object.prototype) return false;
  return true;
}

/** Objects and arrays being recorded, to refuse cycles, and whether keys must be checked (recording is synchronous). */
const ancestors: object[] = [];
let checkOwn = true;

function walk(value: unknown, tape: Tape): boolean {
  ancestors.length = 0;
  const ok = record(value, tape);
  ancestors.length = 0;
  return ok;
}

/** `for...in` is the fastest walk; inherited keys are skipped as `Object.keys` would. */
function record(value: unknown, tape: Tape): boolean {
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
    for (let i = 0; i < value.length; i++) if (!record(value[i], tape)) return false;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    const entries = value as Record<string, unknown>;
    tape.push(OBJECT, 0);
    const countAt = tape.length - 1;
    let count = 0;
    for (const key in entries) {
      const item = entries[key];
      if (item === undefined || (checkOwn && !Object.hasOwn(entries, key))) continue;
      tape.push(key);
      if (!record(item, tape)) return false;
      count++;
    }
    tape[countAt] = count;
  }
  ancestors.pop();
  return true;
}

/** {@link writeTapeJson}, {@link writeCanonicalJson}: the JSON does not fit in the buffer. */
export const NO_ROOM = -1;
/** {@link writeCanonicalJson}: the value is not one that `canonicalJson` accepts (it throws for it, naming why). */
export const UNWRITABLE = -2;

/**
 * The tape being read and its next item; the buffer being written and its next byte. Writing is synchronous, but a
 * getter met by {@link writeCanonicalJson} may run a writer of its own: each writer puts back what it found.
 */
let source: Tape = [];
let next = 0;
let out: Buffer | undefined;
let end = 0;

/**
 * Writes the value on a tape into `into` from offset `at`, as the UTF-8 bytes of what `JSON.stringify` writes for the
 * value, and returns the offset after them, or {@link NO_ROOM}. No string or object is made on the way (but for text
 * that needs escaping), so writing leaves the collector nothing.
 */
export function writeTapeJson(from: Tape, into: Buffer, at: number): number {
  const [outerSource, outerNext, outerOut, outerEnd] = [source, next, out, end];
  source = from;
  next = 0;
  out = into;
  end = at;
  try {
    // Stores past the end of a typed array are dropped, so only the end needs checking.
    return !write() || end > into.length ? NO_ROOM : end;
  } finally {
    source = outerSource;
    next = outerNext;
    out = outerOut;
    end = outerEnd;
  }
}

/** Writes the value at `next`; false when out of room. */
function write(): boolean {
  const item = source[next++];
  const bytes = out as Buffer;
  if (item === OBJECT) {
    const count = source[next++] as number;
    bytes[end++] = 0x7b;
    for (let i = 0; i < count; i++) {
      if (i > 0) bytes[end++] = 0x2c;
      if (!quote(source[next++] as string)) return false;
      bytes[end++] = 0x3a;
      if (!write()) return false;
    }
    bytes[end++] = 0x7d;
    return true;
  }
  if (item === ARRAY) {
    const length = source[next++] as number;
    bytes[end++] = 0x5b;
    for (let i = 0; i < length; i++) {
      if (i > 0) bytes[end++] = 0x2c;
      if (!write()) return false;
    }
    bytes[end++] = 0x5d;
    return true;
  }
  if (typeof item === 'string') return quote(item);
  // Number-to-text is JSON.stringify's for every finite number (-0 included: both write 0).
  return ascii(item === null ? 'null' : String(item));
}

/** Writes text that is printable ASCII without quotes or backslashes (literals and numbers). */
function ascii(text: string): boolean {
  const bytes = out as Buffer;
  let at = end;
  if (at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
  end = at;
  return true;
}

/**
 * Strings at least this long are copied by native code: reading a long string char by char is slow when it was built
 * by concatenation (V8 keeps it as a rope).
 */
const NATIVE_COPY = 16;

/** Writes a JSON string literal: plain printable ASCII as is, anything else as `JSON.stringify` quotes it. */
function quote(text: string): boolean {
  const bytes = out as Buffer;
  const length = text.length;
  let at = end;
  if (at + length + 2 > bytes.length) return false;
  bytes[at++] = 0x22;
  if (length < NATIVE_COPY) {
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (!plain(c)) return quoteEscaped(text);
      bytes[at++] = c;
    }
  } else {
    // Text that is not plain ASCII writes a byte outside 0x20..0x7e, or more bytes than code units (a lone surrogate
    // is written as U+FFFD), and is written again below.
    if (bytes.write(text, at) !== length) return quoteEscaped(text);
    for (const last = at + length; at < last; at++) if (!plain(bytes[at] as number)) return quoteEscaped(text);
  }
  bytes[at++] = 0x22;
  end = at;
  return true;
}

/** A code unit written as one byte without escaping: 0x20..0x7e but a quote or a backslash. */
function plain(c: number): boolean {
  return (c - 0x20) >>> 0 <= 0x5e && c !== 0x22 && c !== 0x5c;
}

function quoteEscaped(text: string): boolean {
  const bytes = out as Buffer;
  // Well-formed JSON.stringify escapes lone surrogates, so the quoted text encodes to UTF-8 exactly.
  const quoted = JSON.stringify(text);
  // UTF-8 needs at most three bytes per UTF-16 code unit; the exact length is counted only near the end.
  const room = bytes.length - end;
  if (room < 3 * quoted.length && room < Buffer.byteLength(quoted)) return false;
  end += bytes.write(quoted, end);
  return true;
}

/** Set when {@link canonical} refuses a value, to tell that from a lack of room. */
let refused = false;
/**
 * The keys of the objects being written, each object's sorted in place at the end of its parent's: one array for
 * every object of every value, where `Object.keys` makes one per object.
 */
const keys: string[] = [];
/** The end of the keys in use in {@link keys}. */
let top = 0;
/** The objects and arrays being written, from {@link insideFrom} for the current call (see {@link ancestors}). */
const inside: object[] = [];
let insideFrom = 0;
/** Whether each key must be checked to be an object's own (see {@link onlyOwnKeys}). */
let checkOwnKeys = true;

/**
 * Writes `value` into `into` from offset `at` as the UTF-8 bytes of `canonicalJson(value)` (keys sorted by code
 * unit), and returns the offset after them, {@link NO_ROOM}, or {@link UNWRITABLE}. No string or array is made on
 * the way (but for text that needs escaping), where `canonicalJson` builds its text by concatenation: over half of
 * what the audit log allocated per record.
 */
export function writeCanonicalJson(value: unknown, into: Buffer, at: number): number {
  // A getter in `value` may write a value of its own: that call works above this one's keys and objects.
  const [outerOut, outerEnd, outerRefused, outerCheck, outerFrom, keysFrom] = [
    out,
    end,
    refused,
    checkOwnKeys,
    insideFrom,
    top,
  ];
  insideFrom = inside.length;
  try {
    out = into;
    end = at;
    refused = false;
    checkOwnKeys = !onlyOwnKeys();
    let ok = canonical(value);
    if (ok && !checkOwnKeys && !onlyOwnKeys()) {
      // As in recordTape: a getter gave `Object.prototype` an enumerable key during the walk; write again.
      checkOwnKeys = true;
      end = at;
      inside.length = insideFrom;
      top = keysFrom;
      refused = false;
      ok = canonical(value);
    }
    if (refused) return UNWRITABLE;
    return !ok || end > into.length ? NO_ROOM : end;
  } finally {
    inside.length = insideFrom;
    top = keysFrom;
    out = outerOut;
    end = outerEnd;
    refused = outerRefused;
    checkOwnKeys = outerCheck;
    insideFrom = outerFrom;
  }
}

function refuse(): boolean {
  refused = true;
  return false;
}

/** Writes one value as `canonicalJson` does; false when it is refused or out of room. */
function canonical(value: unknown): boolean {
  if (value === null) return ascii('null');
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'boolean':
      return ascii(value ? 'true' : 'false');
    case 'number':
      if (Number.isSafeInteger(value)) return integer(value);
      return Number.isFinite(value) ? ascii(String(value)) : refuse();
    case 'object':
      break;
    default:
      return refuse();
  }
  // `canonicalJson` refuses an object inside itself, not one that appears twice side by side.
  if (inside.indexOf(value, insideFrom) >= 0) return refuse();
  inside.push(value);
  const ok = Array.isArray(value) ? canonicalArray(value) : canonicalObject(value);
  if (ok) inside.pop();
  return ok;
}

/** Writes a safe integer's digits; false when out of room. */
function integer(n: number): boolean {
  end = writeSafeInteger(out as Buffer, end, n);
  return end <= (out as Buffer).length;
}

/**
 * Writes a safe integer's digits into `bytes` at `at` as `String` (and JSON) writes them, without making its text;
 * returns the offset after them. Digits past the end of `bytes` are dropped, as stores past a typed array's end are.
 */
export function writeSafeInteger(bytes: Uint8Array, at: number, n: number): number {
  let start = at;
  let rest = n;
  if (n < 0) {
    bytes[start++] = 0x2d;
    rest = -n;
  }
  let digits = 1;
  for (let above = rest; above >= 10; above = Math.floor(above / 10)) digits++;
  for (let i = start + digits - 1; i >= start; i--, rest = Math.floor(rest / 10)) bytes[i] = 48 + (rest % 10);
  return start + digits;
}

function canonicalArray(items: unknown[]): boolean {
  const bytes = out as Buffer;
  bytes[end++] = 0x5b;
  for (let i = 0; i < items.length; i++) {
    if (i > 0) bytes[end++] = 0x2c;
    if (!canonical(items[i])) return false;
  }
  bytes[end++] = 0x5d;
  return true;
}

function canonicalObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return refuse();
  const entries = value as Record<string, unknown>;
  // `for...in` yields the own enumerable string keys `Object.keys` gives (inherited ones are skipped as in `record`).
  const from = top;
  for (const key in entries) if (!checkOwnKeys || Object.hasOwn(entries, key)) keys[top++] = key;
  sortKeys(keys, from, top);
  const to = top;
  const bytes = out as Buffer;
  bytes[end++] = 0x7b;
  let first = true;
  for (let i = from; i < to; i++) {
    const key = keys[i] as string;
    const item = entries[key];
    if (item === undefined) continue;
    if (!first) bytes[end++] = 0x2c;
    first = false;
    if (!quote(key)) return false;
    bytes[end++] = 0x3a;
    if (!canonical(item)) return false;
  }
  top = from;
  bytes[end++] = 0x7d;
  return true;
}
