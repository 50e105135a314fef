import { availableParallelism } from 'node:os';
import type { DatabaseSync } from 'node:sqlite';
import { canonicalJson } from '../core/canonical.ts';
import { openDatabase } from '../store/sqlite/database.ts';
import type { Checkpoint } from './checkpoint.ts';
import { addChunks, addChunksHere, type ChunkOptions, DEFAULT_CHUNK_RECORDS } from './chunks.ts';
import { leafHash } from './merkle.ts';
import { readCheckpoints, readKeys, readRecords, readStoredHead } from './sqlite-log.ts';
import { byRecord, LogVerifier, type VerifyIssue, type VerifyOptions, type VerifyReport } from './verify.ts';

/** Name in the first line of a JSONL export. */
export const EXPORT_FORMAT = 'ruleoftwo-audit';

/** Opens an audit database for reading only. */
export function openAuditDatabase(path: string): DatabaseSync {
  return openDatabase(path, { readOnly: true });
}

/** Verifies an audit database: every record, every checkpoint root and signature. */
export function verifyDatabase(db: DatabaseSync, options: VerifyOptions = {}): VerifyReport {
  const head = readStoredHead(db);
  const verifier = new LogVerifier(readCheckpoints(db), { logKeys: readKeys(db), ...options });
  // Strict checks parse every record, which only the one-by-one path does.
  const taken = options.strict ? 0 : addChunksHere(verifier, db);
  return checkHead(addRecords(verifier, db, taken + 1), db, head);
}

/** Options of {@link verifyAuditFile}. */
export interface VerifyFileOptions extends VerifyOptions, ChunkOptions {}

/**
 * Verifies the audit log in a database file, as {@link verifyDatabase} does, with the records hashed on worker
 * threads when the log is long enough to repay starting them.
 */
export async function verifyAuditFile(path: string, options: VerifyFileOptions = {}): Promise<VerifyReport> {
  const db = openAuditDatabase(path);
  try {
    const head = readStoredHead(db);
    const verifier = new LogVerifier(readCheckpoints(db), { logKeys: readKeys(db), ...options });
    const { size } = db.prepare('SELECT coalesce(max(seq), 0) AS size FROM audit_records').get() as { size: number };
    const chunk = options.chunkRecords ?? DEFAULT_CHUNK_RECORDS;
    let taken = 0;
    // Strict checks parse every record, which only the one-by-one path does; 0 threads asks for that path too.
    if (!options.strict && options.threads !== 0) {
      // Starting a worker costs about as much as hashing 20,000 records: a short log is checked in this thread.
      const threads = options.threads ?? (size >= 16 * chunk ? Math.min(2, availableParallelism()) : 1);
      taken =
        threads === 1 ? addChunksHere(verifier, db, chunk) : await addChunks(verifier, path, { ...options, threads });
    }
    return checkHead(addRecords(verifier, db, taken + 1), db, head);
  } finally {
    db.close();
  }
}

function addRecords(verifier: LogVerifier, db: DatabaseSync, from: number): VerifyReport {
  for (const record of readRecords(db, from)) {
    verifier.add(record.text);
    if (verifier.broken) break;
  }
  return verifier.finish();
}

/**
 * Checks the records against the head the log keeps beside them, read before them: the writer updates it in the
 * transaction of every append, so the record at its size must be there, and be the one it names. This finds an edit
 * of the records after the last checkpoint, or their deletion, made without updating the head (rows changed by
 * hand); a rewrite of the head too needs a witness of a signed checkpoint to be found (`--witness`).
 */
function checkHead(report: VerifyReport, db: DatabaseSync, before: StoredHead | undefined): VerifyReport {
  // Read before the records, the head may predate appends committed while they were read; the writer updates it in
  // the transaction of every append, so read again it holds every record read, or they were not written by the log.
  const head = report.records > (before?.size ?? 0) ? readStoredHead(db) : before;
  return withHead(report, head, (size) => {
    const [record] = readRecords(db, size);
    return record?.seq === size ? leafHash(record.text) : undefined;
  });
}

