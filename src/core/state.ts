import type { Configuration, InputTrust } from './document.ts';
import { LEG_A, type Leg, type LegMask, legBit, legList, NO_LEGS } from './legs.ts';

/** What brought a leg into a session. */
export interface Evidence {
  leg: Leg;
  /** Sequence number of the event. */
  seq: number;
  /**
   * `input`: the session's own input; `call`: a call conferred it; `result`: an output brought it; `reserved`: an
   * allowed call whose output is still pending; `fork`: a value carried from a parent session.
   */
  source: 'input' | 'call' | 'result' | 'reserved' | 'fork';
  callId?: string;
  tool?: string;
  /** For `fork`: the parent session and the carried value's name. */
  detail?: string;
}

/** A call that was allowed and whose output has not been recorded yet; its output legs are reserved. */
export interface PendingCall {
  callId: string;
  tool: string;
  /** Output legs reserved at decision time. */
  post: LegMask;
  seq: number;
}

/** A one-way transition that disabled a leg. */
export interface DropRecord {
  leg: Leg;
  seq: number;
  reason?: string;
}

/** Serializable Rule-of-Two state of one session; stores persist exactly this. */
export interface SessionState {
  /** Format version. */
  v: 1;
  id: string;
  configuration: Configuration;
  /** Legs acquired so far; only grows. */
  held: LegMask;
  /** Legs disabled for good. */
  dropped: LegMask;
  drops: DropRecord[];
  /** Last sequence number used by an event of this session. */
  seq: number;
  pending: PendingCall[];
  /** The first events that brought each leg (at most {@link EVIDENCE_PER_LEG} per leg). */
  evidence: Evidence[];
  parent?: string;
  createdAt: number;
  /**
   * The guards (one per process, by instance id) whose in-memory provenance index accounts for every output this
   * session recorded: each indexed it or counts its legs as lost. The engine ignores it; see docs/provenance.md.
   */
  indexedBy?: string[];
}

/** How many evidence items are kept per leg: the first ones, which are what brought the leg. */
export const EVIDENCE_PER_LEG = 4;

/** Options for a new session. */
export interface NewSessionOptions {
  id: string;
  configuration: Configuration;
  input: InputTrust;
  now: number;
  parent?: string;
}

/** A fresh session state; an untrusted input brings A at sequence 0. */
export function newSessionState(options: NewSessionOptions): SessionState {
  const state: SessionState = {
    v: 1,
    id: options.id,
    configuration: options.configuration,
    held: NO_LEGS,
    dropped: NO_LEGS,
    drops: [],
    seq: 0,
    pending: [],
    evidence: [],
    createdAt: options.now,
  };
  if (options.parent !== undefined) state.parent = options.parent;
  if (options.input === 'untrusted') {
    state.held = LEG_A;
    state.evidence.push({ leg: 'A', seq: 0, source: 'input' });
  }
  return state;
}

/** Output legs reserved by pending calls. */
export function reservedLegs(state: SessionState): LegMask {
  let mask = NO_LEGS;
  for (const call of state.pending) mask |= call.post;
  return mask;
}

/** Legs that count for decisions: held plus reserved. */
export function effectiveLegs(state: SessionState): LegMask {
  return state.held | reservedLegs(state);
}

/** Appends evidence for newly acquired legs, keeping the first few per leg. */
export function addEvidence(evidence: Evidence[], legs: LegMask, item: Omit<Evidence, 'leg'>): Evidence[] {
  let out = evidence;
  for (const leg of legList(legs)) {
    if (countLeg(out, leg) >= EVIDENCE_PER_LEG) continue;
    if (out === evidence) out = [...evidence];
    out.push({ leg, ...item });
  }
  return out;
}

function countLeg(evidence: readonly Evidence[], leg: Leg): number {
  let count = 0;
  for (const e of evidence) if (e.leg === leg) count++;
  return count;
}

/** Evidence for the legs in a mask, including calls whose pending output reserves them. */
export function evidenceFor(state: SessionState, legs: LegMask): Evidence[] {
  const out = state.evidence.filter((e) => legs & legBit(e.leg));
  for (const call of state.pending) {
    for (const leg of legList(call.post & legs & ~state.held)) {
      out.push({ leg, seq: call.seq, source: 'reserved', callId: call.callId, tool: call.tool });
    }
  }
  return out;
}
