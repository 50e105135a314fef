import { approvalHash, receiptMismatch, type Sha256 } from './approval.ts';
import { evaluateControls } from './controls.ts';
import { type ApprovalRequest, type Decision, type Effect, inDecisionOrder, type Reason } from './decision.ts';
import { formatLegs, LEG_A, LEG_B, LEG_C, type LegMask, legList } from './legs.ts';
import { argumentFault } from './nesting.ts';
import { configurationMask, type Policy } from './policy.ts';
import type { ProvenanceReader } from './provenance.ts';
import { addEvidence, effectiveLegs, evidenceFor, type SessionState } from './state.ts';

/** A tool call as the engine sees it. */
export interface ToolCall {
  id: string;
  tool: string;
  args?: unknown;
}

/** Injected context of a decision: the clock, an id source, and an approval already consumed by the store. */
export interface DecideContext {
  now: number;
  /** Mints approval request ids (random, injected so the core stays pure). */
  newId: () => string;
  /** An approved request whose single-use receipt the caller consumed for this call. */
  approved?: ApprovalRequest;
  /** SHA-256 for approval hashes; defaults to a pure-JS implementation, hosts inject a native one. */
  sha256?: Sha256;
  /**
   * The session's provenance index, read-only. Absent: every argument under a provenance control has unknown
   * provenance and violates it (fail closed).
   */
  provenance?: ProvenanceReader;
}

/** A decision and the session state after it. */
export interface DecideOutcome {
  decision: Decision;
  state: SessionState;
}

/** The legs a session may still hold: its configuration, opened to the third leg once a drop has happened. */
export function allowedLegs(state: SessionState): LegMask {
  const base = state.dropped ? 7 : configurationMask(state.configuration);
  return base & ~state.dropped;
}

/**
 * Decides a call (rules 1-5 of ARCHITECTURE.md). Pure: returns the decision and the next state; on allow the call's
 * legs are reserved in that state, so the caller must commit it atomically with the decision.
 */
export function decide(policy: Policy, state: SessionState, call: ToolCall, context: DecideContext): DecideOutcome {
  try {
    return decideUnsafe(policy, state, call, context);
  } catch (error) {
    // INVARIANT: any error while deciding denies (test/core/faults.test.ts; test/core/rules.test.ts "denies a gated
    // call whose arguments are not JSON").
    const message = error instanceof Error ? error.message : String(error);
    return { decision: errorDecision(policy, state, call, 'engine_error', `engine error: ${message}`), state };
  }
}

/** A deny for a call that could not be decided; the state is not changed. */
export function errorDecision(
  policy: Policy,
  state: SessionState | undefined,
  call: Partial<ToolCall>,
  code: Reason['code'],
  message: string,
): Decision {
  const legs = state ? formatLegs(effectiveLegs(state)) : '';
  return {
    effect: 'deny',
    sessionId: state?.id ?? '',
    callId: typeof call.id === 'string' ? call.id : '',
    tool: typeof call.tool === 'string' ? call.tool : '',
    seq: state?.seq ?? 0,
    policyVersion: policy.version,
    legsBefore: legs,
    legsAfter: legs,
    reasons: [{ code, rule: 0, message }],
    evidence: [],
  };
}

