import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { StoreError } from '../store/errors.ts';
import {
  BACKGROUND_WAL_AUTOCHECKPOINT,
  startWalCheckpointer,
  type WalCheckpointer,
} from '../store/sqlite/checkpointer.ts';
import {
  asStoreError,
  assertOpen,
  commitBatch,
  type DatabaseOptions,
  databaseFile,
  immediate,
  inSavepoint,
  type Outcome,
  openStoreDatabase,
  storeError,
  TransactionLost,
} from '../store/sqlite/database.ts';
import { type Committed, WalSync } from '../store/sqlite/wal-sync.ts';
import type { AuditEvent, AuditLog } from '../store/types.ts';
import type { AuditKey, Checkpoint } from './checkpoint.ts';
import { leafHashOfInput, MerkleFrontier } from './merkle.ts';
import { eventBytes, GENESIS_PREV, leafInput } from './record.ts';
import { compileRedaction, type RedactRule, redactEvent } from './redact.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS audit_records (
  seq INTEGER PRIMARY KEY,
  record TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  frontier BLOB NOT NULL,
  last_hash BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  size INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  root TEXT NOT NULL,
  key_id TEXT,
  signature TEXT,
  previous INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS audit_keys (
  key_id TEXT PRIMARY KEY,
  public_key TEXT NOT NULL
) STRICT`;

/** The outcome of every plain append in a committed batch. */
const APPENDED: Outcome = Object.freeze({ ok: true, result: undefined });

/** Default number of records between checkpoints. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;
/** Default longest time between checkpoints while records arrive. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

/** Options of {@link SqliteAuditLog}. */
export interface SqliteAuditLogOptions extends DatabaseOptions {
  /** Signs checkpoints; without it checkpoints are written unsigned (see `loadAuditKey`). */
  key?: AuditKey;
  /** Records between checkpoints. */
  checkpointEvery?: number;
  /** A batch written this long after the last checkpoint also writes one. */
  checkpointIntervalMs?: number;
  /**
   * Copy the write-ahead log into the database from a background thread (`startWalCheckpointer`), so that no
   * append waits for that copy; default false. `openStores` turns it on.
   */
  walCheckpointer?: boolean;
  /**
   * With `synchronous: 'full'`: commit without SQLite's own fsync and sync the write-ahead log off the event loop
   * (`WalSync`), as durable and without blocking this thread; default true. False leaves the fsync to SQLite,
   * inside each commit.
   */
  walSync?: boolean;
  /** Argument paths to redact, as in the policy's `audit.redact`. */
  redact?: readonly string[];
  /** The clock of record and checkpoint times, in milliseconds (rounded down); default `Date.now`. */
  now?: () => number;
}

/** One stored record: its number and exact text. */
export interface StoredRecord {
  seq: number;
  text: string;
}

interface Head {
  size: number;
  frontier: MerkleFrontier;
  /** Leaf hash (hex) of the last record; empty when there is none. */
  lastHash: string;
}

/** A change that must not exist without the audit events it returns; see {@link SqliteAuditLog.transact}. */
export type AuditedWrite<T> = (db: DatabaseSync) => { result: T; events: AuditEvent[] };

interface Waiter {
  /** The canonical JSON bytes of one event, or a write whose events are appended with it. */
  event?: Buffer;
  write?: AuditedWrite<unknown>;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The tamper-evident audit log in SQLite. Appends that arrive together share one `BEGIN IMMEDIATE` transaction
 * and one fsync (group commit); each promise resolves only after that commit, so a record is durable before the
 * guarded call is released. Several processes may append to one file: the chain head is read inside the write lock.
 */
export class SqliteAuditLog implements AuditLog {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #key: AuditKey | undefined;
  readonly #every: number;
  readonly #intervalMs: number;
  readonly #rules: RedactRule[];
  readonly #now: () => number;
  readonly #insert: StatementSync;
  readonly #selectHead: StatementSync;
  readonly #selectLast: StatementSync;
  readonly #upsertHead: StatementSync;
  readonly #lastCheckpoint: StatementSync;
  readonly #insertCheckpoint: StatementSync;
  #queue: Waiter[] = [];
  #scheduled = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #checkpointer: WalCheckpointer | undefined;
  /** With `synchronous: 'full'` and `walSync`: syncs the write-ahead log after commits made without a sync. */
  readonly #sync: WalSync | undefined;
  /** The size of the latest checkpoint this connection has written or seen: checkpoints are never removed. */
  #checkpointed = 0;

  constructor(path: string, options: SqliteAuditLogOptions = {}) {
    this.path = path;
    this.#key = options.key;
    this.#every = Math.max(1, options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY);
    this.#intervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.#rules = compileRedaction(options.redact ?? []);
    const now = options.now ?? Date.now;
    // Records and checkpoints hold whole milliseconds (the record format and the STRICT column refuse fractions).
    this.#now = () => Math.floor(now());
    const offLoop = options.synchronous !== 'normal' && options.walSync !== false;
    const database = {
      ...(options.walCheckpointer ? { walAutocheckpoint: BACKGROUND_WAL_AUTOCHECKPOINT } : {}),
      ...options,
      // `full` is then kept by syncing the write-ahead log after each commit, off this thread (see WalSync).
      ...(offLoop ? { synchronous: 'normal' as const } : {}),
    };
    // INVARIANT: the write-ahead log synced and the file the checkpointer opens are the ones SQLite writes, whatever
    // symbolic link or later working directory the path goes through (test/store/paths.test.ts).
    const file = databaseFile(path);
    this.#db = openStoreDatabase(file, database, { component: 'audit', version: 1, ddl: SCHEMA });
    try {
      // The record comes as its UTF-8 bytes, stored as the same text: SQLite's cast keeps the bytes as they are.
      this.#insert = this.#db.prepare('INSERT INTO audit_records (seq, record) VALUES (?, CAST(? AS TEXT))');
      this.#selectHead = this.#db.prepare('SELECT size, frontier, last_hash FROM audit_head WHERE id = 1');
      // The last record as the input of its leaf hash (0x00, then its bytes), hashed without decoding it to a string.
      this.#selectLast = this.#db.prepare(
        'SELECT seq, CAST(char(0) || record AS BLOB) AS input FROM audit_records ORDER BY seq DESC LIMIT 1',
      );
      this.#upsertHead = this.#db.prepare(
        'INSERT INTO audit_head (id, size, frontier, last_hash) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier, last_hash = excluded.last_hash',
      );
      this.#lastCheckpoint = this.#db.prepare('SELECT size, at FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
      this.#insertCheckpoint = this.#db.prepare(
        'INSERT INTO audit_checkpoints (size, at, root, key_id, signature, previous) VALUES (?, ?, ?, ?, ?, ?)',
      );
      if (this.#key) {
        const key = this.#key;
        immediate(this.#db, 'cannot register the audit key', () => {
          this.#db
            .prepare('INSERT OR IGNORE INTO audit_keys (key_id, public_key) VALUES (?, ?)')
            .run(key.keyId, key.publicPem());
        });
      }
      this.#checkpointed = (this.#lastCheckpoint.get() as { size: number } | undefined)?.size ?? 0;
      this.#sync = offLoop ? new WalSync(file) : undefined;
    } catch (error) {
      this.#db.close();
      throw error;
    }
    if (options.walCheckpointer) this.#checkpointer = startWalCheckpointer(file);
  }

  append(event: AuditEvent): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = this.#encode(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue<void>({ event: bytes });
  }

  /**
   * Runs `write` on this log's connection and appends the events it returns in the same transaction, so a change
   * and its audit record are committed together or not at all; resolves with its result once durable. `write` must
   * be synchronous; it may share the transaction with other appends, and if it throws, nothing of it is written.
   */
  transact<T>(write: AuditedWrite<T>): Promise<T> {
    return this.#enqueue<T>({ write });
  }

  #encode(event: AuditEvent): Buffer {
    try {
      return eventBytes(redactEvent(event, this.#rules));
    } catch (error) {
      throw new StoreError('STORE_WRITE', `cannot write audit event: ${(error as Error).message}`);
    }
  }

  #enqueue<T>(work: Pick<Waiter, 'event' | 'write'>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_CLOSED', 'audit log is closed'));
    if (this.#sync?.failure) return Promise.reject(this.#sync.failure);
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ ...work, resolve: resolve as (result: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // Everything appended before the event loop turns joins this batch: one transaction, one fsync.
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Writes a checkpoint of the current head unless one exists at its size; returns the latest checkpoint. */
  async checkpoint(): Promise<Checkpoint | undefined> {
    assertOpen(this.#closed, 'audit log');
    await this.#drain();
    // INVARIANT: nothing more is written after a failed sync (test/store/wal-sync.test.ts "a failed sync").
    if (this.#sync?.failure) throw this.#sync.failure;
    const latest = immediate(this.#db, 'cannot checkpoint the audit log', () => {
      const head = this.#readHeadNow();
      this.#writeCheckpoint(head);
      return readCheckpoints(this.#db).at(-1);
    });
    await this.#durable();
    return latest;
  }

  /**
   * Checks after a restart that the head agrees with the last record (they are written in one transaction, so a
   * disagreement is corruption, not a crash) and checkpoints records written since the last checkpoint. Idempotent.
   */
  async recover(): Promise<{ size: number; checkpoint: Checkpoint | undefined }> {
    assertOpen(this.#closed, 'audit log');
    this.#readHead();
    const checkpoint = await this.checkpoint();
    return { size: this.size, checkpoint };
  }

  /** How many records the log holds. */
  get size(): number {
    return this.#readHead().size;
  }

  /** Every checkpoint, oldest first. */
  checkpoints(): Checkpoint[] {
    assertOpen(this.#closed, 'audit log');
    return readCheckpoints(this.#db);
  }

  /** Waits for pending appends, writes a final checkpoint, and closes the database. */
  close(): Promise<void> {
    // INVARIANT: a second close, made while the first waits, waits for it: closing the write-ahead log's descriptor
    // twice can close a file opened in between (test/store/wal-sync.test.ts "two closes at once").
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.#drain();
      if (this.#readHead().size > 0) await this.checkpoint();
    } finally {
      this.#closed = true;
      await this.#sync?.close();
      this.#db.close();
      await this.#checkpointer?.stop();
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#scheduled) await new Promise((resolve) => setImmediate(resolve));
    await this.#sync?.idle();
  }

  /** Resolves once what this connection has committed is on disk. */
  #durable(): Promise<void> {
    const sync = this.#sync;
    if (!sync) return Promise.resolve();
    return new Promise((resolve, reject) =>
      sync.after([{ waiter: { resolve: () => resolve(), reject }, result: undefined }]),
    );
  }

  #flush(): void {
    // Batches commit while a sync runs, and the next sync covers them all: this thread never waits for the disk, so
    // the CPU of a batch (canonical JSON, hashes, inserts) overlaps the sync before it instead of adding to it.
    const sync = this.#sync;
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    if (sync?.failure) {
      for (const waiter of batch) waiter.reject(sync.failure);
      return;
    }
    // INVARIANT: an append resolves only after its commit and a sync of the write-ahead log that started after it
    // (test/store/wal-sync.test.ts); one that was not committed rejects, so the guard denies
    // (test/store/fail-closed.test.ts "write error").
    const committed: Committed[] = [];
    const settle = sync ? (waiter: Waiter, result: unknown) => committed.push({ waiter, result }) : undefined;
    commitBatch(this.#db, 'cannot write the audit log', batch, () => this.#write(batch), settle);
    sync?.after(committed);
  }

  /** Appends a batch inside the caller's transaction: one outcome per waiter, in order. */
  #write(batch: readonly Waiter[]): Outcome[] {
    const outcomes: Outcome[] = [];
    const head = this.#readHeadNow();
    const at = this.#now();
    let { size, frontier, lastHash: prev } = head;
    const add = (event: Buffer) => {
      size += 1;
      const input = leafInput(size, prev.length === 0 ? GENESIS_PREV : prev, at, event);
      prev = leafHashOfInput(input);
      this.#insert.run(size, input.subarray(1));
      frontier.push(prev);
    };
    for (const waiter of batch) {
      if (waiter.event !== undefined) {
        add(waiter.event);
        outcomes.push(APPENDED);
        continue;
      }
      const before = { size, prev, frontier: frontier.clone() };
      try {
        const result = inSavepoint(this.#db, () => {
          const written = (waiter.write as AuditedWrite<unknown>)(this.#db);
          for (const event of written.events) add(this.#encode(event));
          return written.result;
        });
        outcomes.push({ ok: true, result });
      } catch (error) {
        if (error instanceof TransactionLost) throw error;
        // INVARIANT: a write whose audit events cannot be appended is not committed
        // (test/cli/audit.test.ts "an answer the log cannot hold is not given").
        ({ size, prev, frontier } = before);
        outcomes.push({ ok: false, error: asStoreError(error, 'cannot write the audit log') });
      }
    }
    const next = { size, frontier, lastHash: prev };
    // INVARIANT: a batch that appended nothing (writes that log no event, or that failed) leaves the head as it was:
    // written at size 0, it named a last record that does not exist, and the log read as corrupt from then on
    // (test/audit/transact.test.ts "logs nothing").
    if (size !== head.size) this.#upsertHead.run(size, frontier.serialize(), Buffer.from(prev, 'hex'));
    const last = this.#lastCheckpoint.get() as { size: number; at: number } | undefined;
    if (size - (last?.size ?? 0) >= this.#every || at - (last?.at ?? 0) >= this.#intervalMs) {
      this.#writeCheckpoint(next);
    }
    return outcomes;
  }

  /** The head, checked against the last record, read outside a transaction (see {@link SqliteAuditLog.#readHeadNow}). */
  #readHead(): Head {
    // INVARIANT: the head and the last record are read in one snapshot. Read by two statements of their own, another
    // process's append between them made them disagree, which reads as corruption (test/store/multiprocess.test.ts).
    try {
      this.#db.exec('BEGIN');
    } catch (error) {
      throw storeError(error, 'cannot read the audit log');
    }
    try {
      return this.#readHeadNow();
    } finally {
      this.#db.exec('COMMIT');
    }
  }

  /** The head, checked against the last record, inside the caller's transaction. */
  #readHeadNow(): Head {
    let row: { size: number; frontier: Uint8Array; last_hash: Uint8Array } | undefined;
    try {
      row = this.#selectHead.get() as typeof row;
    } catch (error) {
      throw storeError(error, 'cannot read the audit log');
    }
    if (!row) {
      const any = this.#db.prepare('SELECT count(*) AS n FROM audit_records').get() as { n: number };
      if (any.n > 0) throw new StoreError('STORE_CORRUPT', 'the audit log has records but no head');
      return { size: 0, frontier: new MerkleFrontier(), lastHash: '' };
    }
    const last = this.#selectLast.get() as { seq: number; input: Uint8Array } | undefined;
    const lastHash = Buffer.from(row.last_hash).toString('hex');
    // Earlier releases wrote this head after a batch that appended nothing to an empty log.
    if (row.size === 0 && !last && lastHash === '') return { size: 0, frontier: new MerkleFrontier(), lastHash };
    // INVARIANT: appends never continue a log whose head and tail disagree (test/store/fail-closed.test.ts "corrupted row").
    if (!last || last.seq !== row.size || leafHashOfInput(last.input) !== lastHash) {
      throw new StoreError('STORE_CORRUPT', `the audit log head (size ${row.size}) does not match its last record`);
    }
    let frontier: MerkleFrontier;
    try {
      frontier = MerkleFrontier.deserialize(row.size, row.frontier);
    } catch {
      throw new StoreError('STORE_CORRUPT', 'the audit log head is corrupt');
    }
    return { size: row.size, frontier, lastHash };
  }

  /**
   * Checkpoints the head unless it is empty or already checkpointed; runs inside the caller's transaction. A writer
   * without a key leaves a log that has keys to the next writer that has one, rather than add an unsigned checkpoint
   * that a verifier pinning the key would reject.
   */
  #writeCheckpoint(head: Head): void {
    const previous = (this.#lastCheckpoint.get() as { size: number } | undefined)?.size ?? 0;
    // INVARIANT: the writer signs nothing over a log whose checkpoints went missing while it ran, since it would sign
    // whatever was rewritten behind them (test/audit/forgery.test.ts "deleted while it runs").
    if (previous < this.#checkpointed) {
      throw new StoreError(
        'STORE_CORRUPT',
        `the audit log's checkpoint ${this.#checkpointed} is gone (its last is ${previous}); checkpoints are never removed`,
      );
    }
    this.#checkpointed = previous;
    if (head.size <= previous) return;
    if (!this.#key && this.#db.prepare('SELECT 1 FROM audit_keys LIMIT 1').get()) return;
    const root = head.frontier.root();
    const at = this.#now();
    const c = this.#key
      ? this.#key.sign(head.size, root, at, previous)
      : { size: head.size, root, at, keyId: null, signature: null, previous };
    this.#insertCheckpoint.run(c.size, c.at, c.root, c.keyId, c.signature, c.previous);
    this.#checkpointed = c.size;
  }
}

