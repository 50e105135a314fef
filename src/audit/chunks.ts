import { availableParallelism } from 'node:os';
import type { DatabaseSync } from 'node:sqlite';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/sqlite/database.ts';
import { leafHash, MerkleFrontier } from './merkle.ts';
import { RECORD_VERSION, readTail } from './record.ts';
import type { LogVerifier } from './verify.ts';

/** Records per chunk by default; a power of two, so that a full chunk is one subtree of the log's Merkle tree. */
export const DEFAULT_CHUNK_RECORDS = 4096;

/** A Merkle tree given by its frontier, as it crosses between threads. */
export interface TreeFrontier {
  size: number;
  nodes: string[];
}

/** What checking one chunk of stored records found: enough for {@link LogVerifier.addChunk} to take it whole. */
export interface CheckedChunk {
  /** Records before the chunk: it holds records `from + 1` on, and `from` is a multiple of the chunk size. */
  from: number;
  count: number;
  /**
   * Every record's row and text are numbered `from + 1` on without a gap, its chain fields are well formed, and it
   * links to the record before it in the chunk. A chunk that is not clean is checked again record by record.
   */
  clean: boolean;
  /** The first record's `prev`, which must be the leaf hash of the last record before the chunk. */
  firstPrev: string;
  /** Leaf hash of the chunk's last record. */
  last: string;
  /** The chunk's own Merkle tree: its root alone when the chunk is full. */
  tree: TreeFrontier;
  /** The chunk's own tree up to each checkpoint that falls inside it. */
  cuts: TreeFrontier[];
}

/** Checks one chunk of rows `[seq, text]` read in order of `seq`, starting after record `from`. */
export function checkChunk(
  rows: readonly (readonly [number, string])[],
  from: number,
  cutSizes: readonly number[],
): CheckedChunk {
  const chunk: CheckedChunk = {
    from,
    count: rows.length,
    clean: false,
    firstPrev: '',
    last: '',
    tree: { size: 0, nodes: [] },
    cuts: [],
  };
  const frontier = new MerkleFrontier();
  let cut = cutSizes.findIndex((size) => size > from);
  if (cut < 0) cut = cutSizes.length;
  for (const [seq, text] of rows) {
    const position = from + frontier.size + 1;
    const tail = readTail(text);
    if (seq !== position || tail?.seq !== position || tail.v !== RECORD_VERSION) return chunk;
    if (position === from + 1) chunk.firstPrev = text.slice(tail.prevAt, tail.prevAt + 64);
    else if (!text.startsWith(chunk.last, tail.prevAt)) return chunk;
    chunk.last = leafHash(text);
    frontier.push(chunk.last);
    for (; cut < cutSizes.length && (cutSizes[cut] as number) <= position; cut++) {
      if (cutSizes[cut] === position) chunk.cuts.push({ size: frontier.size, nodes: [...frontier.nodes] });
    }
  }
  chunk.clean = true;
  chunk.tree = { size: frontier.size, nodes: [...frontier.nodes] };
  return chunk;
}

/** Options of {@link addChunks}. */
export interface ChunkOptions {
  /**
   * Threads that hash chunks, this one included (it takes its share between the workers' messages); default: as
   * many as the machine has cores, at most 2. 0 checks every record one by one in this thread.
   */
  threads?: number;
  /** Records per chunk, a power of two (default {@link DEFAULT_CHUNK_RECORDS}). */
  chunkRecords?: number;
}

interface Lane {
  chunkRecords: number;
  cutSizes: number[];
  /** This lane checks chunks `first`, `first + stride`, ... */
  first: number;
  stride: number;
}

interface Job extends Lane {
  job: typeof JOB;
  path: string;
}

const JOB = 'ruleoftwo/audit-chunks';

/**
 * Checks one lane's chunks in order through `db`, and stops after the first short or unclean one: the verifier stops
 * there, so nothing after it is needed.
 */
