import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';
import { ApprovalTimeout, askApprover } from '../approvals/ask.ts';
import type { Approver } from '../approvals/types.ts';
import type { Sha256 } from '../core/approval.ts';
import { decide, errorDecision, type ToolCall } from '../core/decide.ts';
import { type ApprovalRequest, type Decision, inDecisionOrder, type Reason } from '../core/decision.ts';
import type { Configuration, InputTrust, PolicyDocument } from '../core/document.ts';
import { formatLegs, LEG_A, LEG_B, type Leg, type LegMask, parseLegs } from '../core/legs.ts';
import { compilePolicy, MAX_DURATION_MS, type Policy, parseDuration } from '../core/policy.ts';
import { MemoryProvenanceIndex, type ProvenanceLimits, type ProvenanceStats } from '../core/provenance.ts';
import { type Evidence, effectiveLegs, newSessionState, reservedLegs, type SessionState } from '../core/state.ts';
import { type CarriedValue, dropLeg, forkSession, recordResult } from '../core/transitions.ts';
import { CallDeniedError, ConfigError } from '../errors.ts';
import { validatePolicy } from '../policy/validate.ts';
import { MemoryApprovalStore, MemoryAuditLog, MemorySessionStore } from '../store/memory.ts';
import type {
  AnswerOutcome,
  ApprovalAnswer,
  ApprovalReceipt,
  ApprovalRecord,
  ApprovalStore,
  AuditEvent,
  AuditLog,
  SessionStore,
} from '../store/types.ts';
import { copyArguments } from './copy.ts';

/** Options of {@link createGuard}. */
export interface GuardOptions {
  /** A compiled policy, or a validated document (see `loadPolicy` for files). */
  policy: Policy | PolicyDocument;
  sessions?: SessionStore;
  approvals?: ApprovalStore;
  audit?: AuditLog;
  /** Who answers `ask`; without one, every `ask` ends in deny. */
  approver?: Approver;
  /** How long to wait for the approver; defaults to the policy's approval TTL. */
  approvalTimeoutMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Unique ids for calls and approval requests; defaults to random UUIDs. */
  newId?: () => string;
  /** Told about failures that were turned into denials (store down, audit not written, approver error). */
  onError?: (error: unknown, where: string) => void;
  /** Limits of each session's provenance index (see docs/provenance.md). */
  provenanceLimits?: Partial<ProvenanceLimits>;
  /**
   * Most sessions whose provenance index is kept in memory (default 1000); the least recently used is forgotten,
   * and a forgotten session's arguments then have unknown provenance (fail closed).
   */
  maxIndexedSessions?: number;
}

/** Options for opening a session; defaults come from the policy. */
export interface SessionOptions {
  configuration?: Configuration;
  input?: InputTrust;
  /**
   * The user's request. With trusted input, values in it are never flagged by provenance controls (the user asked
   * to pay that IBAN); with untrusted input it is indexed as untrusted.
   */
  request?: unknown;
}

/** A read-only view of a session's state. */
export interface SessionView {
  id: string;
  configuration: Configuration;
  /** Legs held or reserved. */
  legs: string;
  held: string;
  reserved: string;
  dropped: string;
  seq: number;
  pending: { callId: string; tool: string; post: string }[];
  evidence: Evidence[];
  parent?: string;
  /** Sizes of the session's provenance index in this process, when the policy traces provenance. */
  provenance?: ProvenanceStats;
}

/** The outcome of recording a tool's output. */
export type RecordOutcome =
  | {
      ok: true;
      tool: string;
      brought: string;
      legsAfter: string;
      /** What the model may see: the output, or with items by untrusted authors removed by lineage. */
      output: unknown;
      /** What author lineage or declassification did. */
      note?: string;
    }
  | { ok: false; code: string; message: string };

/** The outcome of a drop. */
export type DropOutcome = { ok: true; legs: string; dropped: string } | { ok: false; code: string; message: string };

/** Options of a fork; unlike a new session, a child's input is trusted unless `input: 'untrusted'` is given. */
export interface ForkOptions extends SessionOptions {
  /** Id of the child; a fresh id when absent. */
  id?: string;
  carry?: CarriedValue[];
}

/** A guarded tool function: the same function with a session to act in. */
export type GuardedTool<A, R> = (args: A, context: { session: string | Session; callId?: string }) => Promise<R>;

/** One Rule-of-Two session: a handle on the guard bound to a session id. */
export interface Session {
  readonly id: string;
  /** Decides a call; `allow` reserves its legs. Pass a receipt to use an approval. */
  check(call: ToolCall, options?: { receipt?: ApprovalReceipt }): Promise<Decision>;
  /** Decides a call and, on `ask`, asks the approver and decides again with its receipt: allow or deny. */
  authorize(call: ToolCall): Promise<Decision>;
  /** Records the output of an allowed call: what it brings joins the session. */
  record(callId: string, output: unknown): Promise<RecordOutcome>;
  /** The latest approval request made for a call id in this session, with where it stands. */
  approvalFor(callId: string): Promise<ApprovalRecord | undefined>;
  drop(leg: Leg, reason?: string): Promise<DropOutcome>;
  fork(options?: ForkOptions): Promise<Session>;
  /** Guards a plain async function as tool `name` in this session. */
  wrap<A, R>(name: string, fn: (args: A) => R | Promise<R>): (args: A) => Promise<R>;
  view(): Promise<SessionView | undefined>;
}

