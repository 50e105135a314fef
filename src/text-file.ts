import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';

/**
 * Reads a text file (a policy, a config, a trace, a pin file) as UTF-8, refusing one that is not: decoding would
 * replace each invalid byte with U+FFFD unseen, so a policy would say something other than its file, and a command
 * that writes the file back (`lineage allow`) would change bytes nobody edited. The error names the first bad line.
 */
export async function readTextFile(file: string): Promise<string> {
  const bytes = await readFile(file);
  if (!isUtf8(bytes)) throw new Error(`line ${firstLineNotUtf8(bytes)} is not valid UTF-8`);
  return bytes.toString('utf8');
}

/** The number of the first line that is not valid UTF-8 (a line feed byte is never part of a longer character). */
function firstLineNotUtf8(bytes: Buffer): number {
  let line = 1;
  for (let start = 0; start <= bytes.length; line++) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end < 0 ? bytes.length : end;
    if (!isUtf8(bytes.subarray(start, stop))) return line;
    start = stop + 1;
  }
  return line;
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'it is a directory',
  ENOTDIR: 'it is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/** Why a file could not be read, in words (`no such file or directory`), not as a bare errno code (`ENOENT`). */
export function unreadableReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && Object.hasOwn(REASONS, code)) return REASONS[code] as string;
  return code ?? (error instanceof Error ? error.message : String(error));
}