function* checkLane(db: DatabaseSync, lane: Lane): Generator<CheckedChunk> {
  const select = db.prepare('SELECT seq, record FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq');
  select.setReturnArrays(true);
  for (let index = lane.first; ; index += lane.stride) {
    const from = index * lane.chunkRecords;
    const rows = select.all(from + 1, from + lane.chunkRecords) as unknown as [number, string][];
    const chunk = checkChunk(rows, from, lane.cutSizes);
    yield chunk;
    if (!chunk.clean || chunk.count < lane.chunkRecords) return;
  }
}

/**
 * Checks chunks of the log in `db` in this thread and hands them to `verifier` while it takes them whole; returns
 * how many records it has taken. Cheaper per record than adding them one by one (no per-record objects), and the
 * same verification.
 */
export function addChunksHere(verifier: LogVerifier, db: DatabaseSync, chunkRecords = DEFAULT_CHUNK_RECORDS): number {
  const lane = { chunkRecords, cutSizes: verifier.cutSizes(), first: 0, stride: 1 };
  for (const chunk of checkLane(db, lane)) {
    if (!verifier.addChunk(chunk) || chunk.count < chunkRecords) break;
  }
  return verifier.records;
}

/**
 * Checks the audit log in the database file at `path` in chunks, on this thread and on worker threads, each with
 * its own read-only connection, and hands the chunks in order to `verifier`. It stops at the first chunk the
 * verifier does not take whole, at the end of the log, or if a worker fails, and returns how many records the
 * verifier has taken: the caller checks the rest record by record, which is what finds and names a problem. Speed
 * only; what is verified is the same as adding every record in turn.
 */
export async function addChunks(verifier: LogVerifier, path: string, options: ChunkOptions = {}): Promise<number> {
  const threads = Math.max(1, options.threads ?? Math.min(2, availableParallelism()));
  const chunkRecords = options.chunkRecords ?? DEFAULT_CHUNK_RECORDS;
  if (!Number.isInteger(Math.log2(chunkRecords))) throw new Error(`chunk size ${chunkRecords} is not a power of two`);
  const lane = (first: number): Lane => ({ chunkRecords, cutSizes: verifier.cutSizes(), first, stride: threads });
  const workers = Array.from(
    { length: threads - 1 },
    (_, w) => new Worker(new URL(import.meta.url), { workerData: { job: JOB, path, ...lane(w + 1) } satisfies Job }),
  );
  const arrived = new Map<number, CheckedChunk>();
  // Lanes that will send no more chunks: lane 0 is this thread, lane w + 1 is worker w.
  const ended = new Set<number>();
  let next = 0;
  let done = false;
  let wake = () => {};
  const take = () => {
    for (let c = arrived.get(next); c !== undefined && !done; c = arrived.get(next)) {
      arrived.delete(next);
      next += 1;
      if (!verifier.addChunk(c) || c.count < chunkRecords) done = true;
    }
    // A lane that failed or ended leaves its chunks to the caller, who checks them record by record.
    if (ended.has(next % threads)) done = true;
    wake();
  };
  workers.forEach((worker, w) => {
    worker.on('message', (chunk: CheckedChunk) => {
      arrived.set(chunk.from / chunkRecords, chunk);
      take();
    });
    worker.on('error', () => {
      done = true;
      wake();
    });
    worker.on('exit', () => {
      ended.add(w + 1);
      take();
    });
  });
  const db = openDatabase(path, { readOnly: true });
  const own = checkLane(db, lane(0));
  try {
    let ownIndex = 0;
    while (!done) {
      // This thread's own chunks, but never far ahead of the verifier, so that it is free to take the workers'.
      if (!ended.has(0) && ownIndex <= next + threads) {
        const { value } = own.next();
        if (value === undefined || !value.clean || value.count < chunkRecords) ended.add(0);
        if (value !== undefined) arrived.set(ownIndex, value);
        ownIndex += threads;
        take();
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    own.return(undefined);
    db.close();
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return verifier.records;
}

function runJob(job: Job): void {
  const db = openDatabase(job.path, { readOnly: true });
  for (const chunk of checkLane(db, job)) parentPort?.postMessage(chunk);
  db.close();
}

if (!isMainThread && (workerData as Job | undefined)?.job === JOB) runJob(workerData as Job);
