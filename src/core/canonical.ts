import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** Thrown when a value cannot be written as canonical JSON (cycles, functions, non-finite numbers, ...). */
export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Canonical JSON: object keys sorted by code unit, no white space, only JSON values. Two equal values always give
 * the same text, so hashes over it bind the exact arguments of a call.
 */
export function canonicalJson(value: unknown): string {
  try {
    return write(value, new Set());
  } catch (error) {
    if (error instanceof Unwritable) throw new CanonicalJsonError(`${error.what} at \`$${error.path}\``);
    throw error;
  }
}

/** Printable ASCII but the quote and the backslash: what a JSON string literal holds as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * A JSON string literal; plain printable ASCII is quoted directly (tested by a regular expression, compiled to
 * machine code: a loop over the characters took a third of an approval hash), anything else goes through
 * JSON.stringify.
 */
function quote(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** Where a value could not be written; the path is built only on this rare path, as the error unwinds. */
class Unwritable {
  what: string;
  path = '';
  constructor(what: string) {
    this.what = what;
  }
}

function at(error: unknown, step: string): never {
  if (error instanceof Unwritable) error.path = step + error.path;
  throw error;
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Unwritable('non-finite number');
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new Unwritable(`value of type ${typeof value}`);
  }
  const object = value as object;
  if (seen.has(object)) throw new Unwritable('cycle');
  seen.add(object);
  let out: string;
  if (Array.isArray(object)) {
    out = '[';
    for (let i = 0; i < object.length; i++) {
      if (i > 0) out += ',';
      try {
        out += write(object[i], seen);
      } catch (error) {
        at(error, `[${i}]`);
      }
    }
    out += ']';
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) throw new Unwritable('non-plain object');
    const record = object as Record<string, unknown>;
    const keys = sortedKeys(record);
    out = '{';
    for (const key of keys) {
      const item = record[key];
      if (item === undefined) continue;
      if (out.length > 1) out += ',';
      try {
        out += `${quote(key)}:${write(item, seen)}`;
      } catch (error) {
        at(error, `.${key}`);
      }
    }
    out += '}';
  }
  seen.delete(object);
  return out;
}

/** Keys are sorted by insertion up to this many, by the built-in sort beyond (insertion sort is quadratic). */
const FEW_KEYS = 32;

/**
 * An object's keys sorted by code unit, as `Array.prototype.sort` sorts by default. Most objects have few keys, and
 * the built-in sort allocates a work copy per call: over a quarter of what the audit log allocated per record.
 */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  sortKeys(keys, 0, keys.length);
  return keys;
}

/**
 * Sorts `keys` from `from` to `to` (exclusive) in place by code unit, as canonical JSON orders an object's keys: by
 * insertion up to {@link FEW_KEYS} keys, by the built-in sort beyond.
 */
export function sortKeys(keys: string[], from: number, to: number): void {
  if (to - from > FEW_KEYS) {
    const sorted = keys.slice(from, to).sort();
    for (let i = 0; i < sorted.length; i++) keys[from + i] = sorted[i] as string;
    return;
  }
  for (let i = from + 1; i < to; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= from && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
}

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8Bytes(text)));
}

// Canonical JSON of tool calls is mostly ASCII; copying it byte by byte is several times faster than TextEncoder
// for short strings, and the approval hash sits on the decision path.
function utf8Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return utf8ToBytes(text);
    bytes[i] = code;
  }
  return bytes;
}

/** SHA-256 of the canonical JSON of a value, as lowercase hex. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
