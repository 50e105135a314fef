import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/audit/checkpoint.ts';
import { addChunks, checkChunk } from '../../src/audit/chunks.ts';
import { verifyAuditFile, verifyDatabase } from '../../src/audit/inspect.ts';
import { readCheckpoints, readKeys, readRecords } from '../../src/audit/sqlite-log.ts';
import { LogVerifier, type VerifyReport } from '../../src/audit/verify.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { tempDir } from '../store/stores.ts';
import { writeSampleLog } from './log.ts';

// Verifying in chunks (on worker threads) is only a faster way to the same answer: every report must equal the
// one-by-one report, on the untouched log and on every tampering of it.

const RECORDS = 45;
const CHUNK = 4;
type Row = [number, string];
let dir: { dir: string; remove: () => void };
let path: string;
let publicPem: string;
let rows: Row[];
let checkpoints: Checkpoint[];
let keys: Map<string, string>;

beforeAll(async () => {
  dir = tempDir();
  ({ path, publicPem } = await writeSampleLog(dir.dir, RECORDS, { checkpointEvery: 7 }));
  const db = openDatabase(path, { readOnly: true });
  rows = [...readRecords(db)].map((r) => [r.seq, r.text]);
  checkpoints = readCheckpoints(db);
  keys = readKeys(db);
  db.close();
});
afterAll(() => dir.remove());

/** The rows as a database returns them: ordered by `seq`, from `from` on. */
const stored = (table: Row[], from: number, to = Number.POSITIVE_INFINITY) =>
  table.filter(([seq]) => seq >= from && seq <= to).sort((a, b) => a[0] - b[0]);

function oneByOne(table: Row[]): VerifyReport {
  const verifier = new LogVerifier(checkpoints, { logKeys: keys, publicKeys: [publicPem] });
  for (const [, text] of stored(table, 1)) {
    verifier.add(text);
    if (verifier.broken) break;
  }
  return verifier.finish();
}

/** What `verifyAuditFile` does, with the chunks checked in this thread: take chunks while clean, then go one by one. */
function chunked(table: Row[]): VerifyReport & { taken: number } {
  const verifier = new LogVerifier(checkpoints, { logKeys: keys, publicKeys: [publicPem] });
  for (let from = 0; ; from += CHUNK) {
    const inputs = stored(table, from + 1, from + CHUNK).map(([, text]): [string] => [`\0${text}`]);
    const chunk = checkChunk(inputs, from, verifier.cutSizes());
    if (chunk.count < CHUNK || !verifier.addChunk(chunk)) break;
  }
  const taken = verifier.records;
  for (const [, text] of stored(table, taken + 1)) {
    verifier.add(text);
    if (verifier.broken) break;
  }
  return { ...verifier.finish(), taken };
}

type Tamper =
  | { kind: 'flip'; at: number; byte: number; mask: number }
  | { kind: 'delete'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'renumber'; at: number; seq: number }
  | { kind: 'truncate'; keep: number };

