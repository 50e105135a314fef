import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { tempDir } from './stores.ts';

const dir = tempDir();
afterAll(() => dir.remove());

const event = (i: number) => ({
  type: 'result.ignored' as const,
  at: i,
  sessionId: 's',
  callId: `c${i}`,
  reason: 'x'.repeat(400),
});

async function fill(log: SqliteAuditLog, count: number): Promise<void> {
  for (let i = 0; i < count; i += 100)
    await Promise.all(Array.from({ length: 100 }, (_, j) => log.append(event(i + j))));
}

/** Waits until `check` holds, for at most `ms`. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

describe('background WAL checkpointer', () => {
  it('copies the write-ahead log into the database while commits leave it alone', async () => {
    const path = join(dir.dir, 'background.db');
    const log = new SqliteAuditLog(path, { walCheckpointer: true, synchronous: 'normal' });
    const before = statSync(path).size;
    // About 800 pages of records: below the writers' raised threshold, so only the checkpointer copies them.
    await fill(log, 5000);
    expect(await until(() => statSync(path).size > before + 2_000_000, 10_000)).toBe(true);
    await log.close();
    const db = openDatabase(path, { readOnly: true });
    expect((db.prepare('SELECT count(*) AS n FROM audit_records').get() as { n: number }).n).toBe(5000);
    db.close();
  });

  it('without it, commits below the raised threshold would not have copied anything: the control', async () => {
    const path = join(dir.dir, 'inline.db');
    const log = new SqliteAuditLog(path, { walAutocheckpoint: 16_384, synchronous: 'normal' });
    const before = statSync(path).size;
    await fill(log, 5000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(statSync(path).size).toBe(before);
    await log.close();
  });
});
