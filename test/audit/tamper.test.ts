import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/audit/checkpoint.ts';
import { exportJsonl, verifyDatabase, verifyJsonl } from '../../src/audit/inspect.ts';
import { readCheckpoints, readKeys, readRecords, type StoredRecord } from '../../src/audit/sqlite-log.ts';
import { LogVerifier } from '../../src/audit/verify.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { tempDir } from '../store/stores.ts';
import { writeSampleLog } from './log.ts';

const RECORDS = 40;
let dir: { dir: string; remove: () => void };
let path: string;
let publicPem: string;
let rows: StoredRecord[];
let checkpoints: Checkpoint[];
let keys: Map<string, string>;
let jsonl: Buffer;
/** The last checkpoint, saved outside the log before any tampering: what makes truncation detectable. */
let witness: Checkpoint;

beforeAll(async () => {
  dir = tempDir();
  ({ path, publicPem } = await writeSampleLog(dir.dir, RECORDS));
  const db = openDatabase(path, { readOnly: true });
  rows = [...readRecords(db)];
  checkpoints = readCheckpoints(db);
  keys = readKeys(db);
  const lines: string[] = [];
  exportJsonl(db, (line) => lines.push(line));
  jsonl = Buffer.from(`${lines.join('\n')}\n`);
  db.close();
  witness = checkpoints.at(-1) as Checkpoint;
});
afterAll(() => dir.remove());

function verifyRows(records: StoredRecord[], cps = checkpoints) {
  const verifier = new LogVerifier(cps, { logKeys: keys, publicKeys: [publicPem], witness });
  for (const r of records) verifier.add(r.text);
  return verifier.finish();
}

/** A single tampering of a list: flip one byte, delete one item, swap two, or cut the end. */
type Tamper =
  | { kind: 'flip'; at: number; byte: number; mask: number; inCheckpoint: boolean }
  | { kind: 'delete'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'truncate'; keep: number };

const tamper: fc.Arbitrary<Tamper> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    byte: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
    inCheckpoint: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
);

/** A tampered copy of the stored rows: records, and for a flip half the time a checkpoint row instead. */
function applyToRows(t: Tamper): { records: StoredRecord[]; checkpoints: Checkpoint[] } {
  const out = rows.map((r) => ({ ...r }));
  const cps = checkpoints.map((c) => ({ ...c }));
  const n = out.length;
  switch (t.kind) {
    case 'flip': {
      if (t.inCheckpoint) {
        // A checkpoint row's columns as stored: flip a byte of its text form, or change a number.
        const c = cps[t.at % cps.length] as Checkpoint;
        const fields = ['size', 'at', 'previous', 'root', 'signature', 'keyId'] as const;
        const field = fields[t.byte % fields.length] as (typeof fields)[number];
        const value = c[field];
        if (typeof value === 'number') (c[field] as number) = value ^ t.mask;
        else {
          const bytes = Buffer.from(value as string);
          const i = Math.floor(t.byte / fields.length) % bytes.length;
          bytes[i] = (bytes[i] as number) ^ t.mask;
          (c[field] as string) = bytes.toString('utf8');
        }
        return { records: out, checkpoints: cps };
      }
      const row = out[t.at % n] as StoredRecord;
      const bytes = Buffer.from(row.text);
      const i = t.byte % bytes.length;
      bytes[i] = (bytes[i] as number) ^ t.mask;
      row.text = bytes.toString('utf8');
      return { records: out, checkpoints: cps };
    }
    case 'delete':
      out.splice(t.at % n, 1);
      return { records: out, checkpoints: cps };
    case 'swap': {
      const a = t.a % n;
      const b = a === t.b % n ? (a + 1) % n : t.b % n;
      [out[a], out[b]] = [out[b] as StoredRecord, out[a] as StoredRecord];
      return { records: out, checkpoints: cps };
    }
    case 'truncate':
      return { records: out.slice(0, t.keep % n), checkpoints: cps };
  }
}