const CHUNK = 4096;

/** Records from `from` on, in order; read in chunks, which node:sqlite returns several times faster than row by row. */
export function* readRecords(db: DatabaseSync, from = 1): Generator<StoredRecord> {
  const select = db.prepare('SELECT seq, record FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?');
  // Rows as arrays are cheaper; Node before 22.16 has only objects.
  const arrays = typeof select.setReturnArrays === 'function';
  if (arrays) select.setReturnArrays(true);
  for (let next = from; ; ) {
    const rows = select.all(next, CHUNK) as unknown[];
    for (const row of rows) {
      if (arrays) {
        const [seq, text] = row as [number, string];
        yield { seq, text };
      } else {
        const { seq, record } = row as { seq: number; record: string };
        yield { seq, text: record };
      }
      next = (arrays ? (row as [number])[0] : (row as { seq: number }).seq) + 1;
    }
    if (rows.length < CHUNK) return;
  }
}

/** The head stored beside the records (their count and the last one's leaf hash), or undefined for an empty log. */
export function readStoredHead(db: DatabaseSync): { size: number; lastHash: string } | undefined {
  const row = db.prepare('SELECT size, last_hash FROM audit_head WHERE id = 1').get() as
    | { size: number; last_hash: Uint8Array }
    | undefined;
  return row && { size: row.size, lastHash: Buffer.from(row.last_hash).toString('hex') };
}

/** Every checkpoint, oldest first. */
export function readCheckpoints(db: DatabaseSync): Checkpoint[] {
  const rows = db
    .prepare('SELECT size, at, root, key_id, signature, previous FROM audit_checkpoints ORDER BY size')
    .all() as {
    size: number;
    at: number;
    root: string;
    key_id: string | null;
    signature: string | null;
    previous: number;
  }[];
  return rows.map((r) => ({
    size: r.size,
    root: r.root,
    at: r.at,
    keyId: r.key_id,
    signature: r.signature,
    previous: r.previous,
  }));
}

/** Public keys registered in the log, by key id (not trusted unless pinned by the verifier). */
export function readKeys(db: DatabaseSync): Map<string, string> {
  const rows = db.prepare('SELECT key_id, public_key FROM audit_keys').all() as {
    key_id: string;
    public_key: string;
  }[];
  return new Map(rows.map((r) => [r.key_id, r.public_key]));
}
