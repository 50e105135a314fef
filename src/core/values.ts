/**
 * Distinctive values in text (URLs, email addresses, IBANs, phone numbers, identifiers, domains), found in one pass
 * over the character codes: no regular expression runs over the whole text and only the values found are sliced.
 */

/** Shortest value (in compact characters) that is indexed or matched; shorter strings cannot identify a source. */
export const MIN_VALUE_LENGTH = 8;

// Character classes of ASCII, one table lookup per character.
const DELIMITER = 1; // spacing, quotes, brackets and list punctuation end a token
const DIGIT = 2;
const AT = 4;
const DOT = 8;
const COLON = 16;
const OTHER = 32; // not a domain character ([a-z0-9.-])
const UPPER = 64;
const WORD = 128; // [A-Za-z0-9_], for word boundaries
const DASH = 256;
const QUERY = 512; // `?`, where a URL's query starts
const CLASS = new Uint16Array(128).map((_, c) => {
  const ch = String.fromCharCode(c);
  if (c <= 32 || '"\'<>()[]{}`\\,;|'.includes(ch)) return DELIMITER;
  let k = 0;
  if (c >= 48 && c <= 57) k |= DIGIT | WORD;
  else if (c >= 65 && c <= 90) k |= UPPER | WORD;
  else if (c >= 97 && c <= 122) k |= WORD;
  else if (c === 46) k |= DOT;
  else if (c === 45) k |= DASH;
  else k |= OTHER;
  if (c === 95) k |= WORD;
  if (c === 64) k |= AT;
  if (c === 58) k |= COLON;
  if (c === 63) k |= QUERY;
  return k;
});

function classOf(c: number): number {
  return c < 128 ? (CLASS[c] as number) : OTHER;
}

// Characters that can make a token distinctive; the native search for them skips plain words at full speed.
const SPECIAL = /[\d@.:]/g;

/**
 * Distinctive values in a text, raw: tokens of at least {@link MIN_VALUE_LENGTH} characters with a digit, an `@`, a
 * scheme (`://`) or the shape of a domain, a URL without its query, and IBANs and phone numbers written with spaces.
 */
export function extractValues(text: string, each: (raw: string) => void): void {
  extractValueRanges(text, (start, end) => each(text.slice(start, end)));
}

/** {@link extractValues} as the range of `text` each value spans (`end` exclusive), with no string sliced. */
export function extractValueRanges(text: string, each: (start: number, end: number) => void): void {
  let done = 0;
  let skip = 0;
  SPECIAL.lastIndex = 0;
  // `test` moves `lastIndex` past the match without allocating a match object. The scans of a token are functions
  // of their own: inner loops here would be compiled on stack replacement and thrown away at every exit.
  while (SPECIAL.test(text)) {
    // Expand the special character to its whole token, once per token.
    const at = SPECIAL.lastIndex - 1;
    const start = tokenStart(text, at, done);
    const end = tokenEnd(text, at);
    const flags = tokenClasses;
    done = end;
    SPECIAL.lastIndex = end;
    if (end - start >= MIN_VALUE_LENGTH) token(text, start, end, flags, tokenQuery, each);
    // Groups are separated by spaces, which end a token, or by dashes: without a dash, the first group of a number
    // written in groups ends the token, so it starts in the token's last five characters (`+` and four digits).
    if (flags & DIGIT) skip = spacedNumbers(text, Math.max(start, skip, flags & DASH ? 0 : end - 5), end, each);
  }
}

/** The classes of the characters {@link tokenStart} and {@link tokenEnd} passed over: a second result, no object. */
let tokenClasses = 0;
/** Where the first `?` of the token they passed over is, or -1: a third result. */
let tokenQuery = -1;

/** Where the token around `at` starts, not before `done`; sets {@link tokenClasses} to the classes before `at`. */
function tokenStart(text: string, at: number, done: number): number {
  let start = at;
  let classes = 0;
  let query = -1;
  while (start > done) {
    const k = classOf(text.charCodeAt(start - 1));
    if (k & DELIMITER) break;
    classes |= k;
    start--;
    if (k & QUERY) query = start;
  }
  tokenClasses = classes;
  tokenQuery = query;
  return start;
}

/** Where the token from `at` ends; adds the classes from `at` on to {@link tokenClasses}. */
function tokenEnd(text: string, at: number): number {
  let end = at;
  let classes = tokenClasses;
  let query = tokenQuery;
  while (end < text.length) {
    const k = classOf(text.charCodeAt(end));
    if (k & DELIMITER) break;
    classes |= k;
    if (k & QUERY && query < 0) query = end;
    end++;
  }
  tokenClasses = classes;
  tokenQuery = query;
  return end;
}

/**
 * IBANs and phone numbers written in groups that start inside a token (from `from` to `to`), from a word boundary;
 * returns where the last one ends, so groups are not matched twice.
 */