/** The Rule-of-Two guard: one policy, its stores, its approval channel. */
export interface Guard {
  readonly policy: Policy;
  /** How long an approver is waited for before the call is denied (`approval_timeout`). */
  readonly approvalTimeoutMs: number;
  /** Opens a session, creating it on first use. */
  session(id: string, options?: SessionOptions): Promise<Session>;
  check(sessionId: string, call: ToolCall, options?: { receipt?: ApprovalReceipt }): Promise<Decision>;
  authorize(sessionId: string, call: ToolCall): Promise<Decision>;
  record(sessionId: string, callId: string, output: unknown): Promise<RecordOutcome>;
  drop(sessionId: string, leg: Leg, reason?: string): Promise<DropOutcome>;
  fork(sessionId: string, options?: ForkOptions): Promise<Session>;
  /**
   * Answers an approval request out of band; returns the receipt when it was approved in time. A refusal withdraws
   * an approval another channel gave first and not yet used.
   */
  answer(requestId: string, answer: ApprovalAnswer): Promise<ApprovalReceipt | undefined>;
  /**
   * Denies the call of a pending request whose approver, asked outside `authorize` (an adapter's own approval hook),
   * gave no answer: `failure` is the {@link ApprovalTimeout} or what the approver threw. As `authorize` does, the request
   * is closed so a late yes cannot revive it, and the denial is audited (`approval_timeout` or `approver_error`).
   */
  giveUp(request: ApprovalRequest, failure: unknown): Promise<Decision>;
  /** The latest approval request made for a call id in a session (adapters resume framework approvals with it). */
  approvalFor(sessionId: string, callId: string): Promise<ApprovalRecord | undefined>;
  /** Marks an author or an item trusted for author lineage from now on; recorded in the audit log. */
  allowLineage(allow: LineageAllow): Promise<void>;
  /** Guards a plain async function as tool `name`; each call names its session. */
  wrap<A, R>(name: string, fn: (args: A) => R | Promise<R>): GuardedTool<A, R>;
  view(sessionId: string): Promise<SessionView | undefined>;
  /**
   * A guard for another policy with this one's stores, options and memory of its sessions (provenance indexes,
   * lineage allowances, open asks), which both then share: for a host whose labels change while sessions run, as the
   * gateway's do when an upstream's listing changes. A new guard would know no session's provenance, and every
   * argument under a provenance control would be denied as of unknown provenance. Approvals given under this policy
   * do not carry over (their policy version differs).
   */
  withPolicy(policy: Policy | PolicyDocument): Guard;
  close(): Promise<void>;
}

/** SHA-256 from node:crypto: the same digest as the core's pure-JS default, several times faster. */
export const nativeSha256: Sha256 = (text) => hash('sha256', text, 'hex');

/** A reviewer's statement that an author, or one item, is trusted for author lineage. */
export interface LineageAllow {
  author?: string;
  item?: string;
  by?: string;
  reason?: string;
}

/** Creates a guard. Stores default to memory; give SQLite stores for state that survives restarts. */
export function createGuard(options: GuardOptions): Guard {
  return new RuleOfTwoGuard(guardPolicy(options.policy), options, newMemory());
}

/** A compiled policy as given, or a document validated first: an unchecked typo must not drop a tool's legs. */
/** What a guard remembers of its sessions beyond the stores; guards made by `withPolicy` share it. */
interface GuardMemory {
  indexes: Map<string, MemoryProvenanceIndex>;
  unclosed: Map<string, Unclosed>;
  asked: Map<string, AskedLabels>;
  allowances: { authors: Set<string>; items: Set<string> };
  instance: string;
}

function newMemory(): GuardMemory {
  return {
    indexes: new Map(),
    unclosed: new Map(),
    asked: new Map(),
    allowances: { authors: new Set(), items: new Set() },
    instance: crypto.randomUUID(),
  };
}

function guardPolicy(policy: Policy | PolicyDocument): Policy {
  if ('resolve' in policy) return policy as Policy;
  // INVARIANT: a document is validated before use (test/guard/policy-input.test.ts).
  const validation = validatePolicy(structuredClone(policy));
  if (!validation.ok) throw new ConfigError(`policy has ${validation.issues.length} issue(s)`, validation.issues);
  return compilePolicy(validation.document);
}

