import { randomBytes } from 'node:crypto';
import { lstat, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file's content atomically: readers see the old file or the new one, never half of it. The new content
 * goes to a fresh file beside the target, created exclusively under an unguessable name (so a file or symlink planted
 * there is never written through), flushed, then renamed over the target. When `file` is a symlink its target is
 * replaced and the link kept, unless `follow` is false: then the link itself is replaced and what it points to is
 * left alone. The file's permission bits are kept (a new file, or one replacing a link, gets `mode`, less the umask).
 */
export async function replaceFile(
  file: string,
  text: string,
  { mode = 0o666, follow = true }: { mode?: number; follow?: boolean } = {},
): Promise<void> {
  let target = file;
  let keep = mode;
  try {
    if (follow) {
      target = await realpath(file);
      keep = (await stat(target)).mode & 0o777;
    } else {
      const found = await lstat(file);
      if (found.isFile()) keep = found.mode & 0o777;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  // INVARIANT: `wx` fails on anything already there, a symlink included (test/cli/file-writes.test.ts).
  const handle = await open(temporary, 'wx', keep);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    await rename(temporary, target);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
