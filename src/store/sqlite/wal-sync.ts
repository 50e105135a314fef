import fs from 'node:fs';
import { StoreError } from '../errors.ts';
import type { Waiting } from './database.ts';

/** A waiter whose commit is done, and what it resolves with. */
export interface Committed {
  waiter: Waiting;
  result: unknown;
}

/**
 * Makes commits durable off this thread: one `fdatasync` of the write-ahead log on libuv's thread pool covers every
 * commit made before it started (group commit), and a commit's waiters settle only after such a sync has finished.
 * Meant for a connection with `synchronous = NORMAL`, whose commits write the log without syncing it. That is as
 * durable as `FULL`, which syncs the same file at the end of the commit, but this thread does not block on the disk
 * and nobody holds the write lock while the sync runs (other connections, a session store's, commit meanwhile).
 * Frames written before the sync by any connection are covered by it. A log whose frames were copied into
 * the database before the sync is safe too: SQLite syncs the log before such a copy and the database before it
 * reuses the log.
 */
export class WalSync {
  readonly #path: string;
  readonly #fd: number;
  /** The database file and its write-ahead log as opened, to notice either being deleted or replaced. */
  readonly #files: { database: fs.Stats; log: fs.Stats };
  /** Committed, waiting for the next sync. */
  #next: Committed[] = [];
  #running: Promise<void> | undefined;
  #failure: StoreError | undefined;

  /**
   * Opens the write-ahead log of the database at `path`, which the caller holds open in WAL mode: while any
   * connection is open SQLite keeps that file (it removes it when the last one closes), so this descriptor stays on
   * the file that commits write.
   */
  constructor(path: string) {
    this.#path = path;
    try {
      // Opened for writing though nothing is written through it: Windows flushes only a handle with write access.
      this.#fd = fs.openSync(`${path}-wal`, 'r+');
      this.#files = { database: fs.statSync(path), log: fs.fstatSync(this.#fd) };
    } catch (error) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `cannot open the write-ahead log of \`${path}\`: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
  }

  /** Why a sync failed, if one did: from then on nothing settles as durable. */
  get failure(): StoreError | undefined {
    return this.#failure;
  }

  /** Resolves each committed waiter with its result once a sync that started after this call has finished. */
  after(committed: readonly Committed[]): void {
    if (committed.length === 0) return;
    if (this.#failure) {
      for (const { waiter } of committed) waiter.reject(this.#failure);
      return;
    }
    // Not push(...committed): a batch can hold more records than a call has room for arguments.
    this.#next = this.#next.concat(committed);
    this.#running ??= this.#run();
  }

  /** Resolves once every sync asked for so far has finished (or failed). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Waits for the syncs asked for, then closes the file. */
  async close(): Promise<void> {
    await this.idle();
    fs.closeSync(this.#fd);
  }

  async #run(): Promise<void> {
    while (this.#next.length > 0) {
      const batch = this.#next;
      this.#next = [];
      try {
        await new Promise<void>((resolve, reject) =>
          fs.fdatasync(this.#fd, (error) => (error ? reject(error) : resolve())),
        );
        this.#failure = this.#gone();
      } catch (error) {
        // INVARIANT: after a failed sync nothing is acknowledged, not even what a later sync would report as written:
        // the kernel may have dropped the pages that failed (test/store/wal-sync.test.ts "a failed sync").
        this.#failure = new StoreError(
          'STORE_WRITE',
          `cannot sync the write-ahead log: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          { cause: error },
        );
      }
      if (this.#failure) {
        for (const { waiter } of [...batch, ...this.#next.splice(0)]) waiter.reject(this.#failure);
        break;
      }
      for (const { waiter, result } of batch) waiter.resolve(result);
    }
    this.#running = undefined;
  }

  /**
   * A failure if the files synced are no longer the database's. SQLite goes on writing a database or log that was
   * deleted, moved or replaced while open, and what it writes is gone or unread once the process ends: a restart
   * would find an empty database (every session reset) or drop the commits in the log.
   */
  #gone(): StoreError | undefined {
    // INVARIANT: nothing is acknowledged as durable in a database that was deleted, moved or replaced while open
    // (test/store/fail-closed.test.ts "while open").
    const { database, log } = this.#files;
    try {
      const now = { database: fs.statSync(this.#path), log: fs.statSync(`${this.#path}-wal`) };
      if (sameFile(now.database, database) && sameFile(now.log, log)) return undefined;
    } catch {
      // Not there any more.
    }
    return new StoreError(
      'STORE_UNAVAILABLE',
      `the database \`${this.#path}\` was deleted, moved or replaced while open`,
    );
  }
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}
