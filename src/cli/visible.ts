/** A stream the CLI writes text to. */
export interface TextOut {
  write(text: string): unknown;
}

// Controls (C0 but line feed, and C1: `\u009b` opens an escape sequence on its own), format characters (bidi
// overrides and isolates, zero-width spaces, tag characters) and line and paragraph separators.
const HIDDEN = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * Shows every character a terminal would not print as itself as `\uXXXX` escapes, one per UTF-16 unit: the escape
 * of a character outside the BMP is its surrogate pair, so JSON output stays valid JSON with the same value.
 */
export function visibleText(text: string): string {
  return text.replace(HIDDEN, (ch) =>
    [...Array(ch.length).keys()].map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** A writer that passes everything through {@link visibleText}. */
export function visibleOut<T extends TextOut>(out: T): TextOut & { isTTY?: boolean } {
  const wrapped: TextOut & { isTTY?: boolean } = { write: (text: string) => out.write(visibleText(text)) };
  const tty = (out as { isTTY?: boolean }).isTTY;
  if (tty !== undefined) wrapped.isTTY = tty;
  return wrapped;
}
