import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { openDatabase } from './database.ts';

/** How often the background checkpointer copies the write-ahead log into the database. */
export const WAL_CHECKPOINT_INTERVAL_MS = 25;

/**
 * The auto-checkpoint threshold (pages) of connections that a background checkpointer serves: a safety bound on
 * the write-ahead log should the checkpointer fall behind. Under continuous load the log can only restart from its
 * beginning after a checkpoint that no commit overtook, which an inline checkpoint at this size guarantees.
 */
export const BACKGROUND_WAL_AUTOCHECKPOINT = 16_384;

/** A running background checkpointer. */
export interface WalCheckpointer {
  /** Stops it after the checkpoint in progress, if any. */
  stop(): Promise<void>;
}

interface Job {
  job: typeof JOB;
  path: string;
  intervalMs: number;
}

const JOB = 'ruleoftwo/wal-checkpointer';

/**
 * Copies the write-ahead log of the database at `path` into the database from a worker thread, with its own
 * connection, every `intervalMs`. Without it a commit that crosses SQLite's auto-checkpoint threshold (1000 pages)
 * copies the whole log and fsyncs the database before it returns, stalling every append waiting on it: about one
 * commit in a hundred under load, and the cause of most of the p99 append latency. Passive checkpoints never block
 * a writer. Durability is unchanged: a checkpoint only copies committed pages. If the thread fails, commits fall
 * back to checkpointing inline at {@link BACKGROUND_WAL_AUTOCHECKPOINT} pages.
 */
export function startWalCheckpointer(path: string, intervalMs = WAL_CHECKPOINT_INTERVAL_MS): WalCheckpointer {
  const worker = new Worker(new URL(import.meta.url), { workerData: { job: JOB, path, intervalMs } satisfies Job });
  // It must not keep the process alive, and its failure is not the caller's: the inline fallback covers it.
  worker.unref();
  worker.on('error', () => {});
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop: async () => {
      // Held open until it has closed its connection.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}

function run(job: Job): void {
  const db = openDatabase(job.path);
  const timer = setInterval(() => {
    try {
      db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or failing: the next round or the writers' own auto-checkpoint will do it.
    }
  }, job.intervalMs);
  parentPort?.once('message', () => {
    clearInterval(timer);
    db.close();
    parentPort?.close();
  });
}

if (!isMainThread && (workerData as Job | undefined)?.job === JOB) run(workerData as Job);
