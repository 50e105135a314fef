import { availableParallelism } from 'node:os';
import type { DatabaseSync } from 'node:sqlite';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { openDatabase } from '../store/sqlite/database.ts';
import { type CheckedChunk, claimChunk, prepareChunkSelect, readChunk, stopAfter } from './chunk-check.ts';
import type { ChunkJob } from './chunk-worker.ts';
import type { LogVerifier } from './verify.ts';

export { type CheckedChunk, checkChunk, type TreeFrontier } from './chunk-check.ts';

/** Records per chunk by default; a power of two, so that a full chunk is one subtree of the log's Merkle tree. */
export const DEFAULT_CHUNK_RECORDS = 4096;

/** Options of {@link addChunks}. */
export interface ChunkOptions {
  /**
   * Threads that hash chunks, this one included; default: as many as the machine has cores, at most 2. 0 checks
   * every record one by one in this thread.
   */
  threads?: number;
  /** Records per chunk, a power of two (default {@link DEFAULT_CHUNK_RECORDS}). */
  chunkRecords?: number;
}

/**
 * Checks chunks of the log in `db` in this thread and hands them to `verifier` while it takes them whole; returns
 * how many records it has taken. Cheaper per record than adding them one by one (no per-record objects), and the
 * same verification.
 */
export function addChunksHere(verifier: LogVerifier, db: DatabaseSync, chunkRecords = DEFAULT_CHUNK_RECORDS): number {
  const select = prepareChunkSelect(db);
  const cutSizes = verifier.cutSizes();
  for (let index = 0; ; index++) {
    const chunk = readChunk(select, index, chunkRecords, cutSizes);
    if (!takeWhole(verifier, chunk, chunkRecords)) break;
  }
  return verifier.records;
}

/**
 * Hands `chunk` to `verifier` if it is full and clean; false when the caller must go on record by record. A short
 * chunk (the log's tail) is never taken: only a full chunk proves that every `seq` of its range holds a row, so the
 * rows after it start at `verifier.records + 1`, whatever the `seq` column of the tail says.
 */
function takeWhole(verifier: LogVerifier, chunk: CheckedChunk, chunkRecords: number): boolean {
  // INVARIANT: chunked and one-by-one verification give the same report, renumbered rows included
  // (test/audit/chunks.test.ts "gives the one-by-one report").
  return chunk.count === chunkRecords && verifier.addChunk(chunk);
}

// Worker entry: the same extension as this module, `.ts` from source and `.js` once built.
const WORKER = new URL(`./chunk-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

/**
 * Checks the audit log in the database file at `path` in chunks, on this thread and on worker threads, each with
 * its own read-only connection, and hands the chunks in order to `verifier`. Threads claim chunks from a shared
 * counter, so this thread works from the start while the workers load, and whichever thread is free takes the next
 * chunk. It stops at the first chunk the verifier does not take whole, at the end of the log, or if a worker fails,
 * and returns how many records the verifier has taken: the caller checks the rest record by record, which is what
 * finds and names a problem. Speed only; what is verified is the same as adding every record in turn.
 */
export async function addChunks(verifier: LogVerifier, path: string, options: ChunkOptions = {}): Promise<number> {
  const threads = Math.max(1, options.threads ?? Math.min(2, availableParallelism()));
  const chunkRecords = options.chunkRecords ?? DEFAULT_CHUNK_RECORDS;
  if (!Number.isInteger(Math.log2(chunkRecords))) throw new Error(`chunk size ${chunkRecords} is not a power of two`);
  const db = openDatabase(path, { readOnly: true });
  const { size } = db.prepare('SELECT coalesce(max(seq), 0) AS size FROM audit_records').get() as { size: number };
  const claims = new Int32Array(new SharedArrayBuffer(8));
  // One chunk past the last record too: a log that ends on a chunk boundary ends with an empty chunk.
  claims[1] = Math.floor(size / chunkRecords) + 1;
  const cutSizes = verifier.cutSizes();
  const arrived = new Map<number, CheckedChunk>();
  const receive = (chunk: CheckedChunk) => arrived.set(chunk.from / chunkRecords, chunk);
  let running = threads - 1;
  let wake = () => {};
  const ports: MessagePort[] = [];
  const workers = Array.from({ length: threads - 1 }, () => {
    const { port1, port2 } = new MessageChannel();
    const job: ChunkJob = { path, chunkRecords, cutSizes, claims, port: port2 };
    const worker = new Worker(WORKER, { workerData: job, transferList: [port2] });
    port1.on('message', (chunk: CheckedChunk) => {
      receive(chunk);
      wake();
    });
    ports.push(port1);
    // A worker that fails leaves the chunk it claimed missing: the verifier stops there and the caller goes on
    // record by record.
    worker.on('error', () => {});
    worker.once('exit', () => {
      running -= 1;
      wake();
    });
    return worker;
  });
  try {
    const select = prepareChunkSelect(db);
    for (let next = 0; ; ) {
      // Chunks the workers posted while this thread was busy, without waiting for the event loop.
      for (const port of ports) {
        for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) receive(m.message);
      }
      let chunk = arrived.get(next);
      for (; chunk !== undefined; chunk = arrived.get(next)) {
        arrived.delete(next);
        next += 1;
        if (!takeWhole(verifier, chunk, chunkRecords)) return verifier.records;
      }
      const index = claimChunk(claims);
      if (index >= 0) {
        const own = readChunk(select, index, chunkRecords, cutSizes);
        if (!own.clean || own.count < chunkRecords) stopAfter(claims, index);
        arrived.set(index, own);
      } else if (running === 0) {
        // Every chunk is claimed and no worker runs: chunk `next` will not come.
        for (const port of ports) {
          for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) receive(m.message);
        }
        if (!arrived.has(next)) return verifier.records;
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    db.close();
    for (const port of ports) port.close();
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
