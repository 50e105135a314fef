import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { generateAuditKey, loadAuditKey } from '../../src/audit/checkpoint.ts';
import { auditStats, openAuditDatabase, verifyAuditFile } from '../../src/audit/inspect.ts';
import { parseRecord } from '../../src/audit/record.ts';
import { readRecords, SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { cli } from '../cli/run-cli.ts';
import { tempDir } from '../store/stores.ts';
import { writeSampleLog } from './log.ts';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/**
 * What an attacker who can write the file but not read the key can make: the same events with record 1's decision
 * turned from `ask` into `allow`, written by the real log code into a new file, with a key of their own or none.
 */
async function forge(original: string, path: string, key: string | undefined): Promise<void> {
  const db = openAuditDatabase(original);
  const records = [...readRecords(db)].map((stored) => {
    const parsed = parseRecord(stored.text);
    if (!parsed.ok) throw new Error(parsed.problem.message);
    return parsed.record;
  });
  db.close();
  let at = 0;
  const loaded = key === undefined ? undefined : loadAuditKey({ key });
  const log = new SqliteAuditLog(path, { checkpointEvery: 8, now: () => at, ...(loaded ? { key: loaded } : {}) });
  for (const record of records) {
    const { redacted: _, ...event } = record.event;
    if (event.type === 'decision' && record.seq === 1) event.decision = { ...event.decision, effect: 'allow' };
    at = record.at;
    await log.append(event);
  }
  await log.close();
}

/** A signed log of 20 records, and a witness of its last checkpoint in `witness.json` beside it. */
async function original(): Promise<{ dir: string; path: string; publicPem: string; privatePem: string }> {
  const { dir, remove } = tempDir();
  cleanup = remove;
  const { path, publicPem, privatePem } = await writeSampleLog(dir, 20);
  const db = openAuditDatabase(path);
  writeFileSync(join(dir, 'witness.json'), JSON.stringify(auditStats(db)));
  db.close();
  return { dir, path, publicPem, privatePem };
}

/** The forgery of {@link forge}, unsigned, with its checkpoints deleted; `pub.pem` beside it holds the real key. */
async function forgedWithoutCheckpoints(dir: string, path: string, publicPem: string): Promise<string> {
  writeFileSync(join(dir, 'pub.pem'), publicPem);
  const forged = join(dir, 'forged.db');
  await forge(path, forged, undefined);
  const db = new DatabaseSync(forged);
  db.exec('DELETE FROM audit_checkpoints');
  db.close();
  return forged;
}

describe('forging a whole log without the key', () => {
  it('a log re-signed with another key or unsigned fails verify with the pinned key; a witness catches it either way', async () => {
    const { dir, path, publicPem } = await original();
    const signed = join(dir, 'signed.db');
    await forge(path, signed, generateAuditKey().privatePem);
    const unsigned = join(dir, 'unsigned.db');
    await forge(path, unsigned, undefined);

    const pinned = { publicKeys: [publicPem] };
    expect((await verifyAuditFile(signed, pinned)).issues.map((i) => i.code)).toContain('unknown_key');
    expect((await verifyAuditFile(unsigned, pinned)).issues.map((i) => i.code)).toContain('unsigned');
    // Without a pinned key the forgery is consistent, and verify says what it checked against.
    const unpinned = await verifyAuditFile(signed);
    expect(unpinned.ok).toBe(true);
    expect(unpinned.notes.join('\n')).toMatch(/keys stored in the log; pin one with --public-key/);
    const witnessed = await cli(['audit', 'verify', signed, '--witness', join(dir, 'witness.json')]);
    expect(witnessed.status).toBe(1);
    expect(witnessed.stdout).toMatch(/\[root_mismatch\]/);
  });

  it('a documented limit: with every checkpoint deleted, a rewritten log verifies under the pinned key; only a witness tells', async () => {
    const { dir, path, publicPem } = await original();
    const forged = await forgedWithoutCheckpoints(dir, path, publicPem);
    const pinned = await cli(['audit', 'verify', forged, '--public-key', join(dir, 'pub.pem')]);
    expect(pinned.status).toBe(0);
    expect(pinned.stdout).toMatch(/0 checkpoints \(0 signed\)/);
    expect(pinned.stdout).toMatch(/note: records 1\.\.20 come after the last checkpoint: chained, not yet signed/);
    const witnessed = await cli(['audit', 'verify', forged, '--witness', join(dir, 'witness.json')]);
    expect(witnessed.status).toBe(1);
    expect(witnessed.stdout).toMatch(/\[checkpoint_missing\]/);
  });

  it('a documented limit: the writer with the key signs a rewritten, checkpoint-free log as it finds it; only a witness tells', async () => {
    const { dir, path, privatePem, publicPem } = await original();
    const forged = await forgedWithoutCheckpoints(dir, path, publicPem);
    // The real writer, with the real key, opens the file and goes on: its next checkpoint covers the forged records.
    const key = loadAuditKey({ key: privatePem });
    const log = new SqliteAuditLog(forged, key ? { key } : {});
    await log.close();
    const pinned = await cli(['audit', 'verify', forged, '--public-key', join(dir, 'pub.pem')]);
    expect(pinned.status).toBe(0);
    expect(pinned.stdout).toMatch(/20 records, 1 checkpoints \(1 signed\)/);
    const witnessed = await cli(['audit', 'verify', forged, '--witness', join(dir, 'witness.json')]);
    expect(witnessed.status).toBe(1);
    expect(witnessed.stdout).toMatch(/\[checkpoint_missing\]/);
  });

  it('the writer refuses to sign once checkpoints it has seen are deleted while it runs', async () => {
    const { path, privatePem } = await original();
    const key = loadAuditKey({ key: privatePem });
    const log = new SqliteAuditLog(path, key ? { key } : {});
    const db = new DatabaseSync(path);
    db.exec('DELETE FROM audit_checkpoints');
    db.close();
    await expect(log.checkpoint()).rejects.toThrow(/checkpoint 20 is gone \(its last is 0\)/);
    await expect(log.close()).rejects.toThrow(/checkpoint 20 is gone/);
    const after = openAuditDatabase(path);
    expect(after.prepare('SELECT count(*) AS n FROM audit_checkpoints').get()).toEqual({ n: 0 });
    after.close();
  });
});
