import { DatabaseSync } from 'node:sqlite';
import { type MessagePort, workerData } from 'node:worker_threads';
import { claimChunk, prepareChunkSelect, readChunk, stopAfter } from './chunk-check.ts';

// Worker entry of `addChunks`: a thread that claims chunks of the log from a shared counter, checks them through
// its own read-only connection and posts them back. It imports only what it runs, so it starts fast.

/** What `addChunks` hands a worker. */
export interface ChunkJob {
  path: string;
  chunkRecords: number;
  cutSizes: number[];
  /** `[next chunk to claim, chunks in the log]`, shared by every thread. */
  claims: Int32Array;
  port: MessagePort;
}

function run(job: ChunkJob): void {
  const db = new DatabaseSync(job.path, { readOnly: true });
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const select = prepareChunkSelect(db);
    for (let index = claimChunk(job.claims); index >= 0; index = claimChunk(job.claims)) {
      const chunk = readChunk(select, index, job.chunkRecords, job.cutSizes);
      if (!chunk.clean || chunk.count < job.chunkRecords) stopAfter(job.claims, index);
      job.port.postMessage(chunk);
    }
  } finally {
    db.close();
    job.port.close();
  }
}

if ((workerData as ChunkJob | undefined)?.claims instanceof Int32Array) run(workerData as ChunkJob);
