import type { KeyObject } from 'node:crypto';
import { canonicalJson } from '../core/canonical.ts';
import { type Checkpoint, canonicalPublicPem, checkSignature, keyIdOf, publicKeyFromPem } from './checkpoint.ts';
import type { CheckedChunk } from './chunk-check.ts';
import { leafHash, MerkleFrontier } from './merkle.ts';
import { GENESIS_PREV, parseRecord, RECORD_VERSION, readTail } from './record.ts';

/** One problem `verify` found; `record` names the first record it concerns. */
export interface VerifyIssue {
  code:
    | 'malformed'
    | 'unsupported_version'
    | 'missing'
    | 'out_of_order'
    | 'hash_mismatch'
    | 'chain_broken'
    | 'root_mismatch'
    | 'truncated'
    | 'bad_signature'
    | 'unknown_key'
    | 'unsigned'
    | 'bad_checkpoint'
    | 'checkpoint_missing'
    | 'head_mismatch';
  record?: number;
  message: string;
}

/** What `verify` found: ok only when every record chains, every checkpoint matches and every signature holds. */
export interface VerifyReport {
  ok: boolean;
  /** Records read (up to the first broken one). */
  records: number;
  checkpoints: number;
  /** Checkpoints whose signature was checked and holds. */
  signed: number;
  /** Merkle root (hex) of the records that verified. */
  root: string;
  issues: VerifyIssue[];
  /** Notes that do not fail verification, such as an unpinned key. */
  notes: string[];
}

/** Orders issues by the record they name, the earliest first (where the log stops being trustworthy); unnamed last. */
export function byRecord(a: VerifyIssue, b: VerifyIssue): number {
  return (a.record ?? Number.MAX_SAFE_INTEGER) - (b.record ?? Number.MAX_SAFE_INTEGER);
}

/** Options of a verification. */
export interface VerifyOptions {
  /** Trusted public keys (PEM); when given, every checkpoint must be signed by one of them. */
  publicKeys?: readonly string[];
  /** Public keys found in the log itself, by key id; used only when no key is pinned. */
  logKeys?: ReadonlyMap<string, string>;
  /** Fail when a checkpoint is unsigned (default true when keys are pinned). */
  requireSignatures?: boolean;
  /** Parse every record in full (JSON, fields, canonical form), not only its chain fields. */
  strict?: boolean;
  /**
   * A checkpoint kept outside the log (saved from `audit stats` or an earlier verify). The log must still hold its
   * records with the same root: this is what detects truncation after the log's own last checkpoint.
   */
  witness?: Checkpoint;
}

/**
 * Checks a log record by record as it streams: each record's number, its `prev` link to the record before, its
 * stored hash, and the Merkle root at every checkpoint. It stops at the first broken record, since nothing after it
 * can be trusted, and says which record that is.
 */
export class LogVerifier {
  readonly #checkpoints: Checkpoint[];
  readonly #keys: Map<string, KeyObject>;
  readonly #pinned: boolean;
  readonly #require: boolean;
  readonly #strict: boolean;
  #frontier = new MerkleFrontier();
  readonly #issues: VerifyIssue[] = [];
  readonly #notes: string[] = [];
  #prev = GENESIS_PREV;
  /** A record whose link to the one before is broken, held until the next record says which of the two changed. */
  #suspect: { position: number; leaf: string } | undefined;
  #next = 0;
  /** Index of the next checkpoint whose root is due. */
  #due = 0;
  #signed = 0;
  #broken = false;

