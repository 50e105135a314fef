import { canonicalJson } from './canonical.ts';
import { allowedLegs } from './decide.ts';
import { declassify, type NarrowSchema } from './declassify.ts';
import type { Configuration, InputTrust } from './document.ts';
import { formatLegs, LEG_A, LEG_B, LEG_C, type Leg, type LegMask, legBit, NO_LEGS, parseLegs } from './legs.ts';
import { applyLineage, describeLineage, type LineageAllowances, NO_ALLOWANCES } from './lineage.ts';
import type { Policy } from './policy.ts';
import { addEvidence, effectiveLegs, newSessionState, type SessionState } from './state.ts';

/** The outcome of a state transition: the next state, or an error that left the state as it was. */
export type TransitionOutcome<T = object> =
  | ({ ok: true; state: SessionState } & T)
  | { ok: false; code: string; message: string; state: SessionState };

/** Legs an output actually brought, as committed by {@link recordResult}. */
export interface RecordedLegs {
  tool: string;
  /** Legs reserved at decision time. */
  reserved: string;
  /** Legs the output brought (a subset of `reserved`). */
  brought: string;
  legsAfter: string;
  /** The output the model may see: the output itself, or with untrusted items removed by lineage. */
  output: unknown;
  /** What author lineage or declassification did, when the tool has either. */
  note?: string;
}

/**
 * Commits the output of an allowed call: its legs (per result conditions, never more than reserved) join `held`
 * and the reservation is released. An output for a call that is not pending is refused.
 */
export function recordResult(
  policy: Policy,
  state: SessionState,
  callId: string,
  output: unknown,
  allowances: LineageAllowances = NO_ALLOWANCES,
): TransitionOutcome<RecordedLegs> {
  const pending = state.pending.find((p) => p.callId === callId);
  if (!pending) {
    const message = `call \`${callId}\` was not allowed or was already recorded; its output is ignored`;
    return { ok: false, code: 'unknown_call', message, state };
  }
  let brought: LegMask;
  let seen = output;
  let note: string | undefined;
  let filters = false;
  try {
    const profile = policy.resolve(pending.tool);
    filters = profile.lineage?.untrusted === 'filter';
    brought = profile.resultLegs(output, pending.post);
    if (profile.declassify !== undefined && brought & LEG_A) {
      const outcome = declassify(output, profile.declassify);
      note = outcome.ok ? 'declassified by its narrow schema; no A' : `not declassified: ${outcome.message}`;
      if (outcome.ok) brought &= ~LEG_A;
    }
    // Lineage always runs: under `filter` the output reserved no A, so untrusted items must not reach the model.
    if (profile.lineage !== undefined) {
      // INVARIANT: lineage judges only plain JSON data, so the model cannot be shown other items than it judged (a
      // `toJSON`, a class instance's serialization); anything else is unreadable: withheld under `filter`, A under
      // `taint` (test/adapters/lineage-view.test.ts).
      canonicalJson(output);
      const lineage = applyLineage(profile.lineage, output, allowances);
      seen = lineage.output;
      note = describeLineage(lineage, profile.lineage.untrusted);
      if (!lineage.untrusted) brought &= ~LEG_A;
    }
  } catch {
    // INVARIANT: a result condition that fails to evaluate brings everything that was reserved
    // (test/core/match.test.ts "bring everything reserved when a result cannot be evaluated").
    brought = pending.post;
    seen = output;
    // INVARIANT: under lineage `filter` an output that cannot be read is withheld, even when reading it throws
    // (test/guard/transitions-review.test.ts "withholds it under filter when reading it throws").
    if (filters) {
      seen = { withheld: 'the output could not be read' };
      note = 'the output could not be read; it was withheld';
    }
  }
  const seq = state.seq + 1;
  const next: SessionState = {
    ...state,
    seq,
    held: state.held | brought,
    pending: state.pending.filter((p) => p !== pending),
    evidence: addEvidence(state.evidence, brought & ~state.held, { seq, source: 'result', callId, tool: pending.tool }),
  };
  return {
    ok: true,
    state: next,
    tool: pending.tool,
    reserved: formatLegs(pending.post),
    brought: formatLegs(brought),
    legsAfter: formatLegs(effectiveLegs(next)),
    output: seen,
    ...(note === undefined ? {} : { note }),
  };
}

