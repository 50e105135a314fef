import { closeSync, lstatSync, openSync, realpathSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';

/** Options for opening a SQLite database. */
export interface DatabaseOptions {
  /** How long a writer waits for another process's lock before failing; default 5000 ms. */
  busyTimeoutMs?: number;
  readOnly?: boolean;
  /** Caps the database file; writes past it fail as if the disk were full, and guarded calls are denied. */
  maxBytes?: number;
  /**
   * `full` (default): every commit is fsynced, so it survives a power loss. `normal`: commits reach the operating
   * system before they are acknowledged, so they survive the process being killed, not the machine losing power.
   */
  synchronous?: 'full' | 'normal';
  /**
   * Pages the write-ahead log may hold before a commit on this connection copies it into the database (SQLite's
   * default is 1000). Raised where a background checkpointer (`startWalCheckpointer`) does that copying instead.
   */
  walAutocheckpoint?: number;
}

/** Default busy timeout: long enough for a peer's group commit, short enough to deny rather than hang. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens a database in WAL mode with full fsync on commit, so a committed transaction survives a crash of the
 * process or the machine, and readers in other processes never block the writer.
 */
export function openDatabase(path: string, options: DatabaseOptions = {}): DatabaseSync {
  let db: DatabaseSync;
  const file = options.readOnly ? path : databaseFile(path);
  try {
    db = new DatabaseSync(file, { readOnly: options.readOnly ?? false });
  } catch (error) {
    throw new StoreError('STORE_UNAVAILABLE', `cannot open database \`${path}\`: ${messageOf(error)}`, {
      cause: error,
    });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
    if (!options.readOnly) {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      if (options.walAutocheckpoint !== undefined) {
        db.exec(`PRAGMA wal_autocheckpoint = ${Math.max(0, Math.floor(options.walAutocheckpoint))}`);
      }
    }
    if (options.maxBytes !== undefined) {
      const { page_size } = db.prepare('PRAGMA page_size').get() as { page_size: number };
      db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(options.maxBytes / page_size))}`);
    }
    db.exec('SELECT count(*) FROM sqlite_schema');
  } catch (error) {
    db.close();
    throw storeError(error, `cannot open database \`${path}\``);
  }
  return db;
}

/**
 * The file SQLite writes for `path`: created when absent (see `createPrivate`), absolute, symbolic links resolved.
 * What opens the database again by name (the write-ahead log sync, the checkpointer thread) must use this, not
 * `path`: SQLite puts the `-wal` file beside the link's target, and a relative path means another file once the
 * working directory changes.
 */
export function databaseFile(path: string): string {
  // `:memory:` and the empty name are SQLite's in-memory and temporary databases, not files.
  if (path === ':memory:' || path === '') return path;
  try {
    createPrivate(path);
    return realpathSync(path);
  } catch (error) {
    // INVARIANT: a link to a missing file is refused; SQLite would create its target with the default mode, readable
    // by every user (test/store/paths.test.ts "a symbolic link to a missing file").
    const dangling = (error as NodeJS.ErrnoException).code === 'ENOENT' && isSymbolicLink(path);
    const reason = dangling ? 'it is a symbolic link to a file that does not exist' : messageOf(error);
    throw new StoreError('STORE_UNAVAILABLE', `cannot open database \`${path}\`: ${reason}`, { cause: error });
  }
}

function isSymbolicLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Creates the file with mode 0600 when it does not exist (an empty file is an empty database): it holds approval
 * requests with their full arguments, and SQLite gives its write-ahead log and shared memory the database's mode. A
 * file that exists keeps the mode its owner gave it.
 */
