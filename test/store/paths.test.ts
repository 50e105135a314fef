import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readRecords } from '../../src/audit/sqlite-log.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { StoreError } from '../../src/store/errors.ts';
import { openStores } from '../../src/store/open.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { SqliteSessionStore } from '../../src/store/sqlite/sessions.ts';
import { emailBotDocument } from '../helpers.ts';
import { tempDirs } from './stores.ts';

const run = promisify(execFile);
const temp = tempDirs();
afterEach(() => vi.restoreAllMocks());

/** The inodes of the files the audit log's `fdatasync` calls reach. */
function syncedInodes(): Set<number> {
  const inodes = new Set<number>();
  const real = fs.fdatasync;
  vi.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, callback: (error: Error | null) => void) => {
    inodes.add(fs.fstatSync(fd).ino);
    real(fd, callback);
  }) as typeof fs.fdatasync);
  return inodes;
}

/** A database in `real/` reached through the symbolic link `link.db` beside it. */
function linkedDatabase(): { link: string; target: string } {
  const dir = temp();
  fs.mkdirSync(join(dir, 'real'));
  const target = join(dir, 'real', 'ruleoftwo.db');
  fs.writeFileSync(target, '', { mode: 0o600 });
  const link = join(dir, 'link.db');
  fs.symlinkSync(target, link);
  return { link, target };
}

describe('the path of the database', () => {
  it('a symbolic link: the stores open, and the write-ahead log synced is the one SQLite writes beside the target', async () => {
    const { link, target } = linkedDatabase();
    const synced = syncedInodes();
    const stores = await openStores({ path: link, env: {}, walCheckpointer: false });
    const guard = createGuard({ policy: emailBotDocument, ...stores });
    const decision = await (await guard.session('s1')).check({ id: 'c1', tool: 'read_inbox', args: {} });
    expect(decision.effect).toBe('allow');
    expect(synced).toContain(fs.statSync(`${target}-wal`).ino);
    await guard.close();
    const db = openDatabase(target, { readOnly: true });
    expect([...readRecords(db)].length).toBeGreaterThanOrEqual(2);
    db.close();
  });

  it('a symbolic link with a stray `-wal` file beside it: that file is never what makes an append durable', async () => {
    const { link, target } = linkedDatabase();
    // Left behind, say, from before the database was moved and linked.
    fs.writeFileSync(`${link}-wal`, '');
    const stray = fs.statSync(`${link}-wal`).ino;
    const synced = syncedInodes();
    const stores = await openStores({ path: link, env: {}, walCheckpointer: false });
    await stores.audit.append({ type: 'result.ignored', at: 1, sessionId: 's', callId: 'c', reason: 'r' });
    expect([...synced]).toEqual([fs.statSync(`${target}-wal`).ino]);
    expect(synced).not.toContain(stray);
    await stores.close();
  });

  it('a symbolic link to a missing file is refused; SQLite would create the target readable by every user', () => {
    const dir = temp();
    const link = join(dir, 'link.db');
    const target = join(dir, 'target.db');
    fs.symlinkSync(target, link);
    let thrown: unknown;
    try {
      new SqliteSessionStore(link);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StoreError);
    expect((thrown as StoreError).code).toBe('STORE_UNAVAILABLE');
    expect((thrown as Error).message).toBe(
      `cannot open database \`${link}\`: it is a symbolic link to a file that does not exist`,
    );
    expect(fs.existsSync(target)).toBe(false);
  });

  it('a relative path: changing the working directory after opening creates no second database', async () => {
    const opened = temp();
    const later = temp();
    await run(process.execPath, [join(import.meta.dirname, 'children', 'chdir.ts'), opened, later], {
      timeout: 30_000,
    });
    expect(fs.readdirSync(opened)).toEqual(['rel.db']);
    expect(fs.readdirSync(later)).toEqual([]);
  });
});
