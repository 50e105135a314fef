import type { ApprovalRequest } from '../core/decision.ts';
import type { SessionState } from '../core/state.ts';

import type {
  AnswerOutcome,
  ApprovalAnswer,
  ApprovalReceipt,
  ApprovalRecord,
  ApprovalStatus,
  ApprovalStore,
  ConsumeOutcome,
  SessionStore,
  SessionUpdate,
} from './types.ts';

export { MemoryAuditLog } from './memory-audit.ts';

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

/**
 * Applies an answer to a record (shared by every approval store so they agree on the state machine). A record that is
 * not pending is returned itself, unchanged: stores report `changed` by identity.
 */
export function answerRecord(record: ApprovalRecord, answer: ApprovalAnswer, now: number): ApprovalRecord {
  if (record.status !== 'pending') return record;
  // INVARIANT: only the boolean `true` approves; "false", 1 or {} from a form or a hook is a refusal
  // (test/store/common.case.ts "an answer whose `approved` is not the boolean true is a refusal").
  const approved = answer.approved === true;
  const status: ApprovalStatus = now > record.request.expiresAt ? 'expired' : approved ? 'approved' : 'denied';
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

  async answer(requestId: string, answer: ApprovalAnswer, now: number): Promise<AnswerOutcome | undefined> {
    const record = this.#records.get(requestId);
    if (!record) return undefined;
    const next = answerRecord(record, answer, now);
    this.#records.set(requestId, next);
    return { record: next, changed: next !== record };
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
