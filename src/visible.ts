// Characters a terminal or a reader does not show as themselves: controls (C0, and C1, where `\u009b` opens an escape
// sequence on its own), format characters (bidi overrides and isolates, zero-width spaces, tag characters) and line
// and paragraph separators.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const HIDDEN_BUT_LINE_FEED = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `\uXXXX` per UTF-16 unit: a character outside the BMP becomes its surrogate pair, so JSON stays valid JSON. */
function escaped(ch: string): string {
  let out = '';
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/**
 * Text as a person can read it: every character that is not shown as itself becomes a `\uXXXX` escape, line feeds
 * excepted. What the CLI prints goes through it, so a tool name or value from an agent, an upstream or a tampered file
 * cannot recolour, erase or reorder what an operator sees.
 */
export function visibleText(text: string): string {
  return text.replace(HIDDEN_BUT_LINE_FEED, escaped);
}

/**
 * {@link visibleText} for one line: line feeds are escaped too, so a field cannot start a line of its own (an approval
 * question must not read differently from the call it approves; an audit record stays one line).
 */
export function visibleLine(text: string): string {
  return text.replace(HIDDEN, escaped);
}

/** Anything but printable ASCII (no flag `u`: a character outside the BMP is matched as its two UTF-16 units). */
const NOT_ASCII = /[^\x20-\x7e]/g;

/**
 * Text in printable ASCII: every other character becomes a `\uXXXX` escape, so a letter that only looks like a Latin
 * one (a Cyrillic `о` in `cоmpany.example`) reads as what it is.
 */
export function asciiLine(text: string): string {
  return text.replace(NOT_ASCII, escaped);
}
