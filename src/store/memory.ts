import { Buffer } from 'node:buffer';
import { canonicalJson } from '../core/canonical.ts';
import type { ApprovalRequest } from '../core/decision.ts';
import type { SessionState } from '../core/state.ts';
import type {
  ApprovalAnswer,
  ApprovalReceipt,
  ApprovalRecord,
  ApprovalStatus,
  ApprovalStore,
  AuditEvent,
  AuditLog,
  ConsumeOutcome,
  SessionStore,
  SessionUpdate,
} from './types.ts';

class StoreClosedError extends Error {
  constructor() {
    super('store is closed');
    this.name = new.target.name;
  }
}

/** Sessions in a Map; updates are atomic because they run synchronously between awaits. */
export class MemorySessionStore implements SessionStore {
  #sessions = new Map<string, SessionState>();
  #closed = false;

  async transact<T>(sessionId: string, update: SessionUpdate<T>): Promise<T> {
    if (this.#closed) throw new StoreClosedError();
    const { state, result } = update(this.#sessions.get(sessionId));
    if (state !== undefined) this.#sessions.set(sessionId, state);
    return result;
  }

  async get(sessionId: string): Promise<SessionState | undefined> {
    if (this.#closed) throw new StoreClosedError();
    return this.#sessions.get(sessionId);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Applies an answer to a record (shared by every approval store so they agree on the state machine). */
export function answerRecord(record: ApprovalRecord, answer: ApprovalAnswer, now: number): ApprovalRecord {
  if (record.status !== 'pending') return record;
  const status: ApprovalStatus = now > record.request.expiresAt ? 'expired' : answer.approved ? 'approved' : 'denied';
  const next: ApprovalRecord = { ...record, status, answeredAt: now };
  if (answer.by !== undefined) next.by = answer.by;
  if (answer.reason !== undefined) next.reason = answer.reason;
  return next;
}

/** Checks a receipt against a record (shared by every approval store). */
export function consumeRecord(
  record: ApprovalRecord | undefined,
  receipt: ApprovalReceipt,
  now: number,
): ConsumeOutcome & { next?: ApprovalRecord } {
  if (!record) return { ok: false, failure: 'unknown' };
  if (record.request.hash !== receipt.hash) return { ok: false, failure: 'mismatch' };
  if (record.usedAt !== undefined) return { ok: false, failure: 'used' };
  if (record.status === 'pending' && now > record.request.expiresAt) {
    return { ok: false, failure: 'expired', next: { ...record, status: 'expired', answeredAt: now } };
  }
  if (record.status !== 'approved') return { ok: false, failure: record.status as 'pending' | 'denied' | 'expired' };
  if (now > record.request.expiresAt) return { ok: false, failure: 'expired' };
  const next = { ...record, usedAt: now };
  return { ok: true, record: next, next };
}

/** Approval requests in a Map, indexed by session: adapters look up a session's requests on every call. */
export class MemoryApprovalStore implements ApprovalStore {
  #records = new Map<string, ApprovalRecord>();
  #bySession = new Map<string, string[]>();

  async create(request: ApprovalRequest): Promise<void> {
    if (this.#records.has(request.id)) throw new Error(`approval request \`${request.id}\` exists`);
    this.#records.set(request.id, { request, status: 'pending' });
    const ids = this.#bySession.get(request.sessionId);
    if (ids) ids.push(request.id);
    else this.#bySession.set(request.sessionId, [request.id]);
  }

  async get(requestId: string): Promise<ApprovalRecord | undefined> {
    return this.#records.get(requestId);
  }

  async answer(requestId: string, answer: ApprovalAnswer, now: number): Promise<ApprovalRecord | undefined> {
    const record = this.#records.get(requestId);
    if (!record) return undefined;
    const next = answerRecord(record, answer, now);
    this.#records.set(requestId, next);
    return next;
  }

  async consume(receipt: ApprovalReceipt, now: number): Promise<ConsumeOutcome> {
    const { next, ...outcome } = consumeRecord(this.#records.get(receipt.requestId), receipt, now);
    if (next) this.#records.set(receipt.requestId, next);
    return outcome;
  }

  async list(filter: { status?: ApprovalStatus; sessionId?: string } = {}): Promise<ApprovalRecord[]> {
    const records =
      filter.sessionId === undefined
        ? [...this.#records.values()]
        : (this.#bySession.get(filter.sessionId) ?? []).map((id) => this.#records.get(id) as ApprovalRecord);
    return filter.status === undefined ? records : records.filter((r) => r.status === filter.status);
  }

  async close(): Promise<void> {}
}

/**
 * Sizes of {@link MemoryAuditLog}'s storage chunks: the first is small (many guards log little), each next one twice
 * the last, up to about 1,500 guarded calls' events.
 */
const FIRST_CHUNK_BYTES = 1 << 14;
const MAX_CHUNK_BYTES = 1 << 20;

/**
 * Audit events kept in memory (for tests and short-lived processes; not tamper-evident: the durable SQLite log in
 * `src/audit` chains and signs its records).
 *
 * Each event is stored as the UTF-8 bytes of its JSON text, length-prefixed, in large chunks outside the
 * JavaScript heap: a copy the caller cannot mutate afterwards, and no per-event object that every garbage collection
 * would have to copy and trace (a log of retained strings made the p99 of a guarded call several times slower).
 */
export class MemoryAuditLog implements AuditLog {
  readonly #chunks: { bytes: Buffer; used: number }[] = [];
  #count = 0;

  /** How many events were appended. */
  get size(): number {
    return this.#count;
  }

  /** The events appended so far, in order (fresh copies on every read). */
  get events(): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const { bytes, used } of this.#chunks) {
      for (let at = 0; at < used; ) {
        const end = at + 4 + bytes.readUInt32BE(at);
        out.push(JSON.parse(bytes.toString('utf8', at + 4, end)) as AuditEvent);
        at = end;
      }
    }
    return out;
  }

  async append(event: AuditEvent): Promise<void> {
    // The same contract as a durable log: only JSON values can be recorded. Key order does not matter here, so the
    // engine's JSON.stringify writes the text, several times faster than canonical JSON; `canonicalJson` only
    // explains a refusal (it throws for every value `isJson` refuses).
    if (!isJson(event, [])) {
      canonicalJson(event);
      throw new Error('audit event is not JSON');
    }
    const text = JSON.stringify(event);
    let chunk = this.#chunks.at(-1);
    // UTF-8 needs at most three bytes per UTF-16 code unit; the exact length is counted only near a chunk's end.
    const room = chunk ? chunk.bytes.length - chunk.used - 4 : -1;
    if (!chunk || (room < 3 * text.length && room < Buffer.byteLength(text))) {
      // Touched once now (zeros), so the pages fault in this one append instead of one in every few calls after it.
      const size = Math.min(MAX_CHUNK_BYTES, chunk ? 2 * chunk.bytes.length : FIRST_CHUNK_BYTES);
      chunk = { bytes: Buffer.allocUnsafeSlow(Math.max(size, 4 + 3 * text.length)).fill(0), used: 0 };
      this.#chunks.push(chunk);
    }
    const written = chunk.bytes.write(text, chunk.used + 4);
    chunk.bytes.writeUInt32BE(written, chunk.used);
    chunk.used += 4 + written;
    this.#count++;
  }

  async close(): Promise<void> {}
}

/**
 * Whether a value is what `canonicalJson` accepts: JSON values in plain objects and arrays, no cycles; `undefined`
 * only as an object property (left out). `for...in` is the fastest walk; it also visits inherited enumerable keys,
 * which can only refuse more.
 */
function isJson(value: unknown, ancestors: object[]): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (ancestors.includes(value)) return false;
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isJson(value[i], ancestors)) return false;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const item = record[key];
      if (item !== undefined && !isJson(item, ancestors)) return false;
    }
  }
  ancestors.pop();
  return true;
}
