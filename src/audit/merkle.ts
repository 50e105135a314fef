import { hash } from 'node:crypto';

/** SHA-256 digest length in bytes. */
export const HASH_BYTES = 32;

const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_BYTES);
NODE_INPUT[0] = 0x01;

// Hashes are hex strings throughout: node:crypto returns a string several times faster than a Buffer (a Buffer
// output costs an allocation that dwarfs the hash of a short input), and records link to each other in hex.

/** RFC 6962 leaf hash, hex: SHA-256(0x00 || record). `record` is the record's exact text. */
export function leafHash(record: string): string {
  return hash('sha256', `\0${record}`, 'hex');
}

/** {@link leafHash} of a record given as bytes already behind their 0x00 prefix (see `leafInput`). */
export function leafHashOfInput(input: Uint8Array): string {
  return hash('sha256', input, 'hex');
}

/** RFC 6962 interior node hash, hex: SHA-256(0x01 || left || right); distinct from every leaf hash by its prefix. */
export function nodeHash(left: string, right: string): string {
  NODE_INPUT.write(left, 1, HASH_BYTES, 'hex');
  NODE_INPUT.write(right, 1 + HASH_BYTES, HASH_BYTES, 'hex');
  return hash('sha256', NODE_INPUT, 'hex');
}

/** The RFC 6962 root of the empty tree, hex: SHA-256 of nothing. */
export const EMPTY_ROOT: string = hash('sha256', '', 'hex');

/**
 * The right edge of an RFC 6962 Merkle tree: the roots of its perfect subtrees, largest first (one per set bit of
 * the size). Appending is amortized one node hash per leaf, and the root of the whole tree comes from the frontier
 * alone, so a log can checkpoint without rereading its records.
 */
export class MerkleFrontier {
  #size: number;
  readonly #nodes: string[];

  constructor(size = 0, nodes: string[] = []) {
    if (nodes.length !== popcount(size)) throw new Error(`a frontier of size ${size} has ${popcount(size)} nodes`);
    this.#size = size;
    this.#nodes = nodes;
  }

  /** How many leaves the tree holds. */
  get size(): number {
    return this.#size;
  }

  /** Adds one leaf hash (hex). */
  push(leaf: string): void {
    let node = leaf;
    // Each trailing one bit of the old size is a perfect subtree of the same height as the carry: merge them.
    for (let size = this.#size; size % 2 === 1; size = Math.floor(size / 2)) {
      node = nodeHash(this.#nodes.pop() as string, node);
    }
    this.#nodes.push(node);
    this.#size += 1;
  }

  /** The roots of the perfect subtrees, largest first. */
  get nodes(): readonly string[] {
    return this.#nodes;
  }

  /**
   * Appends a whole tree given by its frontier, as if its leaves were pushed one by one. The tree must fit the
   * alignment of this one (this size a multiple of the smallest power of two holding `tree`), as when a log is
   * split into chunks of a power-of-two size: then each of its subtrees is a subtree of the joined tree.
   */
  append(tree: MerkleFrontier): this {
    let leaves = 2 ** Math.ceil(Math.log2(Math.max(1, tree.size)));
    if (this.#size % leaves !== 0) throw new Error(`a tree of ${tree.size} leaves cannot follow ${this.#size}`);
    let index = 0;
    for (; leaves >= 1; leaves /= 2) {
      if (Math.floor(tree.size / leaves) % 2 === 0) continue;
      let node = tree.#nodes[index++] as string;
      for (let size = this.#size / leaves; size % 2 === 1; size = Math.floor(size / 2)) {
        node = nodeHash(this.#nodes.pop() as string, node);
      }
      this.#nodes.push(node);
      this.#size += leaves;
    }
    return this;
  }

  /** A copy that can grow on its own. */
  clone(): MerkleFrontier {
    return new MerkleFrontier(this.#size, [...this.#nodes]);
  }

  /** The Merkle tree hash (RFC 6962 MTH), hex, of every leaf pushed so far. */
  root(): string {
    if (this.#nodes.length === 0) return EMPTY_ROOT;
    let root = this.#nodes[this.#nodes.length - 1] as string;
    for (let i = this.#nodes.length - 2; i >= 0; i--) root = nodeHash(this.#nodes[i] as string, root);
    return root;
  }

  /** The frontier as bytes, for storing beside the log. */
  serialize(): Buffer {
    return Buffer.from(this.#nodes.join(''), 'hex');
  }

  /** Reads a stored frontier of a tree of `size` leaves. */
  static deserialize(size: number, bytes: Uint8Array): MerkleFrontier {
    if (bytes.byteLength % HASH_BYTES !== 0)
      throw new Error(`a frontier of ${bytes.byteLength} bytes is not whole hashes`);
    const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
    const nodes: string[] = [];
    for (let at = 0; at < hex.length; at += 2 * HASH_BYTES) nodes.push(hex.slice(at, at + 2 * HASH_BYTES));
    return new MerkleFrontier(size, nodes);
  }
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}
