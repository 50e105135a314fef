import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SessionState } from '../../core/state.ts';
import { StoreError } from '../errors.ts';
import type { SessionStore, SessionUpdate } from '../types.ts';
import {
  asStoreError,
  assertOpen,
  commitBatch,
  type DatabaseOptions,
  inSavepoint,
  type Outcome,
  openStoreDatabase,
  TransactionLost,
} from './database.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT`;

interface Waiter {
  sessionId: string;
  update: SessionUpdate<unknown>;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Sessions in SQLite. `transact` runs inside `BEGIN IMMEDIATE`, so check-and-reserve is atomic across every
 * process that opens the same file. Updates that arrive together share one transaction and one fsync (group
 * commit), each in its own savepoint so one that throws changes nothing; each resolves after the commit.
 */
export class SqliteSessionStore implements SessionStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #upsert: StatementSync;
  #queue: Waiter[] = [];
  #scheduled = false;
  #closed = false;

  constructor(path: string, options: DatabaseOptions = {}) {
    this.path = path;
    this.#db = openStoreDatabase(path, options, { component: 'sessions', version: 1, ddl: SCHEMA });
    this.#select = this.#db.prepare('SELECT state FROM sessions WHERE id = ?');
    this.#upsert = this.#db.prepare(
      'INSERT INTO sessions (id, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
    );
  }

  transact<T>(sessionId: string, update: SessionUpdate<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_CLOSED', 'session store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ sessionId, update, resolve: resolve as (result: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    commitBatch(this.#db, 'cannot update sessions', batch, () =>
      batch.map((waiter): Outcome => {
        try {
          return { ok: true, result: inSavepoint(this.#db, () => this.#apply(waiter)) };
        } catch (error) {
          if (error instanceof TransactionLost) throw error;
          return { ok: false, error: asStoreError(error, `cannot update session \`${waiter.sessionId}\``) };
        }
      }),
    );
  }

  #apply({ sessionId, update }: Waiter): unknown {
    const { state, result } = update(this.#read(sessionId));
    if (state !== undefined) {
      if (state.id !== sessionId) {
        throw new StoreError('STORE_WRITE', `state of \`${state.id}\` given for \`${sessionId}\``);
      }
      this.#upsert.run(sessionId, JSON.stringify(state), Date.now());
    }
    return result;
  }

  async get(sessionId: string): Promise<SessionState | undefined> {
    assertOpen(this.#closed, 'session store');
    return this.#read(sessionId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#scheduled) await new Promise((resolve) => setImmediate(resolve));
    this.#db.close();
  }

  #read(sessionId: string): SessionState | undefined {
    const row = this.#select.get(sessionId) as { state: string } | undefined;
    return row === undefined ? undefined : parseState(sessionId, row.state);
  }
}

/** Parses a stored session; a row that is not a version-1 session of this id is corrupt, never a fresh start. */
export function parseState(sessionId: string, text: string): SessionState {
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch {
    throw new StoreError('STORE_CORRUPT', `session \`${sessionId}\` is corrupt: its state is not JSON`);
  }
  const s = state as Partial<SessionState> | null;
  // INVARIANT: a corrupt row denies, it never resets enforcement (test/store/fail-closed.test.ts "corrupted row").
  if (
    s === null ||
    typeof s !== 'object' ||
    s.v !== 1 ||
    s.id !== sessionId ||
    !Number.isInteger(s.held) ||
    !Number.isInteger(s.dropped) ||
    !Number.isInteger(s.seq) ||
    !Array.isArray(s.pending) ||
    !Array.isArray(s.evidence) ||
    !Array.isArray(s.drops)
  ) {
    const version = s !== null && typeof s === 'object' && s.v !== 1 ? ` (format version ${String(s.v)})` : '';
    throw new StoreError('STORE_CORRUPT', `session \`${sessionId}\` is corrupt or unreadable${version}`);
  }
  return s as SessionState;
}
