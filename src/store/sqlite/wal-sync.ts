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
  readonly #fd: number;
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
    try {
      // Opened for writing though nothing is written through it: Windows flushes only a handle with write access.
      this.#fd = fs.openSync(`${path}-wal`, 'r+');
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
      } catch (error) {
        // INVARIANT: after a failed sync nothing is acknowledged, not even what a later sync would report as written:
        // the kernel may have dropped the pages that failed (test/store/wal-sync.test.ts "a failed sync").
        this.#failure = new StoreError(
          'STORE_WRITE',
          `cannot sync the write-ahead log: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          { cause: error },
        );
        for (const { waiter } of [...batch, ...this.#next.splice(0)]) waiter.reject(this.#failure);
        break;
      }
      for (const { waiter, result } of batch) waiter.resolve(result);
    }
    this.#running = undefined;
  }
}