function createPrivate(path: string): void {
  // INVARIANT: a database ruleoftwo creates is readable by its owner only (test/store/file-mode.test.ts).
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** Turns a SQLite failure into a {@link StoreError} with a stable code and a one-line message. */
export function storeError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const text = messageOf(error);
  const errcode = (error as { errcode?: number }).errcode;
  // SQLite primary result codes (the low byte of an extended code).
  const primary = errcode === undefined ? undefined : errcode & 0xff;
  const code =
    primary === 5 || primary === 6
      ? 'STORE_BUSY'
      : primary === 11 || primary === 26
        ? 'STORE_CORRUPT'
        : primary === 13 || primary === 10 || primary === 8
          ? 'STORE_WRITE'
          : primary === 14
            ? 'STORE_UNAVAILABLE'
            : 'STORE_WRITE';
  return new StoreError(code, `${what}: ${text}`, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `body` inside `BEGIN IMMEDIATE`: the write lock is taken before anything is read, so a read-modify-write
 * cannot interleave with another connection's, in this process or another. `body` must be synchronous.
 */
export function immediate<T>(db: DatabaseSync, what: string, body: () => T): T {
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    throw storeError(error, what);
  }
  let result: T;
  try {
    result = body();
  } catch (error) {
    rollback(db);
    throw asStoreError(error, what);
  }
  try {
    db.exec('COMMIT');
  } catch (error) {
    rollback(db);
    throw storeError(error, what);
  }
  return result;
}

/** What one waiter's part of a group commit came to. */
export type Outcome = { ok: true; result: unknown } | { ok: false; error: unknown };

/** A caller waiting for a group commit. */
export interface Waiting {
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/**
 * Group commit: runs `body` for a batch of waiters in one `BEGIN IMMEDIATE` transaction; `body` returns one outcome
 * per waiter, in order. Nothing settles before the commit, and a transaction that fails rejects every waiter. A
 * waiter whose part succeeded is handed to `committed` (by default resolved with its result).
 */
export function commitBatch<W extends Waiting>(
  db: DatabaseSync,
  what: string,
  batch: readonly W[],
  body: () => Outcome[],
  committed: (waiter: W, result: unknown) => void = (waiter, result) => waiter.resolve(result),
): void {
  let outcomes: Outcome[];
  try {
    outcomes = immediate(db, what, body);
  } catch (error) {
    // INVARIANT: nothing resolves that was not committed (test/store/fail-closed.test.ts "store unavailable" and
    // "write error").
    for (const waiter of batch) waiter.reject(error);
    return;
  }
  batch.forEach((waiter, i) => {
    const outcome = outcomes[i];
    if (outcome?.ok) committed(waiter, outcome.result);
    else waiter.reject(outcome ? outcome.error : new StoreError('STORE_WRITE', `${what}: no outcome for a write`));
  });
}

/**
 * SQLite rolled back the whole transaction (a full disk, an I/O error), not just a savepoint: the rest of a batch
 * must stop, since it would run in autocommit, outside any transaction.
 */
export class TransactionLost extends StoreError {}

/**
 * Runs `body` in a savepoint inside an open transaction: if it throws, what it wrote is undone and it rethrows. When
 * SQLite rolled back the whole transaction instead, it throws {@link TransactionLost}, which the batch must rethrow.
 */
export function inSavepoint<T>(db: DatabaseSync, body: () => T): T {
  db.exec('SAVEPOINT part');
  let result: T;
  try {
    result = body();
  } catch (error) {
    try {
      db.exec('ROLLBACK TO part');
      db.exec('RELEASE part');
    } catch {
      // INVARIANT: nothing of a batch is written once SQLite dropped its transaction: the waiters after this one would
      // commit one statement at a time, and be rejected all the same (test/store/fail-closed.test.ts "disk full inside
      // a batch").
      const lost = storeError(error, 'the transaction was rolled back');
      throw new TransactionLost(lost.code, lost.message, { cause: error });
    }
    throw error;
  }
  db.exec('RELEASE part');
  return result;
}

function rollback(db: DatabaseSync): void {
  try {
    // Unconditional (`isTransaction` is newer than Node 22.13); SQLite may already have rolled back, which throws.
    db.exec('ROLLBACK');
  } catch {
    // No transaction was open, or the connection is unusable and the next call reports that.
  }
}

/** A SQLite failure as a {@link StoreError}; any other error (a throwing update, say) unchanged. */
export function asStoreError(error: unknown, what: string): unknown {
  if (error instanceof StoreError) return error;
  return (error as { code?: string })?.code === 'ERR_SQLITE_ERROR' ? storeError(error, what) : error;
}

/**
 * Creates or checks one component's schema. A database written by a newer release is refused rather than misread.
 */
export function ensureSchema(db: DatabaseSync, component: string, version: number, ddl: string): void {
  immediate(db, `cannot prepare the ${component} schema`, () => {
    db.exec('CREATE TABLE IF NOT EXISTS ruleoftwo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT');
    const row = db.prepare('SELECT value FROM ruleoftwo_meta WHERE key = ?').get(`schema.${component}`) as
      | { value: string }
      | undefined;
    if (row && !/^[0-9]+$/.test(row.value)) {
      throw new StoreError('STORE_VERSION', `the ${component} schema version is \`${row.value}\`, not a number`);
    }
    if (row && Number(row.value) > version) {
      throw new StoreError(
        'STORE_VERSION',
        `the ${component} schema is version ${row.value}; this release reads version ${version}`,
      );
    }
    db.exec(ddl);
    // INVARIANT: tables of the same name but another shape (another program's file, columns altered) are refused, and
    // nothing is written to the file (test/store/schema.test.ts).
    for (const [table, shape] of tableShapes(ddl)) {
      if (describeTable(db, table) !== shape) {
        throw new StoreError(
          'STORE_CORRUPT',
          `table \`${table}\` is not the one this release writes (version ${version})`,
        );
      }
    }
    if (!row)
      db.prepare('INSERT INTO ruleoftwo_meta (key, value) VALUES (?, ?)').run(`schema.${component}`, `${version}`);
  });
}

/** The shape of each table a schema's DDL creates, by table name (computed once per DDL). */
const shapes = new Map<string, Map<string, string>>();

function tableShapes(ddl: string): Map<string, string> {
  let shape = shapes.get(ddl);
  if (shape === undefined) {
    // Taken from SQLite itself: the DDL run on an empty in-memory database.
    const db = new DatabaseSync(':memory:');
    try {
      db.exec(ddl);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[];
      shape = new Map(tables.map(({ name }) => [name, describeTable(db, name)]));
    } finally {
      db.close();
    }
    shapes.set(ddl, shape);
  }
  return shape;
}

/** A table's columns (name, type, not null, key) and strictness, as one comparable string. */
function describeTable(db: DatabaseSync, table: string): string {
  const columns = db.prepare('SELECT name, type, "notnull", pk FROM pragma_table_xinfo(?) ORDER BY cid').all(table);
  const strict = db.prepare('SELECT strict FROM pragma_table_list(?)').all(table);
  return JSON.stringify([columns, strict]);
}

/** Opens a database and creates or checks one component's schema; the connection is closed if that fails. */
export function openStoreDatabase(
  path: string,
  options: DatabaseOptions,
  schema: { component: string; version: number; ddl: string },
): DatabaseSync {
  const db = openDatabase(path, options);
  try {
    ensureSchema(db, schema.component, schema.version, schema.ddl);
  } catch (error) {
    db.close();
    if (!(error instanceof StoreError)) throw error;
    throw new StoreError(error.code, `cannot open database \`${path}\`: ${error.message}`, { cause: error });
  }
  return db;
}

/** Guards a store's methods once it is closed. */
export function assertOpen(closed: boolean, what: string): void {
  if (closed) throw new StoreError('STORE_CLOSED', `${what} is closed`);
}