/**
 * Drops a leg for good. A and B cannot be dropped once held or reserved (what entered the context stays there);
 * C can: dropping it forbids further consequential calls. In a fixed configuration a drop opens the third leg
 * (the framework's AC → drop C → B transition).
 */
export function dropLeg(state: SessionState, leg: Leg, reason?: string): TransitionOutcome {
  const bit = legBit(leg);
  if (state.dropped & bit) return { ok: true, state };
  if (bit & (LEG_A | LEG_B) && effectiveLegs(state) & bit) {
    const message = `leg ${leg} is already held and cannot be dropped`;
    return { ok: false, code: 'leg_held', message, state };
  }
  const seq = state.seq + 1;
  const drop = reason === undefined ? { leg, seq } : { leg, seq, reason };
  return { ok: true, state: { ...state, seq, dropped: state.dropped | bit, drops: [...state.drops, drop] } };
}

/** A value handed from a parent session to a forked child, with the legs it carries. */
export interface CarriedValue {
  name: string;
  value: unknown;
  /** Data legs the value carries (A, B); defaults to the parent's data legs. */
  legs?: string;
  /** A narrow schema: a value that validates against it loses its A label. */
  declassify?: NarrowSchema;
}

/** Options for {@link forkSession}. */
export interface ForkOptions {
  childId: string;
  now: number;
  configuration?: Configuration;
  input?: InputTrust;
  carry?: CarriedValue[];
}

/**
 * Starts a clean child session. It holds only what its carried values bring: each value keeps its labels (the
 * parent's data legs unless stated), so untrusted or sensitive data cannot be laundered through a fork.
 */
export function forkSession(parent: SessionState, options: ForkOptions): TransitionOutcome<{ carried: string }> {
  let child = newSessionState({
    id: options.childId,
    configuration: options.configuration ?? parent.configuration,
    input: options.input ?? 'trusted',
    now: options.now,
    parent: parent.id,
  });
  const parentData = effectiveLegs(parent) & (LEG_A | LEG_B);
  let carried = NO_LEGS;
  for (const value of options.carry ?? []) {
    let legs = value.legs === undefined ? parentData : parseDataLegs(value.legs);
    if (legs === undefined) {
      return {
        ok: false,
        code: 'invalid_legs',
        message: `carried value \`${value.name}\` has invalid legs \`${value.legs}\``,
        state: parent,
      };
    }
    if (value.declassify !== undefined) {
      const outcome = declassify(value.value, value.declassify);
      if (!outcome.ok) {
        return {
          ok: false,
          code: 'declassify_failed',
          message: `carried value \`${value.name}\`: ${outcome.message}`,
          state: parent,
        };
      }
      legs &= ~LEG_A;
    }
    carried |= legs;
    child = {
      ...child,
      held: child.held | legs,
      evidence: addEvidence(child.evidence, legs & ~child.held, {
        seq: 0,
        source: 'fork',
        detail: `${parent.id}:${value.name}`,
      }),
    };
  }
  const excluded = child.held & ~allowedLegs(child);
  if (excluded) {
    const message = `configuration ${child.configuration} excludes leg ${formatLegs(excluded)} carried into the child`;
    return { ok: false, code: 'configuration_conflict', message, state: parent };
  }
  return { ok: true, state: child, carried: formatLegs(carried) };
}

/** Data legs (A, B) in the policy's own syntax, so `none` and `A+B` work here too; C is not data. */
function parseDataLegs(text: string): LegMask | undefined {
  const mask = parseLegs(text);
  return mask === undefined || mask & LEG_C ? undefined : mask;
}