function spacedNumbers(text: string, from: number, to: number, each: (start: number, end: number) => void): number {
  let skip = from;
  for (let i = from; i < to; i++) {
    const k = classOf(text.charCodeAt(i));
    if (!(k & (DIGIT | UPPER)) && text.charCodeAt(i) !== 43) continue;
    if (i > 0 && classOf(text.charCodeAt(i - 1)) & WORD) continue;
    const end = k & UPPER ? spacedIban(text, i) : spacedPhone(text, i);
    if (end > 0) {
      each(i, end);
      skip = end;
      i = end - 1;
    }
  }
  return skip;
}

/** Trailing sentence punctuation that is not part of a token: `.`, `:`, `!`, `?`. */
function trailing(c: number): boolean {
  return c === 46 || c === 58 || c === 33 || c === 63;
}

/** Reports the token from `start` to `end` (with character classes `flags`, first `?` at `query`) if it is a value. */
function token(
  text: string,
  start: number,
  end: number,
  flags: number,
  query: number,
  each: (start: number, end: number) => void,
): void {
  let stop = end;
  while (stop > start && trailing(text.charCodeAt(stop - 1))) stop--;
  if (stop - start < MIN_VALUE_LENGTH) return;
  const url = flags & COLON && hasScheme(text, start, stop);
  if (flags & (DIGIT | AT) || url || (!(flags & (OTHER | COLON)) && isDomain(text, start, stop))) {
    each(start, stop);
    // A URL's query values are values too, but so is the URL without them.
    if (url && query > start && query < stop) each(start, query);
  }
}

/** Whether `://` occurs from `start` to `stop`. */
function hasScheme(text: string, start: number, stop: number): boolean {
  for (let i = start; i + 3 <= stop; i++) {
    if (text.charCodeAt(i) === 58 && text.charCodeAt(i + 1) === 47 && text.charCodeAt(i + 2) === 47) return true;
  }
  return false;
}

/** `[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}`, case-insensitive, from `start` to `stop`; the caller checked the set. */
function isDomain(text: string, start: number, stop: number): boolean {
  let dot = stop - 1;
  while (dot >= start && text.charCodeAt(dot) !== 46) dot--;
  if (dot <= start || stop - dot - 1 < 2 || text.charCodeAt(start) === 46) return false;
  for (let i = dot + 1; i < stop; i++) {
    const c = text.charCodeAt(i) | 32;
    if (c < 97 || c > 122) return false;
  }
  for (let i = start + 1; i < dot; i++) if (text.charCodeAt(i) === 46 && text.charCodeAt(i + 1) === 46) return false;
  return true;
}

function isDigit(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 48 && c <= 57;
}

function isIbanChar(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
}

function isWordChar(text: string, i: number): boolean {
  return i < text.length && (classOf(text.charCodeAt(i)) & WORD) !== 0;
}

/**
 * An IBAN written in groups (`GB33 BUKB 2020 1555 5555 55`) at `at`: two letters, two digits, two to seven groups of
 * four, an optional short group, ending at a word boundary. Returns where it ends, or -1.
 */
function spacedIban(text: string, at: number): number {
  const upper1 = text.charCodeAt(at + 1);
  if (!(upper1 >= 65 && upper1 <= 90) || !isDigit(text, at + 2) || !isDigit(text, at + 3)) return -1;
  let end = at + 4;
  let groups = 0;
  while (groups < 7 && text.charCodeAt(end) === 32 && groupLength(text, end + 1, 4) === 4) {
    end += 5;
    groups++;
  }
  if (groups < 2) return -1;
  if (text.charCodeAt(end) === 32) {
    const last = groupLength(text, end + 1, 4);
    if (last > 0) end += 1 + last;
  }
  return isWordChar(text, end) ? -1 : end;
}

/** Length of a run of IBAN characters at `at`, at most `max`, that ends at a word boundary; 0 otherwise. */
function groupLength(text: string, at: number, max: number): number {
  let n = 0;
  while (n < max && isIbanChar(text, at + n)) n++;
  return n > 0 && !isWordChar(text, at + n) ? n : 0;
}

/**
 * A phone number written in groups (`+44 20 7946 0958`, `+1 (555) 010-0199`) at `at`: an optional `+`, one to four
 * digits, then two to five groups of two to five digits, each after a space or a dash and optionally in parentheses.
 * Returns where it ends, or -1.
 */
function spacedPhone(text: string, at: number): number {
  let end = at + (text.charCodeAt(at) === 43 ? 1 : 0);
  const first = digitRun(text, end);
  if (first < 1 || first > 4) return -1;
  end += first;
  let groups = 0;
  while (groups < 5) {
    const separator = text.charCodeAt(end);
    if (separator !== 32 && separator !== 45) break;
    let next = end + 1;
    const open = text.charCodeAt(next) === 40;
    if (open) next++;
    const run = digitRun(text, next);
    if (run < 2 || run > 5) break;
    next += run;
    if (open && text.charCodeAt(next) === 41) next++;
    end = next;
    groups++;
  }
  return groups >= 2 ? end : -1;
}

function digitRun(text: string, at: number): number {
  let n = 0;
  while (isDigit(text, at + n)) n++;
  return n;
}