/** The head a log keeps beside its records: their count and the last one's leaf hash. */
type StoredHead = { size: number; lastHash: string };

/** `report` with what `head` says against its records added; `leafAt(n)` is record n's leaf hash, if it is there. */
function withHead(
  report: VerifyReport,
  head: StoredHead | undefined,
  leafAt: (size: number) => string | undefined,
): VerifyReport {
  const size = head?.size ?? 0;
  let problem: VerifyIssue | undefined;
  if (head === undefined) {
    if (report.records > 0) problem = headIssue(1, 'the log has records but no head (deleted)');
  } else if (report.records > size) {
    // INVARIANT: a record added after the head's last one fails verify, as it fails the writer's own check on open
    // (test/audit/head.test.ts "appended by hand").
    if (report.ok)
      problem = headIssue(
        size + 1,
        `record ${size + 1} is not in the log's head, which says ${size} records (added by hand)`,
      );
  } else if (report.records < size) {
    // A break before the head's size is reported already, where it is.
    if (report.ok)
      problem = headIssue(
        report.records + 1,
        `the log ends after record ${report.records} but its head says ${size} records (truncated)`,
      );
  } else if (size > 0 && leafAt(size) !== head.lastHash) {
    problem = headIssue(size, `record ${size} was changed: it is not the last record the log's head names`);
  }
  if (problem === undefined) return report;
  return { ...report, ok: false, issues: [...report.issues, problem].sort(byRecord) };
}

function headIssue(record: number, message: string): VerifyIssue {
  return { code: 'head_mismatch', record, message };
}

/**
 * Writes the log as JSONL: a header with the log's public keys and its head, each record's exact text, and its
 * checkpoints, all read in one snapshot.
 */
export function exportJsonl(db: DatabaseSync, write: (line: string) => void): void {
  // INVARIANT: an export carries the head, so verify judges it as it judges the database
  // (test/audit/head.test.ts "export").
  db.exec('BEGIN');
  try {
    const head = readStoredHead(db);
    const keys = Object.fromEntries(readKeys(db));
    write(canonicalJson({ ...(head ? { head } : {}), keys, log: EXPORT_FORMAT, v: 1 }));
    const checkpoints = readCheckpoints(db);
    let next = 0;
    const flushUpTo = (size: number) => {
      for (; next < checkpoints.length && (checkpoints[next] as Checkpoint).size <= size; next++) {
        write(canonicalJson({ checkpoint: checkpoints[next] }));
      }
    };
    for (const record of readRecords(db)) {
      write(record.text);
      flushUpTo(record.seq);
    }
    flushUpTo(Number.POSITIVE_INFINITY);
  } finally {
    db.exec('COMMIT');
  }
}

/**
 * Verifies a JSONL export byte for byte: the header, every record in full (strict parse), and every checkpoint. A
 * line that is not canonical JSON was not written by `exportJsonl`.
 */