/** The same tamperings on the bytes of a JSONL export: the lines are the items; a cut is at any byte. */
function applyToBytes(t: Tamper): Buffer {
  const lines = jsonl.toString('utf8').split('\n').slice(0, -1);
  const n = lines.length;
  switch (t.kind) {
    case 'flip': {
      const bytes = Buffer.from(jsonl);
      // Every byte but the final newline, which ends the file and carries nothing.
      const i = t.byte % (bytes.length - 1);
      bytes[i] = (bytes[i] as number) ^ t.mask;
      return bytes;
    }
    case 'delete':
      lines.splice(t.at % n, 1);
      return Buffer.from(`${lines.join('\n')}\n`);
    case 'swap': {
      const i = t.a % n;
      const j = i === t.b % n ? (i + 1) % n : t.b % n;
      [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
      return Buffer.from(`${lines.join('\n')}\n`);
    }
    case 'truncate':
      return jsonl.subarray(0, t.keep % (jsonl.length - 1));
  }
}

describe('tamper detection', () => {
  it('the untouched log verifies, in the database and as an export', () => {
    expect(verifyRows(rows)).toMatchObject({ ok: true, records: RECORDS, signed: checkpoints.length });
    expect(verifyJsonl(jsonl, { publicKeys: [publicPem], witness })).toMatchObject({ ok: true, records: RECORDS });
  });

  it('detects every one of 6,000 random flips, deletions, swaps and truncations of the stored records and checkpoints', () => {
    fc.assert(
      fc.property(tamper, (t) => {
        const tampered = applyToRows(t);
        const report = verifyRows(tampered.records, tampered.checkpoints);
        expect(report.ok, JSON.stringify(t)).toBe(false);
        expect(report.issues[0]?.message).toMatch(/record|checkpoint/);
      }),
      { numRuns: 6000 },
    );
  });

  it('detects every one of 4,000 random byte flips, line deletions, swaps and truncations of an export', () => {
    fc.assert(
      fc.property(tamper, (t) => {
        const report = verifyJsonl(applyToBytes(t), { publicKeys: [publicPem], witness });
        expect(report.ok, JSON.stringify(t)).toBe(false);
      }),
      { numRuns: 4000 },
    );
  });

  it('reports a flip that turns a number into one JSON.parse reads as Infinity, without throwing', () => {
    // Found by the property above: a digit flipped to `e` made `1e999`, which canonical JSON cannot write.
    const text = jsonl.toString('utf8');
    const at = text.search(/"expiresAt":\d/);
    expect(at).toBeGreaterThanOrEqual(0);
    const tampered = `${text.slice(0, at)}"expiresAt":1e999${text.slice(at).replace(/^"expiresAt":\d+/, '')}`;
    const report = verifyJsonl(Buffer.from(tampered), { publicKeys: [publicPem], witness });
    expect(report.ok).toBe(false);
  });

  it("reports an edit of the log's key that base64 decoding would hide: unused bits, a character outside the alphabet", () => {
    // Found by the property above: the last base64 character of a 32-byte key carries 2 unused bits, so a flip of
    // its lowest bit can decode to the same key.
    const text = jsonl.toString('utf8');
    const end = text.indexOf('=\\n-----END PUBLIC KEY');
    expect(end).toBeGreaterThan(0);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(text[end - 1] as string);
    const edits = [
      `${text.slice(0, end - 1)}${alphabet[last ^ 1]}${text.slice(end)}`,
      `${text.slice(0, end - 1)}@${text.slice(end - 1)}`,
    ];
    for (const edited of edits) {
      const report = verifyJsonl(Buffer.from(edited), { publicKeys: [publicPem], witness });
      expect(report.ok).toBe(false);
      expect(report.issues.map((issue) => issue.code)).toContain('unknown_key');
    }
  });

  it('names the record: an edit, a deletion, a swap and a truncation in a real database file', () => {
    const cases: [string, string, RegExp][] = [
      [
        'edit',
        "UPDATE audit_records SET record = replace(record, 'read_inbox', 'read_inbxx') WHERE seq = 7",
        /record 7 was changed/,
      ],
      ['delete', 'DELETE FROM audit_records WHERE seq = 12', /record 12 is missing/],
      [
        'swap',
        'UPDATE audit_records SET seq = -seq WHERE seq IN (3, 5); UPDATE audit_records SET seq = 8 + seq WHERE seq IN (-3, -5)',
        /record 3 is missing or moved \(record 5 stands in its place\)/,
      ],
      ['checkpoint', 'DELETE FROM audit_checkpoints WHERE size = 15', /checkpoint 25 follows checkpoint 15/],
      ['truncate', 'DELETE FROM audit_records WHERE seq > 30', /ends after record 30/],
    ];
    for (const [name, sql, message] of cases) {
      const copy = join(dir.dir, `${name}.db`);
      copyFileSync(path, copy);
      const db = openDatabase(copy);
      db.exec(sql);
      const report = verifyDatabase(db, { publicKeys: [publicPem] });
      db.close();
      expect(report.ok, name).toBe(false);
      expect(report.issues[0]?.message, name).toMatch(message);
    }
  });
});
