import { hash } from 'node:crypto';

/** SHA-256 digest length in bytes. */
export const HASH_BYTES = 32;

const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_BYTES);
NODE_INPUT[0] = 0x01;

/** RFC 6962 leaf hash: SHA-256(0x00 || record). `record` is the record's exact text. */
export function leafHash(record: string): Buffer {
  return hash('sha256', `\0${record}`, 'buffer');
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right); distinct from every leaf hash by its prefix. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 1 + HASH_BYTES);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/** The RFC 6962 root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = hash('sha256', '', 'buffer');

/**
 * The right edge of an RFC 6962 Merkle tree: the roots of its perfect subtrees, largest first (one per set bit of
 * the size). Appending is amortized one node hash per leaf, and the root of the whole tree comes from the frontier
 * alone, so a log can checkpoint without rereading its records.
 */
export class MerkleFrontier {
  #size: number;
  readonly #nodes: Buffer[];

  constructor(size = 0, nodes: Buffer[] = []) {
    if (nodes.length !== popcount(size)) throw new Error(`a frontier of size ${size} has ${popcount(size)} nodes`);
    this.#size = size;
    this.#nodes = nodes;
  }

  /** How many leaves the tree holds. */
  get size(): number {
    return this.#size;
  }

  /** Adds one leaf hash. */
  push(leaf: Buffer): void {
    let node = leaf;
    // Each trailing one bit of the old size is a perfect subtree of the same height as the carry: merge them.
    for (let size = this.#size; size % 2 === 1; size = Math.floor(size / 2)) {
      node = nodeHash(this.#nodes.pop() as Buffer, node);
    }
    this.#nodes.push(node);
    this.#size += 1;
  }

  /** The Merkle tree hash (RFC 6962 MTH) of every leaf pushed so far. */
  root(): Buffer {
    if (this.#nodes.length === 0) return EMPTY_ROOT;
    let root = this.#nodes[this.#nodes.length - 1] as Buffer;
    for (let i = this.#nodes.length - 2; i >= 0; i--) root = nodeHash(this.#nodes[i] as Buffer, root);
    return root;
  }

  /** The frontier as bytes, for storing beside the log. */
  serialize(): Buffer {
    return Buffer.concat(this.#nodes);
  }

  /** Reads a stored frontier of a tree of `size` leaves. */
  static deserialize(size: number, bytes: Uint8Array): MerkleFrontier {
    const nodes: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += HASH_BYTES) nodes.push(Buffer.from(bytes.subarray(at, at + HASH_BYTES)));
    return new MerkleFrontier(size, nodes);
  }
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}
