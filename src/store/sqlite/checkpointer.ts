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
 * connection, every `intervalMs` while the log changes (backing off to once a second while it does not). Without it
 * a commit that crosses SQLite's auto-checkpoint threshold (1000 pages) copies the whole log and fsyncs the database
 * before it returns, stalling every append waiting on it: about one commit in a hundred under load, and the cause of
 * most of the p99 append latency. Passive checkpoints never block a writer. Durability is unchanged: a checkpoint
 * only copies committed pages. If the thread fails, commits fall back to checkpointing inline at {@link
 * BACKGROUND_WAL_AUTOCHECKPOINT} pages.
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

/** The longest pause between checkpoints while the log is idle. */
const IDLE_INTERVAL_MS = 1000;

function run(job: Job): void {
  const db = openDatabase(job.path);
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  let interval = job.intervalMs;
  let last = '';
  let timer: NodeJS.Timeout;
  const round = () => {
    try {
      // `log` frames are in the write-ahead log, `checkpointed` of them are in the database now.
      const { log, checkpointed } = checkpoint.get() as { log: number; checkpointed: number };
      // A log that did not change since the last round is looked at less and less often; one that did, at the
      // full rate again.
      const now = `${log}:${checkpointed}`;
      interval = now === last ? Math.min(IDLE_INTERVAL_MS, interval * 2) : job.intervalMs;
      last = now;
    } catch {
      // Busy or failing: the next round or the writers' own auto-checkpoint will do it.
    }
    timer = setTimeout(round, interval);
  };
  timer = setTimeout(round, interval);
  parentPort?.once('message', () => {
    clearTimeout(timer);
    db.close();
    parentPort?.close();
  });
}

if (!isMainThread && (workerData as Job | undefined)?.job === JOB) run(workerData as Job);