const tamper: fc.Arbitrary<Tamper> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    byte: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('renumber' as const), at: fc.nat(), seq: fc.integer({ min: -2, max: RECORDS + 9 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
);

/** A tampered copy of the rows: a byte of a record flipped, a row deleted, two records' texts swapped, a row renumbered. */
function apply(t: Tamper): Row[] {
  const out = rows.map(([seq, text]): Row => [seq, text]);
  const n = out.length;
  switch (t.kind) {
    case 'flip': {
      const row = out[t.at % n] as Row;
      const bytes = Buffer.from(row[1]);
      const i = t.byte % bytes.length;
      bytes[i] = (bytes[i] as number) ^ t.mask;
      row[1] = bytes.toString('utf8');
      return out;
    }
    case 'delete':
      out.splice(t.at % n, 1);
      return out;
    case 'swap': {
      const a = out[t.a % n] as Row;
      const b = out[(t.a % n === t.b % n ? t.a + 1 : t.b) % n] as Row;
      [a[1], b[1]] = [b[1], a[1]];
      return out;
    }
    case 'renumber': {
      const row = out[t.at % n] as Row;
      if (!out.some(([seq]) => seq === t.seq)) row[0] = t.seq;
      return out;
    }
    case 'truncate':
      return out.slice(0, t.keep % n);
  }
}

describe('verifying in chunks', () => {
  it('a chunk tree joins the log tree: the same root as one by one, at every checkpoint', () => {
    const { taken, ...report } = chunked(rows);
    // The tail after the last full chunk is checked record by record.
    expect(taken).toBe(RECORDS - (RECORDS % CHUNK));
    expect(report).toMatchObject({ ok: true, records: RECORDS, signed: checkpoints.length });
    expect(report).toEqual(oneByOne(rows));
  });

  it('gives the one-by-one report for each of 1,000 random flips, deletions, swaps, renumberings and truncations', () => {
    let taken = 0;
    fc.assert(
      fc.property(tamper, (t) => {
        const table = apply(t);
        const { taken: chunks, ...report } = chunked(table);
        expect(report, JSON.stringify(t)).toEqual(oneByOne(table));
        if (chunks > 0) taken += 1;
      }),
      { numRuns: 1000 },
    );
    // Most tamperings leave clean chunks before them, so the chunk path, not only the fallback, was compared.
    expect(taken).toBeGreaterThan(500);
  });

  it('on worker threads, takes every chunk of an intact log and stops at the first tampered one', async () => {
    const verifier = () => new LogVerifier(checkpoints, { logKeys: keys, publicKeys: [publicPem] });
    const whole = RECORDS - (RECORDS % CHUNK);
    expect(await addChunks(verifier(), path, { threads: 2, chunkRecords: CHUNK })).toBe(whole);
    expect(await addChunks(verifier(), path, { threads: 3, chunkRecords: CHUNK })).toBe(whole);
    const copy = join(dir.dir, 'threads-stop.db');
    copyFileSync(path, copy);
    const db = openDatabase(copy);
    db.exec('DELETE FROM audit_records WHERE seq = 18');
    db.close();
    expect(await addChunks(verifier(), copy, { threads: 2, chunkRecords: CHUNK })).toBe(16);
    expect(await addChunks(verifier(), copy, { threads: 3, chunkRecords: CHUNK })).toBe(16);
  });

  it('on worker threads and in one, gives the one-by-one report on a real database file, intact and tampered', async () => {
    const cases: [string, string][] = [
      ['intact', 'SELECT 1'],
      ['edit', "UPDATE audit_records SET record = replace(record, 'send_email', 'send_emaix') WHERE seq = 21"],
      ['delete', 'DELETE FROM audit_records WHERE seq = 9'],
      ['chunk-end', 'DELETE FROM audit_records WHERE seq = 16'],
      ['truncate', 'DELETE FROM audit_records WHERE seq > 37'],
      // The records intact and in order, the last row's key moved past the end (seed -356064823 of the property).
      ['renumber-tail', `UPDATE audit_records SET seq = ${RECORDS + 1} WHERE seq = ${RECORDS}`],
      ['checkpoint', "UPDATE audit_checkpoints SET root = replace(root, substr(root, 1, 1), 'x') WHERE size = 25"],
    ];
    for (const [name, sql] of cases) {
      const copy = join(dir.dir, `threads-${name}.db`);
      copyFileSync(path, copy);
      const db = openDatabase(copy);
      db.exec(sql);
      const verifyDb = verifyDatabase(db, { publicKeys: [publicPem] });
      db.close();
      // The one-by-one report (no threads, no chunks), from the file's own checkpoints, keys and head.
      const expected = await verifyAuditFile(copy, { publicKeys: [publicPem], threads: 0 });
      expect(verifyDb, name).toEqual(expected);
      const report = await verifyAuditFile(copy, { publicKeys: [publicPem], threads: 2, chunkRecords: CHUNK });
      expect(report, name).toEqual(expected);
      expect(report.ok, name).toBe(name === 'intact');
      // The records chain as they are; only the head the log keeps beside them tells that the last one moved.
      if (name === 'renumber-tail') expect(report.issues.map((i) => i.code)).toEqual(['head_mismatch']);
    }
  });
});