function decideUnsafe(policy: Policy, state: SessionState, call: ToolCall, context: DecideContext): DecideOutcome {
  if (typeof call.id !== 'string' || call.id === '' || typeof call.tool !== 'string' || call.tool === '') {
    return {
      decision: errorDecision(policy, state, call, 'invalid_call', 'a call needs a non-empty id and tool'),
      state,
    };
  }
  // INVARIANT: arguments nested deeper than the controls walk are denied on every tool, not only on those with
  // controls: nothing downstream could write them (test/core/bad-input.test.ts).
  const fault = argumentFault(call.args, MAX_ARGUMENT_DEPTH);
  if (fault?.kind === 'deep') throw new Error(`arguments nest deeper than ${MAX_ARGUMENT_DEPTH} levels`);
  // INVARIANT: a call whose arguments hold NaN or ±Infinity is denied on every tool: conditions would decide on a
  // value the tool never gets, as JSON writes it `null` (test/core/bad-input.test.ts, test/mcp/numbers.test.ts).
  if (fault) {
    const message = `argument \`${fault.path}\` is \`${fault.value}\`, a number JSON cannot carry`;
    return { decision: errorDecision(policy, state, call, 'invalid_call', message), state };
  }
  if (state.pending.some((p) => p.callId === call.id)) {
    const message = `call id \`${call.id}\` is already pending in this session`;
    return { decision: errorDecision(policy, state, call, 'duplicate_call_id', message), state };
  }
  const profile = policy.resolve(call.tool);
  const legs = profile.legsFor(call.args);
  const callLegs = legs.pre | legs.post;
  const before = effectiveLegs(state);
  const seq = state.seq + 1;
  const reasons: Reason[] = [];
  let hardDeny = false;

  if (!profile.known) {
    reasons.push({
      code: 'unknown_tool',
      rule: 0,
      message: `unknown tool \`${call.tool}\` counts as ${formatLegs(legs.pre | legs.post) || 'no legs'}`,
    });
  }
  // Rule 1: a dropped leg never comes back.
  const droppedHit = callLegs & state.dropped;
  if (droppedHit) {
    hardDeny = true;
    for (const leg of legList(droppedHit)) {
      const drop = state.drops.find((d) => d.leg === leg);
      reasons.push({
        code: 'leg_dropped',
        rule: 1,
        message: `leg ${leg} was dropped at seq ${drop?.seq ?? '?'} and cannot return`,
      });
    }
  }
  // Rule 2: a fixed configuration excludes a leg of the call.
  const excluded = callLegs & ~allowedLegs(state) & ~state.dropped;
  if (excluded) {
    reasons.push({
      code: 'configuration_excludes_leg',
      rule: 2,
      message: `configuration ${formatLegs(allowedLegs(state))} excludes leg ${formatLegs(excluded)} of \`${call.tool}\``,
    });
  }
  // Rule 3: a consequential call while A and B are held (or conferred by the call itself).
  let trifecta = false;
  if (legs.pre & LEG_C && ((before | legs.pre) & (LEG_A | LEG_B)) === (LEG_A | LEG_B)) {
    trifecta = true;
    reasons.push({
      code: 'lethal_trifecta',
      rule: 3,
      message: `\`${call.tool}\` is consequential (C) while the session holds ${formatLegs((before | legs.pre) & (LEG_A | LEG_B))}`,
    });
  }
  // Rule 4: a tool whose own legs are A+B+C is a trifecta by itself.
  if (callLegs === (LEG_A | LEG_B | LEG_C)) {
    trifecta = true;
    reasons.push({ code: 'tool_is_trifecta', rule: 4, message: `\`${call.tool}\` is a trifecta by itself (ABC)` });
  }

  // Rule 6: argument-level controls (provenance, URLs); they only add restrictions. Their reasons are appended.
  const consequential = profile.consequential || (legs.pre & LEG_C) !== 0 ? policy.consequential : undefined;
  const controls = evaluateControls(profile.controls, consequential, call.args, context.provenance, reasons);
  if (controls.effect === 'deny') hardDeny = true;

  const gated = controls.effect === 'ask' || excluded !== 0 || trifecta;
  const legsBefore = formatLegs(before);
  const decided = (effect: Effect, legsAfter: string): Decision =>
    inDecisionOrder({
      effect,
      sessionId: state.id,
      callId: call.id,
      tool: call.tool,
      seq,
      policyVersion: policy.version,
      call: { profile: profile.key, source: legs.source, pre: formatLegs(legs.pre), post: formatLegs(legs.post) },
      legsBefore,
      legsAfter,
      reasons,
      evidence: evidenceFor(state, before),
      provenance: controls.findings.length > 0 ? controls.findings : undefined,
    });

  if (hardDeny) return { decision: decided('deny', legsBefore), state: { ...state, seq } };
  if (gated) {
    if (context.approved) {
      const mismatch = receiptMismatch(
        context.approved,
        { sessionId: state.id, tool: call.tool, args: call.args, policyVersion: policy.version, legsNow: legsBefore },
        context.now,
        context.sha256,
      );
      if (mismatch !== undefined) {
        reasons.push({ code: 'receipt_invalid', rule: 0, message: mismatch });
        return { decision: decided('deny', legsBefore), state: { ...state, seq } };
      }
      reasons.push({ code: 'approved', rule: 0, message: `approved by request \`${context.approved.id}\`` });
      return allow(state, call, legs.pre, legs.post, seq, decided);
    }
    const decision = decided(profile.gate, legsBefore);
    if (profile.gate === 'ask')
      decision.approval = approvalRequest(policy, state, call, seq, decision, before | callLegs, context);
    return { decision, state: { ...state, seq } };
  }
  // Rule 5: allow, reserving the call's legs now.
  const labelled = legs.source === 'base' ? '' : ` (${legs.source})`;
  reasons.push({
    code: 'allowed',
    rule: 5,
    message: `\`${call.tool}\`${labelled} confers ${formatLegs(legs.pre) || 'no legs'} and may bring ${formatLegs(legs.post) || 'none'}: no trifecta`,
  });
  return allow(state, call, legs.pre, legs.post, seq, decided);
}

/** Levels below the top of a call's arguments that the engine reads (as the argument controls walk them). */
const MAX_ARGUMENT_DEPTH = 64;

function allow(
  state: SessionState,
  call: ToolCall,
  pre: LegMask,
  post: LegMask,
  seq: number,
  decided: (effect: Effect, legsAfter: string) => Decision,
): DecideOutcome {
  const next: SessionState = {
    ...state,
    seq,
    held: state.held | pre,
    evidence: addEvidence(state.evidence, pre & ~state.held, { seq, source: 'call', callId: call.id, tool: call.tool }),
    pending: [...state.pending, { callId: call.id, tool: call.tool, post, seq }],
  };
  return { decision: decided('allow', formatLegs(effectiveLegs(next))), state: next };
}

function approvalRequest(
  policy: Policy,
  state: SessionState,
  call: ToolCall,
  seq: number,
  decision: Decision,
  wouldHold: LegMask,
  context: DecideContext,
): ApprovalRequest {
  const args = call.args ?? null;
  const binding = { sessionId: state.id, seq, tool: call.tool, args, policyVersion: policy.version };
  return {
    id: context.newId(),
    hash: approvalHash(binding, context.sha256),
    sessionId: state.id,
    seq,
    callId: call.id,
    tool: call.tool,
    args,
    policyVersion: policy.version,
    createdAt: context.now,
    expiresAt: context.now + policy.approvalTtlMs,
    legsBefore: decision.legsBefore,
    legsIfApproved: formatLegs(wouldHold),
    reasons: decision.reasons,
    evidence: decision.evidence,
  };
}
