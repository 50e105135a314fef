import type { ProvenanceFinding } from './controls.ts';
import type { Evidence } from './state.ts';

/** The outcome of a decision. */
export type Effect = 'allow' | 'deny' | 'ask';

/** Why a decision came out as it did; codes are stable snake_case. */
export type ReasonCode =
  | 'allowed'
  | 'approved'
  | 'leg_dropped'
  | 'configuration_excludes_leg'
  | 'lethal_trifecta'
  | 'tool_is_trifecta'
  | 'unknown_tool'
  | 'tool_quarantined'
  | 'unknown_session'
  | 'duplicate_call_id'
  | 'invalid_call'
  | 'receipt_invalid'
  | 'no_approver'
  | 'approval_denied'
  | 'approval_timeout'
  | 'approver_error'
  | 'store_error'
  | 'audit_error'
  | 'engine_error'
  | 'argument_from_untrusted_output'
  | 'argument_carries_sensitive_value'
  | 'provenance_unknown'
  | 'url_invalid'
  | 'url_host_denied'
  | 'url_not_from_trusted_source';

/** One reason behind a decision. */
export interface Reason {
  code: ReasonCode;
  /**
   * The rule of the decision rule (ARCHITECTURE.md) it comes from; 0 for errors and approvals, 6 for argument-level
   * controls (provenance, URLs), which only add restrictions.
   */
  rule: 0 | 1 | 2 | 3 | 4 | 5 | 6;
  message: string;
}

/** The call as a decision saw it. */
export interface DecidedCall {
  /** The policy entry that labelled the tool: a name, a glob, or `*unknown*`. */
  profile: string;
  /** Which part of the entry chose the legs: `base` or `when[i]`. */
  source: string;
  /** Legs conferred by the call (B, C). */
  pre: string;
  /** Legs its output may bring (A, B), reserved when allowed. */
  post: string;
}

/** A pending approval: bound to one exact call in one session state under one policy version. */
export interface ApprovalRequest {
  id: string;
  /** Canonical hash of (session, seq, tool, arguments, policy version). */
  hash: string;
  sessionId: string;
  seq: number;
  callId: string;
  tool: string;
  args: unknown;
  policyVersion: string;
  createdAt: number;
  expiresAt: number;
  legsBefore: string;
  /** Legs the session would hold if the call ran. */
  legsIfApproved: string;
  reasons: Reason[];
  evidence: Evidence[];
}

/** A decision as data: effect, legs before and after, the reasons and the events behind them. */
export interface Decision {
  effect: Effect;
  sessionId: string;
  callId: string;
  tool: string;
  /** Sequence number of this decision in its session (0 when the session was not found). */
  seq: number;
  policyVersion: string;
  call?: DecidedCall;
  legsBefore: string;
  legsAfter: string;
  reasons: Reason[];
  evidence: Evidence[];
  /** Which argument carries which source's value (only arguments under a provenance control are traced). */
  provenance?: ProvenanceFinding[];
  approval?: ApprovalRequest;
}

/** What {@link inDecisionOrder} writes: a decision, with its optional parts given as possibly undefined. */
export type DecisionParts = Omit<Decision, 'call' | 'provenance' | 'approval'> & {
  call?: DecidedCall | undefined;
  provenance?: ProvenanceFinding[] | undefined;
  approval?: ApprovalRequest | undefined;
};

/**
 * A decision with its keys in the one order decisions are written in (the audit log and `--json` output keep insertion
 * order): the call and its session, the legs before and the events behind them, the findings, then the outcome. The
 * reasons stand before the effect on an allow, as they always have; an approval request is last, so `decide` can add
 * it afterwards (it quotes the decision's reasons).
 */
export function inDecisionOrder(parts: DecisionParts): Decision {
  const decision = {
    sessionId: parts.sessionId,
    callId: parts.callId,
    tool: parts.tool,
    seq: parts.seq,
    policyVersion: parts.policyVersion,
  } as Decision;
  if (parts.call) decision.call = parts.call;
  decision.legsBefore = parts.legsBefore;
  decision.evidence = parts.evidence;
  if (parts.provenance) decision.provenance = parts.provenance;
  if (parts.effect === 'allow') decision.reasons = parts.reasons;
  decision.effect = parts.effect;
  decision.legsAfter = parts.legsAfter;
  decision.reasons = parts.reasons;
  if (parts.approval) decision.approval = parts.approval;
  return decision;
}