export function verifyJsonl(bytes: Uint8Array, options: VerifyOptions = {}): VerifyReport {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return failed('the export is not valid UTF-8');
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const header = parseLine(lines[0] ?? '');
  const keys = header?.keys;
  const head = header?.head === undefined ? undefined : exportHead(header.head);
  if (
    !header ||
    header.log !== EXPORT_FORMAT ||
    keys === null ||
    typeof keys !== 'object' ||
    Object.values(keys as object).some((k) => typeof k !== 'string') ||
    // Exports before the head have none; a header with any other field was edited.
    !['keys,log,v', 'head,keys,log,v'].includes(Object.keys(header).join(',')) ||
    (header.head !== undefined && head === undefined)
  ) {
    return failed('line 1 is not a ruleoftwo audit export header');
  }
  if (header.v !== 1) return failed(`export format version \`${String(header.v)}\`; this release reads version 1`);
  const checkpoints: Checkpoint[] = [];
  const records: string[] = [];
  let misplaced: string | undefined;
  for (const [i, line] of lines.entries()) {
    if (i === 0) continue;
    if (line.startsWith('{"checkpoint":')) {
      const checkpoint = parseCheckpoint(line);
      if (!checkpoint) return failed(`line ${i + 1}: malformed checkpoint`);
      // A checkpoint stands right after the record it covers up to; anywhere else it was moved.
      if (checkpoint.size !== records.length && misplaced === undefined) {
        misplaced = `line ${i + 1}: checkpoint ${checkpoint.size} stands after record ${records.length} (moved)`;
      }
      checkpoints.push(checkpoint);
    } else {
      records.push(line);
    }
  }
  const verifier = new LogVerifier(checkpoints, {
    logKeys: new Map(Object.entries(keys as Record<string, string>)),
    strict: true,
    ...options,
  });
  for (const record of records) {
    verifier.add(record);
    if (verifier.broken) break;
  }
  const finished = verifier.finish();
  const report =
    head === undefined
      ? finished
      : withHead(finished, head, (size) => {
          const text = records[size - 1];
          return text === undefined ? undefined : leafHash(text);
        });
  if (misplaced === undefined) return report;
  return { ...report, ok: false, issues: [...report.issues, { code: 'bad_checkpoint', message: misplaced }] };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return canonicalJson(value) === line ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The head in an export's header, or undefined when it is not one. */
function exportHead(value: unknown): StoredHead | undefined {
  const head = value as Record<string, unknown> | null;
  if (head === null || typeof head !== 'object' || Object.keys(head).join(',') !== 'lastHash,size') return undefined;
  if (typeof head.lastHash !== 'string' || !Number.isSafeInteger(head.size)) return undefined;
  return head as unknown as StoredHead;
}

function parseCheckpoint(line: string): Checkpoint | undefined {
  const c = parseLine(line)?.checkpoint as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') return undefined;
  const okKey = c.keyId === null || typeof c.keyId === 'string';
  const okSignature = c.signature === null || typeof c.signature === 'string';
  if (!Number.isSafeInteger(c.size) || typeof c.root !== 'string' || !Number.isSafeInteger(c.at)) return undefined;
  if (!okKey || !okSignature || !Number.isSafeInteger(c.previous) || Object.keys(c).length !== 6) return undefined;
  return c as unknown as Checkpoint;
}

function failed(message: string): VerifyReport {
  return {
    ok: false,
    records: 0,
    checkpoints: 0,
    signed: 0,
    root: '',
    issues: [{ code: 'malformed', message }],
    notes: [],
  };
}

/** Counts and bounds of an audit log, for `audit stats`. */
export interface AuditStats {
  records: number;
  firstAt: number | null;
  lastAt: number | null;
  byType: Record<string, number>;
  checkpoints: number;
  lastCheckpoint: Checkpoint | null;
  keys: string[];
}

/** Summarizes an audit database without verifying it. */
export function auditStats(db: DatabaseSync): AuditStats {
  const at = (order: string) =>
    (
      db.prepare(`SELECT json_extract(record, '$.at') AS at FROM audit_records ORDER BY seq ${order} LIMIT 1`).get() as
        | { at: number | null }
        | undefined
    )?.at ?? null;
  const total = db.prepare('SELECT count(*) AS n FROM audit_records').get() as { n: number };
  const types = db
    .prepare(
      "SELECT json_extract(record, '$.event.type') AS type, count(*) AS n FROM audit_records GROUP BY type ORDER BY type",
    )
    .all() as { type: string | null; n: number }[];
  const checkpoints = readCheckpoints(db);
  return {
    records: total.n,
    firstAt: at('ASC'),
    lastAt: at('DESC'),
    byType: Object.fromEntries(types.map((t) => [t.type ?? '(unreadable)', t.n])),
    checkpoints: checkpoints.length,
    lastCheckpoint: checkpoints.at(-1) ?? null,
    keys: [...readKeys(db).keys()],
  };
}
