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

/** Bytes per storage chunk of {@link MemoryAuditLog}: about 1,500 guarded calls' events. */
const CHUNK_BYTES = 1 << 20;

/**
 * Audit events kept in memory (for tests and short-lived processes; not tamper-evident: the durable SQLite log in
 * `src/audit` chains and signs its records).
 *
 * Each event is stored as the UTF-8 bytes of its JSON text, length-prefixed, in large chunks outside the
 * JavaScript heap: a copy the caller cannot mutate afterwards, and no per-event object that every garbage collection
 * would have to copy and trace (a log of retained strings made the p99 of a guarded call several times slower).
 */
export class MemoryAuditLog implements AuditLog {
  readonly #chunks: { bytes: Uint8Array; view: DataView; used: number }[] = [];
  #count = 0;

  /** How many events were appended. */
  get size(): number {
    return this.#count;
  }

  /** The events appended so far, in order (fresh copies on every read). */
  get events(): AuditEvent[] {
    const decoder = new TextDecoder();
    const out: AuditEvent[] = [];
    for (const { bytes, view, used } of this.#chunks) {
      for (let at = 0; at < used; ) {
        const end = at + 4 + view.getUint32(at);
        out.push(JSON.parse(decoder.decode(bytes.subarray(at + 4, end))) as AuditEvent);
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
    const last = this.#chunks.at(-1);
    if (last && write(last, text)) {
      this.#count++;
      return;
    }
    // UTF-8 needs at most three bytes per UTF-16 code unit, so a record always fits a chunk made for it.
    const bytes = new Uint8Array(Math.max(CHUNK_BYTES, 4 + 3 * text.length));
    const chunk = { bytes, view: new DataView(bytes.buffer), used: 0 };
    this.#chunks.push(chunk);
    write(chunk, text);
    this.#count++;
  }

  async close(): Promise<void> {}
}

const ENCODER = new TextEncoder();

/** Writes a length-prefixed record at the end of a chunk; false when it does not fit. */
function write(chunk: { bytes: Uint8Array; view: DataView; used: number }, text: string): boolean {
  const at = chunk.used;
  if (at + 4 + text.length > chunk.bytes.length) return false;
  const { read, written } = ENCODER.encodeInto(text, chunk.bytes.subarray(at + 4));
  if (read < text.length) return false;
  chunk.view.setUint32(at, written);
  chunk.used = at + 4 + written;
  return true;
}

/**
 * Whether a value is what `canonicalJson` accepts: JSON values in plain objects and arrays, no cycles; `undefined`
 * only as an object property (left out).
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
    for (const item of value) if (!isJson(item, ancestors)) return false;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (item !== undefined && !isJson(item, ancestors)) return false;
    }
  }
  ancestors.pop();
  return true;
}
