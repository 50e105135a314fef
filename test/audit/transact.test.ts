import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyDatabase } from '../../src/audit/inspect.ts';
import { readRecords, SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import type { AuditEvent } from '../../src/store/types.ts';
import { tempDir } from '../store/stores.ts';

const dir = tempDir();
afterAll(() => dir.remove());

const event = (callId: string): AuditEvent => ({ type: 'result.ignored', at: 1, sessionId: 's', callId, reason: 'r' });

describe('SqliteAuditLog.transact', () => {
  it('commits a write with its events, and a failing write leaves neither, in a batch shared with appends', async () => {
    const path = join(dir.dir, 'transact.db');
    const setup = openDatabase(path);
    setup.exec('CREATE TABLE things (name TEXT PRIMARY KEY) STRICT');
    setup.close();
    const log = new SqliteAuditLog(path);
    const insert = (name: string) => (db: Parameters<Parameters<SqliteAuditLog['transact']>[0]>[0]) => {
      db.prepare('INSERT INTO things (name) VALUES (?)').run(name);
      if (name === 'bad') throw new Error('refused');
      return { result: name, events: [event(`${name}-1`), event(`${name}-2`)] };
    };
    // All four are queued before the event loop turns: one transaction.
    const outcomes = await Promise.allSettled([
      log.append(event('first')),
      log.transact(insert('good')),
      log.transact(insert('bad')),
      log.append(event('last')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseFulfilledResult<string>).value).toBe('good');
    await log.close();
    const db = openDatabase(path, { readOnly: true });
    expect(
      db
        .prepare('SELECT name FROM things')
        .all()
        .map((r) => r.name),
    ).toEqual(['good']);
    const calls = [...readRecords(db)].map((r) => JSON.parse(r.text).event.callId);
    expect(calls).toEqual(['first', 'good-1', 'good-2', 'last']);
    expect(verifyDatabase(db).ok).toBe(true);
    db.close();
  });

  it('a write that logs nothing, on a log that is still empty, leaves the log usable', async () => {
    const path = join(dir.dir, 'nothing.db');
    const log = new SqliteAuditLog(path);
    expect(await log.transact(() => ({ result: 'unknown request', events: [] }))).toBe('unknown request');
    await log.close();
    const again = new SqliteAuditLog(path);
    await again.append(event('first'));
    expect(again.size).toBe(1);
    await again.close();
    const db = openDatabase(path, { readOnly: true });
    expect(verifyDatabase(db)).toMatchObject({ ok: true, records: 1 });
    db.close();
  });

  it('a log left with a head of size 0 and no records (by an earlier release) is an empty log, not a corrupt one', async () => {
    const path = join(dir.dir, 'empty-head.db');
    await new SqliteAuditLog(path).close();
    const db = openDatabase(path);
    db.exec("INSERT INTO audit_head (id, size, frontier, last_hash) VALUES (1, 0, x'', x'')");
    db.close();
    const log = new SqliteAuditLog(path);
    await log.append(event('first'));
    await log.close();
  });

  it('a clock that is not whole milliseconds: records and checkpoints are written, and verify', async () => {
    const path = join(dir.dir, 'precise.db');
    const log = new SqliteAuditLog(path, { now: () => 1_700_000_000_000.5, checkpointEvery: 2 });
    for (const callId of ['a', 'b', 'c']) await log.append(event(callId));
    await log.close();
    const db = openDatabase(path, { readOnly: true });
    expect(verifyDatabase(db)).toMatchObject({ ok: true, records: 3, checkpoints: 2 });
    db.close();
  });
});
