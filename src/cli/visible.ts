import { visibleText } from '../visible.ts';

/** A stream the CLI writes text to. */
export interface TextOut {
  write(text: string): unknown;
}

/** A writer that passes everything through {@link visibleText}. */
export function visibleOut<T extends TextOut>(out: T): TextOut & { isTTY?: boolean } {
  const wrapped: TextOut & { isTTY?: boolean } = { write: (text: string) => out.write(visibleText(text)) };
  const tty = (out as { isTTY?: boolean }).isTTY;
  if (tty !== undefined) wrapped.isTTY = tty;
  return wrapped;
}
