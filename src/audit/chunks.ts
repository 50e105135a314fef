import { availableParallelism } from 'node:os';
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

/** What a worker found in one chunk of stored records, enough for {@link LogVerifier.addChunk} to take it whole. */
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
export function checkChunk(rows: readonly (readonly [number, string])[], from: number, cutSizes: readonly number[]) {
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
  /** Worker threads; default: as many as the machine has cores, at most 2; 0 checks every record in this thread. */
  threads?: number;
  /** Records per chunk, a power of two (default {@link DEFAULT_CHUNK_RECORDS}). */
  chunkRecords?: number;
}

interface Job {
  job: typeof JOB;
  path: string;
  chunkRecords: number;
  cutSizes: number[];
  first: number;
  stride: number;
}

const JOB = 'ruleoftwo/audit-chunks';

/**
 * Checks the audit log in the database file at `path` in chunks on worker threads (each reads its own chunks through
 * its own read-only connection, hashes them and builds their subtrees) and hands the chunks in order to `verifier`.
 * It stops at the first chunk the verifier does not take whole, at the end of the log, or if a worker fails, and
 * returns how many records the verifier has taken: the caller checks the rest record by record, which is what
 * finds and names a problem. Speed only; what is verified is the same as adding every record in turn.
 */
export async function addChunks(verifier: LogVerifier, path: string, options: ChunkOptions = {}): Promise<number> {
  const threads = Math.max(1, options.threads ?? Math.min(2, availableParallelism()));
  const chunkRecords = options.chunkRecords ?? DEFAULT_CHUNK_RECORDS;
  if (!Number.isInteger(Math.log2(chunkRecords))) throw new Error(`chunk size ${chunkRecords} is not a power of two`);
  const cutSizes = verifier.cutSizes();
  const workers = Array.from(
    { length: threads },
    (_, first) =>
      new Worker(new URL(import.meta.url), {
        workerData: { job: JOB, path, chunkRecords, cutSizes, first, stride: threads } satisfies Job,
      }),
  );
  try {
    await new Promise<void>((resolve) => {
      const arrived = new Map<number, CheckedChunk>();
      const exited = new Set<number>();
      let next = 0;
      let done = false;
      const stop = () => {
        done = true;
        resolve();
      };
      const take = () => {
        for (let c = arrived.get(next); c !== undefined && !done; c = arrived.get(next)) {
          arrived.delete(next);
          next += 1;
          if (!verifier.addChunk(c) || c.count < chunkRecords) stop();
        }
        // A worker that failed or ended leaves its chunks to the caller, who checks them record by record.
        if (!done && exited.has(next % threads)) stop();
      };
      workers.forEach((worker, w) => {
        worker.on('message', (chunk: CheckedChunk) => {
          arrived.set(chunk.from / chunkRecords, chunk);
          take();
        });
        worker.on('error', stop);
        worker.on('exit', () => {
          exited.add(w);
          take();
        });
      });
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return verifier.records;
}

function runJob(job: Job): void {
  const db = openDatabase(job.path, { readOnly: true });
  const select = db.prepare('SELECT seq, record FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq');
  select.setReturnArrays(true);
  for (let index = job.first; ; index += job.stride) {
    const from = index * job.chunkRecords;
    const rows = select.all(from + 1, from + job.chunkRecords) as unknown as [number, string][];
    const chunk = checkChunk(rows, from, job.cutSizes);
    parentPort?.postMessage(chunk);
    // The verifier stops at the first short or unclean chunk, so nothing after it is needed.
    if (!chunk.clean || chunk.count < job.chunkRecords) break;
  }
  db.close();
}

if (!isMainThread && (workerData as Job | undefined)?.job === JOB) runJob(workerData as Job);
