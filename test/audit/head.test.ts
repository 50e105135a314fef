import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAuditKey } from '../../src/audit/checkpoint.ts';
import { exportJsonl, openAuditDatabase, verifyAuditFile, verifyJsonl } from '../../src/audit/inspect.ts';
import { leafHash } from '../../src/audit/merkle.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { canonicalJson } from '../../src/core/canonical.ts';
import { tempDir } from '../store/stores.ts';
import { writeSampleLog } from './log.ts';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/** Appends a record that chains to the log's last one, as the log would write it, without touching its head. */
function appendForged(path: string): void {
  const db = new DatabaseSync(path);
  const last = db.prepare('SELECT seq, record FROM audit_records ORDER BY seq DESC LIMIT 1').get() as {
    seq: number;
    record: string;
  };
  const event = {
    type: 'approval.answer',
    at: 1_800_000_000_000,
    requestId: 'r1',
    answer: { approved: true, by: 'forger' },
  };
  const text = canonicalJson({ at: 1_800_000_000_000, event, prev: leafHash(last.record), seq: last.seq + 1, v: 1 });
  db.prepare('INSERT INTO audit_records (seq, record) VALUES (?, ?)').run(last.seq + 1, text);
  db.close();
}

describe('records the head does not hold', () => {
  it('a record appended by hand after the last one, chained but not in the head, fails verify (the writer refuses it too)', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const { path, publicPem, privatePem } = await writeSampleLog(dir, 20);
    appendForged(path);

    for (const threads of [0, 1]) {
      const report = await verifyAuditFile(path, { publicKeys: [publicPem], threads });
      expect(report.ok).toBe(false);
      expect(report.issues).toEqual([
        {
          code: 'head_mismatch',
          record: 21,
          message: "record 21 is not in the log's head, which says 20 records (added by hand)",
        },
      ]);
    }
    // The log's own writer reads the same file as corrupt and appends nothing to it.
    const key = loadAuditKey({ key: privatePem });
    const log = new SqliteAuditLog(join(dir, 'audit.db'), key ? { key } : {});
    await expect(
      log.append({
        type: 'result',
        at: 1,
        sessionId: 's',
        callId: 'c',
        tool: 't',
        brought: '',
        legsAfter: '',
        bytes: 0,
      }),
    ).rejects.toThrow(/head/);
    await log.close().catch(() => {});
  });

  it('an export judges added, cut and changed tail records as the database does', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const { path, publicPem } = await writeSampleLog(dir, 20);
    const cases: [string, (db: DatabaseSync) => void][] = [
      ['added', () => appendForged(join(dir, 'added.db'))],
      [
        'cut',
        (db) => db.exec('DELETE FROM audit_checkpoints WHERE size = 20; DELETE FROM audit_records WHERE seq = 20'),
      ],
      [
        'changed',
        (db) =>
          db.exec(
            'DELETE FROM audit_checkpoints WHERE size = 20; UPDATE audit_records SET record = replace(record, \'"s1"\', \'"s9"\') WHERE seq = 20',
          ),
      ],
    ];
    for (const [name, tamper] of cases) {
      const copy = join(dir, `${name}.db`);
      copyFileSync(path, copy);
      const db = new DatabaseSync(copy);
      tamper(db);
      db.close();
      const fromDb = await verifyAuditFile(copy, { publicKeys: [publicPem] });
      expect(
        fromDb.issues.map((i) => i.code),
        name,
      ).toEqual(['head_mismatch']);
      const read = openAuditDatabase(copy);
      const lines: string[] = [];
      exportJsonl(read, (line) => lines.push(line));
      read.close();
      const fromExport = verifyJsonl(Buffer.from(`${lines.join('\n')}\n`), { publicKeys: [publicPem] });
      expect(fromExport.issues, name).toEqual(fromDb.issues);
    }
  });
});
