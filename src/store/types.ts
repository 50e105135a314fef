import type { ApprovalRequest, Decision } from '../core/decision.ts';
import type { SessionState } from '../core/state.ts';

/**
 * A read-modify-write step on one session. It must be pure and synchronous: a store may run it more than once
 * (optimistic retry) and commits only the state of the run that wins.
 */
export type SessionUpdate<T> = (state: SessionState | undefined) => { state?: SessionState; result: T };

/** Durable per-session Rule-of-Two state. */
export interface SessionStore {
  /**
   * Runs `update` on the current state of a session and commits its new state atomically: no other update of the
   * same session, in this process or another, interleaves. This is what keeps check-and-reserve atomic.
   */
  transact<T>(sessionId: string, update: SessionUpdate<T>): Promise<T>;
  /** The current state of a session, or undefined. */
  get(sessionId: string): Promise<SessionState | undefined>;
  /** Releases resources; further calls fail. */
  close(): Promise<void>;
}

/** States of an approval request; the only transitions are pending → approved | denied | expired. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** An answer to an approval request. */
export interface ApprovalAnswer {
  approved: boolean;
  /** Who answered (a user name, a channel). */
  by?: string;
  reason?: string;
}

/** An approval request and where it stands. */
export interface ApprovalRecord {
  request: ApprovalRequest;
  status: ApprovalStatus;
  answeredAt?: number;
  by?: string;
  reason?: string;
  /** When its receipt was used; a receipt is good once. */
  usedAt?: number;
}

/** A single-use proof that a request was approved, bound to the request's call hash. */
export interface ApprovalReceipt {
  requestId: string;
  hash: string;
}

/** A request after an answer, and whether the answer changed it (only a pending request changes). */
export interface AnswerOutcome {
  record: ApprovalRecord;
  changed: boolean;
}

/** Why a receipt could not be used. */
export type ConsumeFailure = 'unknown' | 'pending' | 'denied' | 'expired' | 'used' | 'mismatch';

/** The outcome of consuming a receipt. */
export type ConsumeOutcome = { ok: true; record: ApprovalRecord } | { ok: false; failure: ConsumeFailure };

/** Durable approval requests with a state machine and single-use receipts. */
export interface ApprovalStore {
  create(request: ApprovalRequest): Promise<void>;
  get(requestId: string): Promise<ApprovalRecord | undefined>;
  /**
   * Answers a pending request atomically. A request past its expiry becomes `expired` whatever the answer.
   * Answering a request that is not pending leaves it unchanged (`changed: false`) and returns it as it is.
   * Undefined for an unknown id.
   */
  answer(requestId: string, answer: ApprovalAnswer, now: number): Promise<AnswerOutcome | undefined>;
  /** Atomically marks an approved, unexpired, unused request with this hash as used. */
  consume(receipt: ApprovalReceipt, now: number): Promise<ConsumeOutcome>;
  list(filter?: { status?: ApprovalStatus; sessionId?: string }): Promise<ApprovalRecord[]>;
  close(): Promise<void>;
}

/** One audit event; the log adds sequence and chain fields. */
export type AuditEvent =
  | { type: 'session.open'; at: number; sessionId: string; configuration: string; input: string; legs: string }
  | { type: 'decision'; at: number; decision: Decision }
  | { type: 'approval.request'; at: number; request: ApprovalRequest }
  | {
      type: 'approval.answer';
      at: number;
      requestId: string;
      sessionId: string;
      status: ApprovalStatus;
      by?: string;
      reason?: string;
    }
  | {
      type: 'result';
      at: number;
      sessionId: string;
      callId: string;
      tool: string;
      brought: string;
      legsAfter: string;
      bytes: number;
      /** What author lineage or declassification did to the output. */
      note?: string;
    }
  | {
      type: 'lineage.allow';
      at: number;
      author?: string;
      item?: string;
      /** The tool whose lineage it applies to; absent: every tool with lineage. */
      tool?: string;
      by?: string;
      reason?: string;
    }
  | { type: 'result.ignored'; at: number; sessionId: string; callId: string; reason: string }
  | {
      type: 'transition';
      at: number;
      sessionId: string;
      kind: 'drop' | 'fork' | 'declassify';
      detail: Record<string, unknown>;
    };

/** An append-only log of audit events. */
export interface AuditLog {
  /** Appends an event; resolves once it is durable. Rejects when it cannot be written (the caller denies). */
  append(event: AuditEvent): Promise<void>;
  close(): Promise<void>;
}
