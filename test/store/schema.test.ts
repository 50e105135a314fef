import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/errors.ts';
import { openStores } from '../../src/store/open.ts';
import { tempDirs } from './stores.ts';

const temp = tempDirs();

/** What opening the stores on `path` throws: its class, code and message. */
async function openFailure(path: string): Promise<{ error: unknown; code?: string; message?: string }> {
  try {
    const stores = await openStores({ path, env: {}, walCheckpointer: false });
    await stores.close();
  } catch (error) {
    return { error, code: (error as StoreError).code, message: (error as Error).message };
  }
  return { error: undefined };
}

/** A database written by this release, then changed by `sql` run by another program. */
async function altered(sql: string): Promise<string> {
  const path = join(temp(), 'altered.db');
  const stores = await openStores({ path, env: {}, walCheckpointer: false });
  await stores.close();
  const db = new DatabaseSync(path);
  db.exec(sql);
  db.close();
  return path;
}

function tables(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  const rows = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as {
    name: string;
  }[];
  db.close();
  return rows.map((row) => row.name);
}

describe('a database whose tables are not the ones this release writes', () => {
  it('a SQLite file of another program with a `sessions` table of its own is refused, and left as it was', async () => {
    const path = join(temp(), 'other.db');
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE sessions (sid INTEGER PRIMARY KEY, data BLOB)');
    db.close();
    const failure = await openFailure(path);
    expect(failure.error).toBeInstanceOf(StoreError);
    expect(failure.code).toBe('STORE_CORRUPT');
    expect(failure.message).toBe(
      `cannot open database \`${path}\`: table \`sessions\` is not the one this release writes (version 1)`,
    );
    // Nothing of ruleoftwo's was added to the other program's file.
    expect(tables(path)).toEqual(['sessions']);
  });

  it('a table whose columns another program altered is refused, not read as if it were intact', async () => {
    const dropped = await altered('ALTER TABLE sessions DROP COLUMN updated_at');
    expect(await openFailure(dropped)).toMatchObject({
      code: 'STORE_CORRUPT',
      message: /: table `sessions` is not the one this release writes \(version 1\)$/,
    });
    const added = await altered('ALTER TABLE approvals ADD COLUMN approved_by TEXT');
    expect(await openFailure(added)).toMatchObject({
      code: 'STORE_CORRUPT',
      message: /: table `approvals` is not the one this release writes \(version 1\)$/,
    });
    const loose = await altered(
      'DROP TABLE audit_keys; CREATE TABLE audit_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL)',
    );
    expect(await openFailure(loose)).toMatchObject({
      code: 'STORE_CORRUPT',
      message: /: table `audit_keys` is not the one this release writes \(version 1\)$/,
    });
  });

  it('a schema version that is not a number is refused, as a newer one is', async () => {
    const path = await altered("UPDATE ruleoftwo_meta SET value = 'two' WHERE key = 'schema.approvals'");
    expect(await openFailure(path)).toMatchObject({
      code: 'STORE_VERSION',
      message: `cannot open database \`${path}\`: the approvals schema version is \`two\`, not a number`,
    });
    const newer = await altered("UPDATE ruleoftwo_meta SET value = '2' WHERE key = 'schema.sessions'");
    expect(await openFailure(newer)).toMatchObject({
      code: 'STORE_VERSION',
      message: `cannot open database \`${newer}\`: the sessions schema is version 2; this release reads version 1`,
    });
  });

  it('an intact database opens again: the check refuses only what differs', async () => {
    const path = await altered('SELECT 1');
    expect(await openFailure(path)).toEqual({ error: undefined });
  });
});
