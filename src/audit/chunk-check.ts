import { hash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { MerkleFrontier } from './merkle.ts';

// The hot loop of `verify`, kept free of heavy imports: worker threads load this module and the Merkle frontier only.

/** A Merkle tree given by its frontier, as it crosses between threads. */
export interface TreeFrontier {
  size: number;
  nodes: string[];
}

/** What checking one chunk of stored records found: enough for `LogVerifier.addChunk` to take it whole. */
export interface CheckedChunk {
  /** Records before the chunk: it holds records `from + 1` on, and `from` is a multiple of the chunk size. */
  from: number;
  count: number;
  /**
   * Every record is a version 1 record numbered `from + 1` on without a gap, its chain fields are well formed, and
   * it links to the record before it in the chunk. A chunk that is not clean is checked again record by record.
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

/**
 * Reads a chunk's leaf inputs: each record's exact text behind the RFC 6962 leaf prefix 0x00, which SQLite prepends
 * as it copies the text out, so that hashing needs no string concatenation per record.
 */
export const CHUNK_SELECT = 'SELECT char(0) || record FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq';

/** Prepares {@link CHUNK_SELECT} on `db`, returning rows as arrays. */
export function prepareChunkSelect(db: DatabaseSync): StatementSync {
  const select = db.prepare(CHUNK_SELECT);
  select.setReturnArrays(true);
  return select;
}

/** Reads and checks chunk `index` of `chunkRecords` records through a statement from {@link prepareChunkSelect}. */
export function readChunk(
  select: StatementSync,
  index: number,
  chunkRecords: number,
  cutSizes: readonly number[],
): CheckedChunk {
  const from = index * chunkRecords;
  return checkChunk(select.all(from + 1, from + chunkRecords) as unknown as [string][], from, cutSizes);
}

/** Checks one chunk of leaf inputs (`\0` + record text, see {@link CHUNK_SELECT}) in order, after record `from`. */
export function checkChunk(
  rows: readonly (readonly [string])[],
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
  let last = '';
  for (let i = 0; i < rows.length; i++) {
    const input = (rows[i] as readonly [string])[0];
    const position = from + i + 1;
    const prevAt = chainAt(input, position);
    if (prevAt < 0) return chunk;
    if (i === 0) chunk.firstPrev = input.slice(prevAt, prevAt + 64);
    else if (!input.startsWith(last, prevAt)) return chunk;
    // The leaf hash, SHA-256(0x00 || record): the input already holds the prefix.
    last = hash('sha256', input, 'hex');
    frontier.push(last);
    for (; cut < cutSizes.length && (cutSizes[cut] as number) <= position; cut++) {
      if (cutSizes[cut] === position) chunk.cuts.push({ size: frontier.size, nodes: [...frontier.nodes] });
    }
  }
  chunk.last = last;
  chunk.clean = true;
  chunk.tree = { size: frontier.size, nodes: [...frontier.nodes] };
  return chunk;
}

/** Claims the next chunk index from `claims` (`[next chunk, chunks in the log]`, shared by every thread), or -1 when none is left. */
export function claimChunk(claims: Int32Array): number {
  const index = Atomics.add(claims, 0, 1);
  return index < Atomics.load(claims, 1) ? index : -1;
}

/** No chunk after `index` is needed: the verifier stops at a chunk that is short or not clean. */
export function stopAfter(claims: Int32Array, index: number): void {
  for (let end = Atomics.load(claims, 1); end > index + 1; end = Atomics.load(claims, 1)) {
    if (Atomics.compareExchange(claims, 1, end, index + 1) === end) return;
  }
}

const LEAF_START = '\0{"at":';
const V1_END = ',"v":1}';
const SEQ_MARK = '","seq":';
const PREV_MARK = ',"prev":"';

/**
 * Where the 64-digit `prev` starts in a leaf input whose record is a version 1 record numbered `position`, i.e.
 * ends `,"prev":"<64>","seq":<position>,"v":1}`; -1 otherwise. The same test as `readTail` in `record.ts` with the
 * expected number, without substrings or objects: it runs once per record.
 */
function chainAt(input: string, position: number): number {
  const end = input.length - V1_END.length;
  if (!input.startsWith(V1_END, end)) return -1;
  let at = end - 1;
  for (let n = position; n > 0; n = Math.floor(n / 10), at--) {
    if (input.charCodeAt(at) !== 48 + (n % 10)) return -1;
  }
  // `at` is the last character of `","seq":`; `prev`'s 64 digits end right before its quote.
  const prevAt = at - SEQ_MARK.length - 63;
  if (prevAt - PREV_MARK.length < LEAF_START.length - 1) return -1;
  if (
    !input.startsWith(SEQ_MARK, at - SEQ_MARK.length + 1) ||
    !input.startsWith(PREV_MARK, prevAt - PREV_MARK.length)
  ) {
    return -1;
  }
  return input.startsWith(LEAF_START) ? prevAt : -1;
}
