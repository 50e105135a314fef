import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ApprovalRequest } from '../../core/decision.ts';
import { StoreError } from '../errors.ts';
import { answerRecord, consumeRecord } from '../memory.ts';
import type {
  AnswerOutcome,
  ApprovalAnswer,
  ApprovalReceipt,
  ApprovalRecord,
  ApprovalStatus,
  ApprovalStore,
  ConsumeOutcome,
} from '../types.ts';
import { assertOpen, type DatabaseOptions, immediate, openStoreDatabase } from './database.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  record TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, created_at);
CREATE INDEX IF NOT EXISTS approvals_session ON approvals (session_id, created_at)`;

const STATUSES: readonly string[] = ['pending', 'approved', 'denied', 'expired'];

/**
 * Approval requests in SQLite. Every transition runs inside `BEGIN IMMEDIATE` through the same `answerRecord` and
 * `consumeRecord` as the memory store, so a receipt is good once across every process sharing the file.
 */
export class SqliteApprovalStore implements ApprovalStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  #closed = false;

  constructor(path: string, options: DatabaseOptions = {}) {
    this.path = path;
    this.#db = openStoreDatabase(path, options, { component: 'approvals', version: 1, ddl: SCHEMA });
    this.#select = this.#db.prepare('SELECT record FROM approvals WHERE id = ?');
    this.#insert = this.#db.prepare(
      'INSERT INTO approvals (id, session_id, status, created_at, record) VALUES (?, ?, ?, ?, ?)',
    );
    this.#update = this.#db.prepare('UPDATE approvals SET status = ?, record = ? WHERE id = ?');
  }

  async create(request: ApprovalRequest): Promise<void> {
    assertOpen(this.#closed, 'approval store');
    const record: ApprovalRecord = { request, status: 'pending' };
    immediate(this.#db, `cannot create approval request \`${request.id}\``, () => {
      if (this.#select.get(request.id))
        throw new StoreError('STORE_WRITE', `approval request \`${request.id}\` exists`);
      // The column only orders `list`; the record keeps the exact time. A high-resolution clock gives fractions of a
      // millisecond, which a STRICT INTEGER column refuses (test/store/common.case.ts "not whole milliseconds").
      const createdAt = Math.floor(request.createdAt);
      this.#insert.run(request.id, request.sessionId, 'pending', createdAt, JSON.stringify(record));
    });
  }

  async get(requestId: string): Promise<ApprovalRecord | undefined> {
    assertOpen(this.#closed, 'approval store');
    return this.#read(requestId);
  }

  async answer(requestId: string, answer: ApprovalAnswer, now: number): Promise<AnswerOutcome | undefined> {
    assertOpen(this.#closed, 'approval store');
    return immediate(this.#db, `cannot answer approval request \`${requestId}\``, () => {
      const answered = answerApproval(this.#db, requestId, answer, now);
      return answered && { record: answered.after, changed: answered.after !== answered.before };
    });
  }

  async consume(receipt: ApprovalReceipt, now: number): Promise<ConsumeOutcome> {
    assertOpen(this.#closed, 'approval store');
    return immediate(this.#db, `cannot use approval receipt \`${receipt.requestId}\``, () => {
      const { next, ...outcome } = consumeRecord(this.#read(receipt.requestId), receipt, now);
      if (next) this.#write(next);
      return outcome;
    });
  }

  async list(filter: { status?: ApprovalStatus; sessionId?: string } = {}): Promise<ApprovalRecord[]> {
    assertOpen(this.#closed, 'approval store');
    const where: string[] = [];
    const params: string[] = [];
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.sessionId !== undefined) {
      where.push('session_id = ?');
      params.push(filter.sessionId);
    }
    const sql = `SELECT id, record FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    const rows = this.#db.prepare(sql).all(...params) as { id: string; record: string }[];
    return rows.map((row) => parseRecord(row.id, row.record));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #read(requestId: string): ApprovalRecord | undefined {
    const row = this.#select.get(requestId) as { record: string } | undefined;
    return row === undefined ? undefined : parseRecord(requestId, row.record);
  }

  #write(record: ApprovalRecord): void {
    this.#update.run(record.status, JSON.stringify(record), record.request.id);
  }
}

/**
 * Answers a request inside the caller's transaction on any connection to the file, as {@link SqliteApprovalStore}
 * does: with `SqliteAuditLog.transact`, the answer and its audit record commit together. Undefined for an unknown id.
 */
export function answerApproval(
  db: DatabaseSync,
  requestId: string,
  answer: ApprovalAnswer,
  now: number,
): { before: ApprovalRecord; after: ApprovalRecord } | undefined {
  const row = db.prepare('SELECT record FROM approvals WHERE id = ?').get(requestId) as { record: string } | undefined;
  if (row === undefined) return undefined;
  const before = parseRecord(requestId, row.record);
  const after = answerRecord(before, answer, now);
  if (after !== before) {
    db.prepare('UPDATE approvals SET status = ?, record = ? WHERE id = ?').run(
      after.status,
      JSON.stringify(after),
      requestId,
    );
  }
  return { before, after };
}

function parseRecord(requestId: string, text: string): ApprovalRecord {
  let record: Partial<ApprovalRecord> | null;
  try {
    record = JSON.parse(text);
  } catch {
    record = null;
  }
  // INVARIANT: a corrupt approval is never usable (test/store/fail-closed.test.ts "corrupted row").
  if (
    record === null ||
    typeof record !== 'object' ||
    typeof record.status !== 'string' ||
    !STATUSES.includes(record.status) ||
    record.request?.id !== requestId ||
    typeof record.request.hash !== 'string' ||
    typeof record.request.expiresAt !== 'number'
  ) {
    throw new StoreError('STORE_CORRUPT', `approval request \`${requestId}\` is corrupt or unreadable`);
  }
  return record as ApprovalRecord;
}