  constructor(checkpoints: readonly Checkpoint[], options: VerifyOptions = {}) {
    this.#checkpoints = [...checkpoints].sort((a, b) => a.size - b.size);
    this.#chainCheckpoints();
    const { witness } = options;
    if (witness && !this.#checkpoints.some((c) => canonicalJson(c) === canonicalJson(witness))) {
      // Checkpoints are never removed, so the witness must still be in the log; its root is checked all the same.
      this.#issues.push({
        code: 'checkpoint_missing',
        record: witness.size,
        message: `the witness checkpoint ${witness.size} is not in the log (deleted or replaced)`,
      });
      this.#checkpoints.push(witness);
      this.#checkpoints.sort((a, b) => a.size - b.size);
    }
    this.#pinned = (options.publicKeys?.length ?? 0) > 0;
    this.#require = options.requireSignatures ?? this.#pinned;
    this.#strict = options.strict ?? false;
    this.#keys = new Map();
    for (const pem of options.publicKeys ?? []) {
      const key = publicKeyFromPem(pem, 'a pinned public key');
      this.#keys.set(keyIdOf(key), key);
    }
    for (const [id, pem] of options.logKeys ?? new Map<string, string>()) {
      let key: KeyObject | undefined;
      try {
        key = publicKeyFromPem(pem, `key \`${id}\``);
      } catch {
        key = undefined;
      }
      // Base64 decoding skips characters outside its alphabet and the unused bits of the last one: a text that is not
      // the canonical one for its key is an edit that decoding would hide.
      if (!key || keyIdOf(key) !== id || canonicalPublicPem(key) !== pem) {
        this.#issues.push({
          code: 'unknown_key',
          message: `the log's key \`${id}\` is damaged: it does not match its id`,
        });
      } else if (!this.#pinned) {
        this.#keys.set(id, key);
      }
    }
    if (!this.#pinned && this.#keys.size > 0) {
      this.#notes.push('signatures were checked against keys stored in the log; pin one with --public-key');
    }
  }

  /** Each checkpoint names the one before it; a gap means a checkpoint was deleted. */
  #chainCheckpoints(): void {
    let previous = 0;
    for (const checkpoint of this.#checkpoints) {
      if (checkpoint.previous !== previous) {
        const what = previous === 0 ? 'none' : `${previous}`;
        this.#issues.push({
          code: 'checkpoint_missing',
          record: checkpoint.size,
          message: `checkpoint ${checkpoint.size} follows checkpoint ${checkpoint.previous}, but the log's previous checkpoint is ${what} (deleted or reordered)`,
        });
        return;
      }
      previous = checkpoint.size;
    }
  }

  /** Whether a record has failed; later records are not checked. */
  get broken(): boolean {
    return this.#broken;
  }

  /** How many records have been checked and chain. */
  get records(): number {
    return this.#next;
  }

  /** The record counts at which a checkpoint root is due, in order. */
  cutSizes(): number[] {
    return this.#checkpoints.map((c) => c.size);
  }

  /**
   * Takes a chunk of records checked on another thread (see `addChunks`) when it continues the log cleanly: it
   * starts at the next record, links to the last one, and every checkpoint inside it has the root the chunk gives.
   * Otherwise it returns false and changes nothing; the caller then adds the chunk's records one by one, which
   * finds and names what is wrong. Taking a chunk verifies exactly what adding its records would.
   */
  addChunk(chunk: CheckedChunk): boolean {
    if (this.#broken || this.#suspect !== undefined || !chunk.clean || chunk.count === 0) return false;
    if (chunk.from !== this.#next || chunk.firstPrev !== this.#prev) return false;
    const end = chunk.from + chunk.count;
    let due = this.#due;
    try {
      for (let c = this.#checkpoints[due]; c !== undefined && c.size <= end; c = this.#checkpoints[++due]) {
        if (c.size <= chunk.from) continue;
        const cut = chunk.cuts.find((t) => t.size === c.size - chunk.from);
        if (!cut || !ROOT.test(c.root) || !Number.isSafeInteger(c.at)) return false;
        if (this.#frontier.clone().append(new MerkleFrontier(cut.size, cut.nodes)).root() !== c.root) return false;
      }
      const frontier = this.#frontier.clone().append(new MerkleFrontier(chunk.tree.size, chunk.tree.nodes));
      this.#frontier = frontier;
    } catch {
      // A chunk tree that does not fit is not taken; record by record will say why.
      return false;
    }
    this.#due = due;
    this.#prev = chunk.last;
    this.#next = end;
    return true;
  }

  /** Checks the next record's exact text. */
  add(text: string): void {
    if (this.#broken) return;
    const issue = this.#suspect === undefined ? this.#check(text) : this.#blame(text, this.#suspect);
    if (issue) {
      this.#broken = true;
      this.#issues.push(issue);
    }
  }

  #check(text: string): VerifyIssue | undefined {
    const position = this.#next + 1;
    const tail = readTail(text);
    if (!tail || tail.v !== RECORD_VERSION || this.#strict) {
      const parsed = parseRecord(text);
      if (!parsed.ok) return issue(parsed.problem.code, position, `record ${position}: ${parsed.problem.message}`);
      if (!tail) return issue('malformed', position, `record ${position}: malformed`);
    }
    if (tail.seq !== position) {
      return tail.seq > position
        ? issue('missing', position, `record ${position} is missing or moved (record ${tail.seq} stands in its place)`)
        : issue('out_of_order', position, `record ${position}: found record ${tail.seq} in its place (reordered)`);
    }
    const leaf = leafHash(text);
    if (!text.startsWith(this.#prev, tail.prevAt)) {
      if (position === 1) return issue('chain_broken', 1, 'record 1 was changed: it does not start the chain');
      // Either this record's `prev` or the record before was changed; the next record tells which.
      this.#suspect = { position, leaf };
      return undefined;
    }
    this.#frontier.push(leaf);
    this.#prev = leaf;
    this.#next = position;
    if ((this.#checkpoints[this.#due]?.size ?? Number.POSITIVE_INFINITY) <= position) this.#checkRoots();
    return undefined;
  }

  /** Decides which record of a broken link changed: if `next` chains to the suspect, the one before it did. */
  #blame(next: string, suspect: { position: number; leaf: string }): VerifyIssue {
    const { position } = suspect;
    const tail = readTail(next);
    if (tail && next.startsWith(suspect.leaf, tail.prevAt)) {
      this.#next = position - 2;
      return issue(
        'hash_mismatch',
        position - 1,
        `record ${position - 1} was changed: record ${position} does not chain to it`,
      );
    }
    return issue(
      'chain_broken',
      position,
      `record ${position} was changed: it does not chain to record ${position - 1}`,
    );
  }

  /** Checks every checkpoint's signature and that none lies beyond the records read; returns the report. */
  finish(): VerifyReport {
    if (this.#suspect !== undefined && !this.#broken) {
      const { position } = this.#suspect;
      this.#broken = true;
      this.#issues.push(
        issue(
          'chain_broken',
          position,
          `record ${position} does not chain to record ${position - 1} (one of them was changed)`,
        ),
      );
    }
    let unsigned = 0;
    for (const checkpoint of this.#checkpoints) {
      if (checkpoint.signature === null || checkpoint.keyId === null) unsigned += 1;
      this.#checkSignature(checkpoint);
    }
    if (unsigned > 0 && !this.#require) this.#notes.push(`${unsigned} checkpoint(s) are not signed`);
    const covered = this.#checkpoints.at(-1)?.size ?? 0;
    if (!this.#broken && this.#next > covered) {
      this.#notes.push(`records ${covered + 1}..${this.#next} come after the last checkpoint: chained, not yet signed`);
    }
    const beyond = this.#checkpoints.find((c) => c.size > this.#next);
    if (beyond && !this.#broken) {
      this.#issues.push({
        code: 'truncated',
        record: this.#next + 1,
        message: `the log ends after record ${this.#next} but checkpoint ${beyond.size} covers ${beyond.size} records (truncated)`,
      });
    }
    const issues = [...this.#issues].sort(byRecord);
    return {
      ok: issues.length === 0,
      records: this.#next,
      checkpoints: this.#checkpoints.length,
      signed: this.#signed,
      root: this.#frontier.root(),
      issues,
      notes: this.#notes,
    };
  }

  /** Compares the Merkle root with every checkpoint taken at the size just reached. */
  #checkRoots(): void {
    for (;;) {
      const checkpoint = this.#checkpoints[this.#due];
      if (!checkpoint || checkpoint.size > this.#next) return;
      this.#due += 1;
      if (checkpoint.size < this.#next) continue;
      if (!ROOT.test(checkpoint.root) || !Number.isSafeInteger(checkpoint.at)) {
        this.#issues.push({
          code: 'bad_checkpoint',
          record: checkpoint.size,
          message: `checkpoint ${checkpoint.size} is malformed`,
        });
      } else if (this.#frontier.root() !== checkpoint.root) {
        this.#issues.push({
          code: 'root_mismatch',
          record: checkpoint.size,
          message: `checkpoint ${checkpoint.size} does not match records 1..${checkpoint.size}: records up to it were rewritten`,
        });
      }
    }
  }

  #checkSignature(checkpoint: Checkpoint): void {
    if (checkpoint.signature === null || checkpoint.keyId === null) {
      if (this.#require) {
        this.#issues.push({
          code: 'unsigned',
          record: checkpoint.size,
          message: `checkpoint ${checkpoint.size} is not signed`,
        });
      }
      return;
    }
    const key = this.#keys.get(checkpoint.keyId);
    if (!key) {
      const why = this.#pinned ? 'which is not trusted' : 'which the log does not hold';
      this.#issues.push({
        code: 'unknown_key',
        record: checkpoint.size,
        message: `checkpoint ${checkpoint.size} is signed by key \`${checkpoint.keyId}\`, ${why}`,
      });
      return;
    }
    if (checkSignature(checkpoint, key)) this.#signed += 1;
    else
      this.#issues.push({
        code: 'bad_signature',
        record: checkpoint.size,
        message: `checkpoint ${checkpoint.size} has a bad signature`,
      });
  }
}

const ROOT = /^[0-9a-f]{64}$/;

function issue(code: VerifyIssue['code'], record: number, message: string): VerifyIssue {
  return { code, record, message };
}