function denyWith(decision: Decision, code: Reason['code'], message: string): Decision {
  return {
    ...decision,
    effect: 'deny',
    legsAfter: decision.legsBefore,
    reasons: [...decision.reasons, { code, rule: 0, message }],
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What an `ask` decision has beyond its approval request (see `giveUp`), with the request's hash it is for. */
interface AskedLabels {
  hash: string;
  call?: Decision['call'];
  provenance?: Decision['provenance'];
}

/** A refusal the store failed to take (see `#keepRefusing`): kept until when, and the retries so far. */
interface Unclosed {
  refusal: ApprovalAnswer;
  until: number;
  attempt: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** First delay before giving the store a refusal again, doubled per attempt up to {@link REFUSAL_RETRY_MAX_MS}. */
const REFUSAL_RETRY_MS = 50;
const REFUSAL_RETRY_MAX_MS = 5000;

/** Most open `ask` decisions whose labels a guard remembers for `giveUp`. */
const MAX_OPEN_ASKS = 1024;

/** Most guards listed in a session's `indexedBy`. */
const MAX_INDEXERS = 16;

/** Why a call was denied when its approver did not answer within {@link Guard.approvalTimeoutMs}. */
export const APPROVAL_TIMEOUT_TEXT = 'no answer before the approval timeout';

class RuleOfTwoGuard implements Guard {
  readonly policy: Policy;
  readonly #sessions: SessionStore;
  readonly #approvals: ApprovalStore;
  readonly #audit: AuditLog;
  readonly #approver: Approver | undefined;
  readonly approvalTimeoutMs: number;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #onError: (error: unknown, where: string) => void;
  readonly #options: GuardOptions;
  readonly #memory: GuardMemory;
  readonly #indexes: Map<string, MemoryProvenanceIndex>;
  /** Refusals the store failed to take, by request id (see `#keepRefusing`). */
  readonly #unclosed: Map<string, Unclosed>;
  /** Labels of the `ask` decisions made here whose requests are still open, by request id (see `giveUp`). */
  readonly #asked: Map<string, AskedLabels>;
  readonly #indexLimits: Partial<ProvenanceLimits>;
  readonly #maxIndexed: number;
  readonly #tracesProvenance: boolean;
  readonly #allowances: GuardMemory['allowances'];
  /** This guard among others on the same store (other processes, or a restart), for `SessionState.indexedBy`. */
  readonly #instance: string;

  constructor(policy: Policy, options: GuardOptions, memory: GuardMemory) {
    this.policy = policy;
    this.#options = options;
    this.#memory = memory;
    ({
      indexes: this.#indexes,
      unclosed: this.#unclosed,
      asked: this.#asked,
      allowances: this.#allowances,
      instance: this.#instance,
    } = memory);
    this.#sessions = options.sessions ?? new MemorySessionStore();
    this.#approvals = options.approvals ?? new MemoryApprovalStore();
    this.#audit = options.audit ?? new MemoryAuditLog();
    this.#approver = options.approver;
    this.approvalTimeoutMs = options.approvalTimeoutMs ?? policy.approvalTtlMs;
    // INVARIANT: an approver is waited for as long as asked; a timer cut to 1 ms would deny every approval
    // (test/guard/bad-input.test.ts "refuses an approval timeout a timer cannot hold").
    if (parseDuration(this.approvalTimeoutMs) === undefined) {
      throw new ConfigError(
        `approvalTimeoutMs must be a number of milliseconds from 1 to ${MAX_DURATION_MS}, got ${this.approvalTimeoutMs}`,
      );
    }
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#onError = options.onError ?? (() => {});
    this.#indexLimits = options.provenanceLimits ?? {};
    this.#maxIndexed = options.maxIndexedSessions ?? 1000;
    // Indexing costs time on every output; a policy without provenance or URL-origin controls needs none.
    this.#tracesProvenance =
      policy.consequential !== undefined ||
      policy.profiles.some((p) =>
        p.controls.some((c) => c.untrusted !== 'off' || c.sensitive !== 'off' || c.url?.fromTrusted),
      );
  }

  /** A fresh index for a session this guard opened: it knows the session's whole history. */
  #newIndex(id: string, request: unknown, input: InputTrust): void {
    if (!this.#tracesProvenance) return;
    const index = new MemoryProvenanceIndex(this.#indexLimits);
    index.addTrusted(this.policy.constants);
    if (request !== undefined) indexRequest(index, request, input, 0);
    this.#remember(id, index);
  }

  #remember(id: string, index: MemoryProvenanceIndex): void {
    this.#indexes.delete(id);
    this.#indexes.set(id, index);
    if (this.#indexes.size > this.#maxIndexed) {
      const oldest = this.#indexes.keys().next().value;
      if (oldest !== undefined) this.#indexes.delete(oldest);
    }
  }

  /**
   * The index of a session. A session this process did not open (after a restart, on another replica, or forgotten
   * by the LRU) gets an index that starts out having lost the data legs the session holds (`held`: what every output
   * it recorded brought, and more), so its arguments may carry them: their provenance is unknown.
   */
  #index(id: string, held: LegMask): MemoryProvenanceIndex | undefined {
    if (!this.#tracesProvenance) return undefined;
    const index = this.#indexes.get(id);
    if (index) {
      this.#remember(id, index);
      return index;
    }
    // INVARIANT: a missing index fails closed (test/guard/provenance.test.ts "restart fails closed").
    const unknown = new MemoryProvenanceIndex(this.#indexLimits, held & (LEG_A | LEG_B));
    unknown.addTrusted(this.policy.constants);
    this.#remember(id, unknown);
    return unknown;
  }

  /**
   * The index of a session, made to account for every output the session recorded. A guard not in the state's
   * `indexedBy` may have missed outputs that another process sharing the store recorded, so its index loses the data
   * legs the session holds (every output's legs are among them).
   */
  #syncedIndex(state: SessionState): MemoryProvenanceIndex | undefined {
    const index = this.#index(state.id, effectiveLegs(state));
    // INVARIANT: an index that may lack another process's outputs counts their legs as lost, it never passes a value
    // from them (test/store/replicas.test.ts "a replica whose index missed an output recorded by another process").
    if (index && !state.indexedBy?.includes(this.#instance)) index.lose(state.held & (LEG_A | LEG_B));
    return index;
  }

  /**
   * `state` with this guard among those whose index accounts for the session's outputs (after `#syncedIndex`). An
   * output with data recorded here leaves this guard the only one: every other index lacks it.
   */
  #indexedHere(state: SessionState, recordedData: boolean): SessionState {
    if (!this.#tracesProvenance) return recordedData && state.indexedBy?.length ? { ...state, indexedBy: [] } : state;
    if (!recordedData && state.indexedBy?.includes(this.#instance)) return state;
    // A guard pushed out of a long list only loses the session's data legs again: bounded, and fail closed.
    const others = recordedData ? [] : (state.indexedBy ?? []).slice(1 - MAX_INDEXERS);
    return { ...state, indexedBy: [...others, this.#instance] };
  }

  /**
   * Indexes the request of a later turn of an existing session as the first turn's is (see `#newIndex`), and returns
   * the state to store: an untrusted request is data the other processes' indexes lack. A turn that does not say
   * where its request comes from (`input` undefined) keeps the input the session was opened with. Indexing twice,
   * when the store retries the update, only repeats a value.
   */
  #indexTurn(state: SessionState, input: InputTrust | undefined, request: unknown): SessionState | undefined {
    if (request === undefined || !this.#tracesProvenance) return undefined;
    const trust = input ?? (state.evidence.some((e) => e.source === 'input') ? 'untrusted' : this.policy.input);
    // INVARIANT: a later turn's request counts as the first turn's: an untrusted one is flagged, here and in every
    // other process (test/guard/session-reopen.test.ts "reopening a session with a request").
    indexRequest(this.#syncedIndex(state) as MemoryProvenanceIndex, request, trust, state.seq);
    return trust === 'trusted' ? undefined : this.#indexedHere(state, true);
  }

  async session(id: string, options: SessionOptions = {}): Promise<Session> {
    if (typeof id !== 'string' || id === '') throw new ConfigError('a session needs a non-empty id');
    const configuration = options.configuration ?? this.policy.configuration;
    const input = options.input ?? this.policy.input;
    const created = await this.#sessions.transact(id, (state) => {
      if (state) {
        if (options.configuration !== undefined && state.configuration !== options.configuration) {
          throw new ConfigError(`session \`${id}\` exists with configuration ${state.configuration}`);
        }
        // INVARIANT: untrusted input is never silently dropped (test/guard/session-reopen.test.ts).
        if (options.input === 'untrusted' && !(state.held & LEG_A)) {
          throw new ConfigError(`session \`${id}\` exists with trusted input; its input cannot become untrusted`);
        }
        const turn = this.#indexTurn(state, options.input, options.request);
        return turn ? { state: turn, result: undefined } : { result: undefined };
      }
      const fresh = newSessionState({ id, configuration, input, now: this.#now() });
      if (configuration !== 'dynamic' && input === 'untrusted' && !configuration.includes('A')) {
        throw new ConfigError(`configuration ${configuration} excludes A, so the session's input must be trusted`);
      }
      return { state: this.#indexedHere(fresh, true), result: fresh };
    });
    if (created) {
      this.#newIndex(id, options.request, input);
      await this.#append({
        type: 'session.open',
        at: this.#now(),
        sessionId: id,
        configuration,
        input,
        legs: formatLegs(created.held),
      });
    }
    return this.#handle(id);
  }

  async check(sessionId: string, call: ToolCall, options: { receipt?: ApprovalReceipt } = {}): Promise<Decision> {
    const now = this.#now();
    let decision: Decision;
    try {
      decision = await this.#decide(sessionId, call, options.receipt, now);
    } catch (error) {
      this.#onError(error, 'session store');
      decision = {
        ...errorDecision(this.policy, undefined, call, 'store_error', `session store failed: ${errorMessage(error)}`),
        sessionId,
      };
    }
    if (decision.approval) {
      try {
        await this.#approvals.create(decision.approval);
      } catch (error) {
        this.#onError(error, 'approval store');
        decision = denyWith(decision, 'store_error', `approval store failed: ${errorMessage(error)}`);
      }
    }
    const audited = await this.#audited(decision);
    if (audited.effect === 'ask' && audited.approval) this.#rememberAsk(audited, audited.approval);
    return audited;
  }

  /**
   * Keeps what an `ask` decision has and its approval request lacks (the tool's labels, the provenance findings), so
   * that `giveUp` denies with the decision `authorize` would have. Bounded: the oldest is forgotten first.
   */
  #rememberAsk(decision: Decision, request: ApprovalRequest): void {
    const asked: AskedLabels = { hash: request.hash };
    if (decision.call) asked.call = decision.call;
    if (decision.provenance) asked.provenance = decision.provenance;
    this.#asked.set(request.id, asked);
    if (this.#asked.size > MAX_OPEN_ASKS) this.#asked.delete(this.#asked.keys().next().value as string);
  }

  async #decide(
    sessionId: string,
    call: ToolCall,
    receipt: ApprovalReceipt | undefined,
    now: number,
  ): Promise<Decision> {
    let approved: Decision['approval'];
    if (receipt) {
      const consumed = this.#unclosed.has(receipt.requestId)
        ? ({ ok: false, failure: 'refused' } as const)
        : await this.#approvals.consume(receipt, now);
      if (!consumed.ok) {
        const state = await this.#sessions.get(sessionId);
        const message = `approval receipt \`${receipt.requestId}\` cannot be used: ${consumed.failure}`;
        return { ...errorDecision(this.policy, state, call, 'receipt_invalid', message), sessionId };
      }
      approved = consumed.record.request;
    }
    return this.#sessions.transact(sessionId, (state) => {
      if (!state) {
        const decision = errorDecision(
          this.policy,
          undefined,
          call,
          'unknown_session',
          `unknown session \`${sessionId}\``,
        );
        return { result: { ...decision, sessionId } };
      }
      const index = this.#syncedIndex(state);
      const context = {
        now,
        newId: this.#newId,
        sha256: nativeSha256,
        ...(approved ? { approved } : {}),
        ...(index ? { provenance: index } : {}),
      };
      const outcome = decide(this.policy, state, call, context);
      return { state: this.#indexedHere(outcome.state, false), result: outcome.decision };
    });
  }

  /** Writes the decision to the audit log; a decision that cannot be audited is not released. */
  async #audited(decision: Decision): Promise<Decision> {
    try {
      const at = this.#now();
      await this.#audit.append({ type: 'decision', at, decision });
      if (decision.approval && decision.effect === 'ask') {
        await this.#audit.append({ type: 'approval.request', at, request: decision.approval });
      }
      return decision;
    } catch (error) {
      // INVARIANT: nothing is released that the log does not hold (test/guard/guard.test.ts "audit failure denies").
      this.#onError(error, 'audit log');
      if (decision.effect === 'ask' && decision.approval) {
        // The request is already stored: close it, so an approval the log never saw cannot authorize the call.
        await this.answer(decision.approval.id, { approved: false, by: 'ruleoftwo', reason: 'audit log failed' }).catch(
          (closeError: unknown) => this.#onError(closeError, 'approval store'),
        );
      }
      return denyWith(decision, 'audit_error', `audit log failed: ${errorMessage(error)}`);
    }
  }

  async authorize(sessionId: string, call: ToolCall): Promise<Decision> {
    const decision = await this.check(sessionId, call);
    if (decision.effect !== 'ask' || !decision.approval) return decision;
    const request = decision.approval;
    if (!this.#approver) {
      const message = `no approval channel answered; \`${call.tool}\` was not run`;
      return this.#givenUp(denyWith(decision, 'no_approver', message));
    }
    let answer: ApprovalAnswer;
    try {
      answer = await this.#ask(request);
    } catch (error) {
      return this.#unanswered(decision, error);
    }
    const receipt = await this.answer(request.id, answer).catch((error: unknown) => {
      this.#onError(error, 'approval store');
      return undefined;
    });
    if (!receipt) {
      const why = answer.approved ? 'the approval could not be recorded in time' : 'a person declined the call';
      return this.#audited(denyWith(decision, 'approval_denied', why + (answer.reason ? `: ${answer.reason}` : '')));
    }
    return this.check(sessionId, call, { receipt });
  }

  async giveUp(request: ApprovalRequest, failure: unknown): Promise<Decision> {
    // The `ask` decision the request was made with. The request does not keep the tool's labels (`call`) nor the
    // provenance findings: this guard remembers them for the requests it made. A request made by another process, or
    // forgotten, is denied without them (its `ask` decision in the log has them).
    const remembered = this.#asked.get(request.id);
    this.#asked.delete(request.id);
    const labels = remembered?.hash === request.hash ? remembered : undefined;
    // INVARIANT: a give-up is audited with the decision `authorize` audits on a timeout or approver failure, labels
    // and provenance included (test/guard/give-up.test.ts; the SDK path: test/adapters/claude-agent-sdk.test.ts).
    const asked = inDecisionOrder({
      effect: 'ask',
      sessionId: request.sessionId,
      callId: request.callId,
      tool: request.tool,
      seq: request.seq,
      policyVersion: request.policyVersion,
      call: labels?.call,
      legsBefore: request.legsBefore,
      legsAfter: request.legsBefore,
      reasons: request.reasons,
      evidence: request.evidence,
      provenance: labels?.provenance,
      approval: request,
    });
    return this.#unanswered(asked, failure);
  }

  /** Denies an `ask` whose approver timed out or failed, with the reason `authorize` gives. */
  #unanswered(decision: Decision, failure: unknown): Promise<Decision> {
    const timeout = failure instanceof ApprovalTimeout;
    if (!timeout) this.#onError(failure, 'approver');
    const code = timeout ? 'approval_timeout' : 'approver_error';
    const message = timeout ? APPROVAL_TIMEOUT_TEXT : `approver failed: ${errorMessage(failure)}`;
    return this.#givenUp(denyWith(decision, code, message));
  }

  /**
   * Denies a call whose approval request got no answer, and closes the request: the model was told the call was not
   * run, so a yes that comes later (a hung hook, a person at the console) must not make a receipt for it.
   */
  async #givenUp(denied: Decision): Promise<Decision> {
    const request = denied.approval as ApprovalRequest;
    const reason = denied.reasons.at(-1)?.message ?? 'no answer';
    // INVARIANT: a request the guard gave up on cannot be approved afterwards (test/guard/late-answers.test.ts), even
    // when the store failed to close it (see `#keepRefusing`).
    await this.answer(request.id, { approved: false, by: 'ruleoftwo', reason }).catch((error: unknown) => {
      this.#onError(error, 'approval store');
    });
    return this.#audited(denied);
  }

  /**
   * Keeps a refusal the store failed to take (another process held the lock). The request would stay pending there,
   * and a later yes would make a receipt for a call that was refused. So until the store takes the refusal, this guard
   * answers the request with it whatever the answer, refuses its receipt, and retries it, backing off, for as long as
   * the request can be open (the policy's approval TTL; no store gives a receipt for an expired request).
   */
  #keepRefusing(requestId: string, refusal: ApprovalAnswer): void {
    if (this.#unclosed.has(requestId)) return;
    // INVARIANT: a refusal the store failed to take still holds in this guard and is retried until it is taken
    // (test/guard/late-answers.test.ts "gave up on but could not close"; a real second process holding the lock:
    // test/store/replicas.test.ts "given up on while another process holds the lock").
    this.#unclosed.set(requestId, { refusal, until: this.#now() + this.policy.approvalTtlMs, attempt: 0 });
    this.#retryRefusal(requestId);
  }

  /** Schedules the next attempt to give the store a refusal it failed to take. */
  #retryRefusal(requestId: string): void {
    const unclosed = this.#unclosed.get(requestId);
    if (!unclosed) return;
    const delay = Math.min(REFUSAL_RETRY_MAX_MS, REFUSAL_RETRY_MS * 2 ** unclosed.attempt++);
    unclosed.timer = setTimeout(async () => {
      try {
        await this.answer(requestId, unclosed.refusal);
      } catch (error) {
        if (this.#unclosed.get(requestId) !== unclosed) return;
        if (this.#now() > unclosed.until) this.#unclosed.delete(requestId);
        else this.#onError(error, 'approval store');
        this.#retryRefusal(requestId);
      }
    }, delay);
    // A retry alone does not keep a process alive.
    unclosed.timer.unref?.();
  }

  async #ask(request: NonNullable<Decision['approval']>): Promise<ApprovalAnswer> {
    const raw = await askApprover(this.#approver as Approver, request, this.approvalTimeoutMs);
    if (typeof raw === 'boolean') return { approved: raw };
    if (raw === null || typeof raw !== 'object' || typeof raw.approved !== 'boolean') {
      throw new Error('approver returned neither a boolean nor {approved}');
    }
    return raw;
  }

  async answer(requestId: string, given: ApprovalAnswer): Promise<ApprovalReceipt | undefined> {
    // A request whose refusal the store failed to take is answered with that refusal, whatever the answer.
    const unclosed = this.#unclosed.get(requestId);
    const answer = unclosed?.refusal ?? given;
    let answered: AnswerOutcome | undefined;
    let withdrawn = false;
    try {
      answered = await this.#approvals.answer(requestId, answer, this.#now());
      const record = answered?.record;
      // INVARIANT: a no never yields a receipt; one that comes after another channel's yes (a shared store) spends
      // that approval, so the call its person refused does not run (test/guard/answers-review.test.ts).
      if (record?.status === 'approved' && record.usedAt === undefined && answer.approved !== true) {
        withdrawn = true;
        await this.#approvals.consume({ requestId, hash: record.request.hash }, this.#now());
      }
    } catch (error) {
      if (answer.approved !== true) this.#keepRefusing(requestId, answer);
      throw error;
    }
    // Closed, or its approval spent: the refusal is kept by the store now.
    if (unclosed) {
      clearTimeout(unclosed.timer);
      this.#unclosed.delete(requestId);
    }
    if (!answered) return undefined;
    // Answered: no longer open, so `giveUp` will not be asked for it.
    this.#asked.delete(requestId);
    const { record } = answered;
    const unused =
      record.status === 'approved' && record.usedAt === undefined
        ? { requestId, hash: record.request.hash }
        : undefined;
    const receipt = answer.approved === true ? unused : undefined;
    // INVARIANT: an `approval.answer` record is a change of the request: an answer that changed nothing (a late,
    // repeated or replayed one) writes none, so each request has one, naming who closed it
    // (test/guard/late-answers.test.ts "an answer that changes nothing").
    if (!answered.changed && !withdrawn) return receipt;
    const event: AuditEvent = {
      type: 'approval.answer',
      at: this.#now(),
      requestId,
      sessionId: record.request.sessionId,
      status: record.status,
    };
    if (record.by !== undefined) event.by = record.by;
    if (record.reason !== undefined) event.reason = record.reason;
    if (withdrawn)
      event.reason = `approval withdrawn by a refusal${answer.by === undefined ? '' : ` from ${answer.by}`}`;
    try {
      await this.#append(event);
    } catch (error) {
      // INVARIANT: an approval the audit log does not hold is never usable; its receipt is spent here
      // (test/guard/guard.test.ts "an approval the audit log could not hold cannot be used").
      if (receipt) await this.#approvals.consume(receipt, this.#now()).catch(() => undefined);
      throw error;
    }
    return receipt;
  }

  async approvalFor(sessionId: string, callId: string): Promise<ApprovalRecord | undefined> {
    const records = await this.#approvals.list({ sessionId });
    let latest: ApprovalRecord | undefined;
    for (const record of records) {
      if (record.request.callId !== callId) continue;
      if (!latest || record.request.seq > latest.request.seq) latest = record;
    }
    return latest;
  }

  async allowLineage(allow: LineageAllow): Promise<void> {
    if ((allow.author === undefined) === (allow.item === undefined))
      throw new ConfigError('a lineage allowance names exactly one of an author or an item');
    const event: AuditEvent = { type: 'lineage.allow', at: this.#now() };
    for (const key of ['author', 'item', 'by', 'reason'] as const)
      if (allow[key] !== undefined) event[key] = allow[key];
    // Audited first: an allowance the log does not hold is not granted.
    await this.#append(event);
    if (allow.author !== undefined) this.#allowances.authors.add(allow.author);
    if (allow.item !== undefined) this.#allowances.items.add(allow.item);
  }

  async record(sessionId: string, callId: string, output: unknown): Promise<RecordOutcome> {
    let outcome: RecordOutcome;
    try {
      const committed = await this.#sessions.transact<{ outcome: RecordOutcome; seq: number }>(sessionId, (state) => {
        if (!state) {
          const message = `unknown session \`${sessionId}\``;
          return { result: { outcome: { ok: false, code: 'unknown_session', message }, seq: 0 } };
        }
        const recorded = recordResult(this.policy, state, callId, output, this.#allowances);
        if (!recorded.ok) {
          return { result: { outcome: { ok: false, code: recorded.code, message: recorded.message }, seq: 0 } };
        }
        const { tool, brought, legsAfter, note } = recorded;
        const result: RecordOutcome = { ok: true, tool, brought, legsAfter, output: recorded.output };
        if (note !== undefined) result.note = note;
        // What other processes recorded is lost here before this output is indexed, which only this index holds.
        this.#syncedIndex(state);
        const data = ((parseLegs(brought) ?? LEG_A | LEG_B) & (LEG_A | LEG_B)) !== 0;
        const next = this.#indexedHere(recorded.state, data);
        return { state: next, result: { outcome: result, seq: recorded.state.seq } };
      });
      outcome = committed.outcome;
      if (outcome.ok) {
        // What the model sees is indexed with the labels it brought.
        const labels = parseLegs(outcome.brought) ?? LEG_A | LEG_B;
        const index = this.#index(sessionId, parseLegs(outcome.legsAfter) ?? LEG_A | LEG_B);
        try {
          index?.addOutput({ seq: committed.seq, callId, tool: outcome.tool }, labels, outcome.output);
        } catch (error) {
          // INVARIANT: an output that could not be indexed flags like an evicted one
          // (test/guard/provenance.test.ts "unindexable output fails closed").
          index?.lose(labels);
          this.#onError(error, 'provenance index');
        }
      }
    } catch (error) {
      this.#onError(error, 'session store');
      return { ok: false, code: 'store_error', message: `session store failed: ${errorMessage(error)}` };
    }
    const at = this.#now();
    const event: AuditEvent = outcome.ok
      ? {
          type: 'result',
          at,
          sessionId,
          callId,
          tool: outcome.tool,
          brought: outcome.brought,
          legsAfter: outcome.legsAfter,
          bytes: byteSize(output),
          ...(outcome.note === undefined ? {} : { note: outcome.note }),
        }
      : { type: 'result.ignored', at, sessionId, callId, reason: outcome.message };
    try {
      await this.#audit.append(event);
    } catch (error) {
      this.#onError(error, 'audit log');
      return { ok: false, code: 'audit_error', message: `audit log failed: ${errorMessage(error)}` };
    }
    return outcome;
  }

  async drop(sessionId: string, leg: Leg, reason?: string): Promise<DropOutcome> {
    const outcome = await this.#sessions.transact(sessionId, (state): { state?: SessionState; result: DropOutcome } => {
      if (!state)
        return { result: { ok: false, code: 'unknown_session', message: `unknown session \`${sessionId}\`` } };
      const dropped = dropLeg(state, leg, reason);
      if (!dropped.ok) return { result: { ok: false, code: dropped.code, message: dropped.message } };
      const result = {
        ok: true as const,
        legs: formatLegs(effectiveLegs(dropped.state)),
        dropped: formatLegs(dropped.state.dropped),
      };
      return { state: dropped.state, result };
    });
    if (outcome.ok) {
      await this.#append({
        type: 'transition',
        at: this.#now(),
        sessionId,
        kind: 'drop',
        detail: { leg, reason: reason ?? null },
      });
    }
    return outcome;
  }

  async fork(sessionId: string, options: ForkOptions = {}): Promise<Session> {
    const parent = await this.#sessions.get(sessionId);
    if (!parent) throw new ConfigError(`unknown session \`${sessionId}\``);
    const childId = options.id ?? this.#newId();
    const forked = forkSession(parent, {
      childId,
      now: this.#now(),
      ...(options.configuration === undefined ? {} : { configuration: options.configuration }),
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.carry === undefined ? {} : { carry: options.carry }),
    });
    if (!forked.ok) throw new ConfigError(forked.message);
    await this.#sessions.transact(childId, (existing) => {
      if (existing) throw new ConfigError(`session \`${childId}\` already exists`);
      return { state: this.#indexedHere(forked.state, true), result: undefined };
    });
    // INVARIANT: a child's request is indexed by the child's input, as in `session()`: an untrusted one is flagged
    // (test/guard/transitions-review.test.ts "an untrusted request handed to a forked child").
    this.#newIndex(childId, options.request, options.input ?? 'trusted');
    const childIndex = this.#indexes.get(childId);
    const parentData = effectiveLegs(parent) & (LEG_A | LEG_B);
    for (const value of options.carry ?? []) {
      // Labels as forkSession gave them (it validated them); a declassified value loses A.
      const carried = value.legs === undefined ? parentData : (parseLegs(value.legs) ?? LEG_A | LEG_B);
      const legs = value.declassify === undefined ? carried : carried & ~LEG_A;
      childIndex?.addOutput({ seq: 0, callId: `carry:${value.name}`, tool: `fork of ${sessionId}` }, legs, value.value);
    }
    const carried = (options.carry ?? []).map((c) => ({
      name: c.name,
      legs: c.legs ?? null,
      declassified: c.declassify !== undefined,
    }));
    await this.#append({
      type: 'transition',
      at: this.#now(),
      sessionId,
      kind: 'fork',
      detail: { child: childId, carried, legs: forked.carried },
    });
    return this.#handle(childId);
  }

  wrap<A, R>(name: string, fn: (args: A) => R | Promise<R>): GuardedTool<A, R> {
    return async (args, context) => {
      const sessionId = typeof context?.session === 'string' ? context.session : context?.session?.id;
      const callId = context?.callId ?? this.#newId();
      if (typeof sessionId !== 'string' || sessionId === '') {
        // INVARIANT: a missing session denies, it never skips the check (test/guard/guard.test.ts "wraps a plain
        // function and refuses a call without a session").
        throw new CallDeniedError(
          errorDecision(
            this.policy,
            undefined,
            { id: callId, tool: name },
            'unknown_session',
            'a guarded call needs a session',
          ),
        );
      }
      let checked: A;
      try {
        // INVARIANT: the tool runs with a copy taken before the check, which nothing else holds: neither the caller
        // changing its object meanwhile nor a getter answering differently later reaches it
        // (test/guard/wrap-args.test.ts).
        checked = copyArguments(args);
      } catch (error) {
        const message = `arguments that cannot be copied: ${errorMessage(error)}`;
        throw new CallDeniedError(
          errorDecision(this.policy, undefined, { id: callId, tool: name }, 'invalid_call', message),
        );
      }
      const call = { id: callId, tool: name, args: checked };
      const decision = await this.authorize(sessionId, call);
      if (decision.effect !== 'allow') throw new CallDeniedError(decision);
      let output: R;
      try {
        output = await fn(checked);
      } catch (error) {
        // The error text enters the agent's context like an output would: commit what was reserved.
        // INVARIANT: the text reaches the agent only when its legs were recorded (test/guard/guard.test.ts "withholds
        // the error of a wrapped tool").
        const recorded = await this.record(sessionId, callId, { error: errorMessage(error) });
        if (!recorded.ok) throw new Error(`ruleoftwo could not record \`${name}\`: ${recorded.message}`);
        throw error;
      }
      const recorded = await this.record(sessionId, callId, output);
      if (!recorded.ok) throw new Error(`ruleoftwo could not record \`${name}\`: ${recorded.message}`);
      // Lineage may have removed items by untrusted authors: the model gets what was recorded.
      return recorded.output as R;
    };
  }

  async view(sessionId: string): Promise<SessionView | undefined> {
    const state = await this.#sessions.get(sessionId);
    if (!state) return undefined;
    const view: SessionView = {
      id: state.id,
      configuration: state.configuration,
      legs: formatLegs(effectiveLegs(state)),
      held: formatLegs(state.held),
      reserved: formatLegs(reservedLegs(state)),
      dropped: formatLegs(state.dropped),
      seq: state.seq,
      pending: state.pending.map((p) => ({ callId: p.callId, tool: p.tool, post: formatLegs(p.post) })),
      evidence: state.evidence,
    };
    if (state.parent !== undefined) view.parent = state.parent;
    // Read without creating: a view must not stand in for the session's own index.
    const index = this.#indexes.get(sessionId);
    if (index) view.provenance = index.stats();
    return view;
  }

  withPolicy(policy: Policy | PolicyDocument): Guard {
    // INVARIANT: a guard for a new policy keeps its sessions' provenance (test/mcp/results.test.ts "that changes
    // labels").
    return new RuleOfTwoGuard(guardPolicy(policy), { ...this.#options, policy }, this.#memory);
  }

  async close(): Promise<void> {
    this.#indexes.clear();
    for (const unclosed of this.#unclosed.values()) clearTimeout(unclosed.timer);
    this.#unclosed.clear();
    await Promise.all([this.#sessions.close(), this.#approvals.close(), this.#audit.close()]);
  }

  async #append(event: AuditEvent): Promise<void> {
    try {
      await this.#audit.append(event);
    } catch (error) {
      this.#onError(error, 'audit log');
      throw error;
    }
  }

  #handle(id: string): Session {
    return {
      id,
      check: (call, options) => this.check(id, call, options),
      authorize: (call) => this.authorize(id, call),
      record: (callId, output) => this.record(id, callId, output),
      approvalFor: (callId) => this.approvalFor(id, callId),
      drop: (leg, reason) => this.drop(id, leg, reason),
      fork: (options) => this.fork(id, options),
      wrap: (name, fn) => {
        const guarded = this.wrap(name, fn);
        return (args) => guarded(args, { session: id });
      },
      view: () => this.view(id),
    };
  }
}

/** Indexes a session's request: trusted input vouches for its values, an untrusted one is a source of A at `seq`. */
function indexRequest(index: MemoryProvenanceIndex, request: unknown, input: InputTrust, seq: number): void {
  if (input === 'trusted') index.addTrusted(request);
  else index.addOutput({ seq, callId: 'request', tool: 'request' }, LEG_A, request);
}

function byteSize(output: unknown): number {
  try {
    // Counted without encoding: every recorded call pays for this.
    return Buffer.byteLength(typeof output === 'string' ? output : (JSON.stringify(output) ?? ''));
  } catch {
    return -1;
  }
}
