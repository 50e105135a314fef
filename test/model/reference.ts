/**
 * Reference model of the Rule-of-Two decision rule (ARCHITECTURE.md), written for clarity, not speed, and
 * independently of src/core: legs are sets of letters, the policy document is interpreted directly (no compiled
 * matchers, no regular expressions for globs), approvals are compared structurally instead of by hash. Property
 * tests in test/core/ run random traces through the guard and this model and require the same decisions and states.
 *
 * Where ARCHITECTURE.md leaves a choice, the model follows what src/core chose:
 *  1. Tool legs: `legs` shorthand splits into the call part (B, C) and the output part (A, B), so `legs: B` gives
 *     B at call time and B from the output; `call` and `output` add to the shorthand.
 *  2. Tool lookup: exact name first, then glob entries (`*` any run, `?` one character) in file order, else the
 *     `unknownTools` entry, which defaults to A+B+C (call BC, output AB) and adds reason `unknown_tool`.
 *  3. Argument conditions (`when`): the first whose match holds replaces the call and/or output legs it states;
 *     a side it leaves out keeps the tool's own legs. Matchers: a bare scalar means `equals`; arrays pass when
 *     non-empty and every element passes; `exists` tests presence; paths are dot paths over own properties.
 *  4. Reservation: an allowed call adds its call legs to `held` at once and reserves its output legs; reserved
 *     legs count for every decision (rules 2, 3 and legsBefore) until the result is recorded.
 *  5. Result conditions: the first whose match holds gives its output legs intersected with what was reserved; no
 *     match gives what was reserved. A result condition can only lower what was reserved, never raise it. A result
 *     for a call that is not pending is refused and changes nothing.
 *  6. Rule 1 is a hard deny that no approval lifts; it names each dropped leg of the call.
 *  7. Allowed legs: dynamic = ABC; a fixed configuration = its pair; once any leg was dropped, ABC minus the
 *     dropped legs (a drop in a fixed configuration opens the third leg: AC, drop C, then B). Rule 2 reports the
 *     legs of the call (call and output legs) outside the allowed legs and not dropped.
 *  8. Rule 3 counts the call legs of the call (not its output legs): C in call legs and {A, B} within
 *     held + reserved + call legs.
 *  9. Rule 4: a tool whose call and output legs together are ABC is gated even in an empty session.
 * 10. Rules 2, 3, 4 gate: the effect is the tool's `gate`, else `approvals.gate`, else ask. An ask carries an
 *     approval request bound to (session, seq of the ask, tool, args, policy version), expiring after the TTL.
 * 11. A consumed approval lifts a gate when it is not expired (now <= expiresAt) and names the same session, policy
 *     version, tool and (canonically equal) arguments; else deny `receipt_invalid`. The seq bound is the ask's own:
 *     the re-check runs at a later seq and is not required to equal it; the call id is not bound. The session must
 *     not hold legs it did not hold at the ask (the approver decided in view of those). An approval given for a
 *     call that is not gated is consumed and ignored.
 * 12. Arguments holding a number JSON cannot carry (NaN, ±Infinity, at any depth) deny any call with `invalid_call`
 *     and change nothing, checked right after the call's id and tool. Other arguments that are not JSON (functions,
 *     class instances, holes) cannot be bound to an approval: a call that would ask, or that uses an approval which
 *     otherwise fits, is denied with `engine_error` and changes nothing; an allowed call or a call gated to deny
 *     never serializes its arguments.
 * 13. Sequence numbers: every decided call, recorded result and drop takes the next seq (a fork child starts at
 *     0); an invalid call, a call id already pending, a receipt the store refuses and an unknown session do not.
 * 14. Drop: dropping an already dropped leg is a no-op; A or B held or reserved cannot be dropped (what entered the
 *     context stays); C can be dropped even when held. Dropped legs deny for good.
 * 15. Sessions: untrusted input brings A at seq 0; a fixed configuration without A and untrusted input is refused;
 *     reopening an existing session with another configuration, or declaring untrusted input on one that does
 *     not hold A, is refused (a safer or equal declaration is accepted and changes nothing).
 * 16. Fork: the child starts clean with trusted input and the parent's configuration unless told otherwise; each
 *     carried value brings its stated data legs (`AB`, `A+B`, `none`: no C) or, by default, the parent's held +
 *     reserved data legs (A, B); a value that passes its narrow schema loses A; child legs outside the child's
 *     configuration refuse the fork.
 * 17. Evidence: the first 4 events per leg (input, call, result, fork); a decision's evidence is the evidence of
 *     its legsBefore plus one `reserved` item per pending call whose reserved leg is not held yet.
 * 18. Approval store (guard): a receipt is usable once, only when approved, unexpired and its hash matches; it is
 *     consumed before deciding, so a call that is then denied still uses it up. An answer after expiry expires the
 *     request; answering a request that is not pending changes nothing, and still hands out the receipt of an
 *     approved, unused request. `authorize` is a check, then (on ask) the approver's answer and a check with the
 *     receipt; a declined or unrecordable answer turns the ask into a deny with `approval_denied`.
 */

import type { NarrowSchema } from '../../src/core/declassify.ts';
import type { MatchSpec, ValueMatcher } from '../../src/core/document.ts';

/** A leg of the Rule of Two. */
export type MLeg = 'A' | 'B' | 'C';
/** A set of legs. */
export type MLegs = ReadonlySet<MLeg>;

const LETTERS: readonly MLeg[] = ['A', 'B', 'C'];

/** Legs from letters, e.g. `legs('AB')`. */
export function legs(text: string): Set<MLeg> {
  const out = new Set<MLeg>();
  for (const ch of text.toUpperCase()) if (ch === 'A' || ch === 'B' || ch === 'C') out.add(ch);
  return out;
}

/** The letters of a set in order, e.g. `AB`. */
export function letters(set: MLegs): string {
  return LETTERS.filter((leg) => set.has(leg)).join('');
}

function union(...sets: MLegs[]): Set<MLeg> {
  const out = new Set<MLeg>();
  for (const set of sets) for (const leg of set) out.add(leg);
  return out;
}

function minus(a: MLegs, b: MLegs): Set<MLeg> {
  return new Set([...a].filter((leg) => !b.has(leg)));
}

function intersect(a: MLegs, b: MLegs): Set<MLeg> {
  return new Set([...a].filter((leg) => b.has(leg)));
}

function only(set: MLegs, allowed: string): Set<MLeg> {
  return intersect(set, legs(allowed));
}

// ---------------------------------------------------------------------------------------------------------------
// Policy interpretation (directly on the document)

// Only the shapes of the policy format are shared with src/core; the model interprets them on its own.
type Matcher = ValueMatcher;
type Match = MatchSpec;

interface ToolDoc {
  legs?: string;
  call?: string;
  output?: string;
  gate?: 'ask' | 'deny';
  when?: { match: Match; call?: string; output?: string }[];
  results?: { match: Match; output: string }[];
}

/** The subset of a policy document the model reads (the same shape as src/core's PolicyDocument). */
export interface ModelPolicyDoc {
  version: 1;
  session?: { configuration?: string; input?: 'trusted' | 'untrusted' };
  unknownTools?: string | { call?: string; output?: string };
  approvals?: { gate?: 'ask' | 'deny'; ttl?: string };
  lists?: Record<string, string[]>;
  tools?: Record<string, ToolDoc | string>;
}

/** Glob matching by plain recursion: `*` any run of characters, `?` exactly one. */
export function globMatches(pattern: string, text: string): boolean {
  const p = [...pattern];
  const t = [...text];
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === t.length;
    if (p[i] === '*') {
      for (let k = j; k <= t.length; k++) if (go(i + 1, k)) return true;
      return false;
    }
    if (j === t.length) return false;
    return (p[i] === '?' || p[i] === t[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

function isGlobPattern(name: string): boolean {
  return name.includes('*') || name.includes('?');
}

function valueAt(subject: unknown, path: string): unknown {
  let current = subject;
  for (const key of path.split('.')) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(key) || Number(key) >= current.length) return undefined;
      current = current[Number(key)];
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, key)) {
      current = (current as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return current;
}

/** A test on one scalar, lifted to arrays: non-empty and every element (itself not an array) passes. */
function each(value: unknown, test: (v: unknown) => boolean): boolean {
  if (value === undefined) return false;
  if (!Array.isArray(value)) return test(value);
  return value.length > 0 && value.every((v) => !Array.isArray(v) && test(v));
}

function matcherHolds(doc: ModelPolicyDoc, matcher: Matcher, value: unknown): boolean {
  if (matcher === null || typeof matcher !== 'object') return each(value, (v) => v === matcher);
  const patterns = (source: string[] | string) => (typeof source === 'string' ? (doc.lists?.[source] ?? []) : source);
  const inList = (v: unknown, source: string[] | string) =>
    typeof v === 'string' && patterns(source).some((p) => globMatches(p, v));
  const checks: boolean[] = [];
  if (matcher.exists !== undefined) checks.push((value !== undefined) === matcher.exists);
  if (matcher.equals !== undefined) checks.push(each(value, (v) => v === matcher.equals));
  if (matcher.in !== undefined) {
    const source = matcher.in;
    checks.push(each(value, (v) => inList(v, source)));
  }
  if (matcher.notIn !== undefined) {
    const source = matcher.notIn;
    checks.push(each(value, (v) => typeof v === 'string' && !inList(v, source)));
  }
  if (matcher.regex !== undefined) {
    const regex = new RegExp(`^(?:${matcher.regex})$`, 'u');
    checks.push(each(value, (v) => typeof v === 'string' && regex.test(v)));
  }
  const num = (bound: number | undefined, ok: (v: number, b: number) => boolean) => {
    if (bound !== undefined) checks.push(each(value, (v) => typeof v === 'number' && ok(v, bound)));
  };
  num(matcher.lt, (v, b) => v < b);
  num(matcher.lte, (v, b) => v <= b);
  num(matcher.gt, (v, b) => v > b);
  num(matcher.gte, (v, b) => v >= b);
  return checks.every(Boolean);
}

function matchHolds(doc: ModelPolicyDoc, match: Match, subject: unknown): boolean {
  return Object.entries(match).every(([path, matcher]) => matcherHolds(doc, matcher, valueAt(subject, path)));
}

/** The profile of one tool as the model sees it. */
export interface ModelTool {
  key: string;
  known: boolean;
  doc: ToolDoc;
}

function toolDoc(entry: ToolDoc | string): ToolDoc {
  return typeof entry === 'string' ? { legs: entry } : entry;
}

/** Finds the entry for a tool: exact name, then globs in file order, then the unknown-tool default. */
export function lookupTool(doc: ModelPolicyDoc, tool: string): ModelTool {
  const entries = Object.entries(doc.tools ?? {});
  for (const [key, entry] of entries)
    if (!isGlobPattern(key) && key === tool) return { key, known: true, doc: toolDoc(entry) };
  for (const [key, entry] of entries)
    if (isGlobPattern(key) && globMatches(key, tool)) return { key, known: true, doc: toolDoc(entry) };
  const unknown = doc.unknownTools;
  const fallback: ToolDoc =
    unknown === undefined ? { legs: 'ABC' } : typeof unknown === 'string' ? { legs: unknown } : unknown;
  return { key: '*unknown*', known: false, doc: fallback };
}

function ownLegs(tool: ToolDoc): { pre: Set<MLeg>; post: Set<MLeg> } {
  const short = legs(tool.legs ?? '');
  return {
    pre: union(only(short, 'BC'), legs(tool.call ?? '')),
    post: union(only(short, 'AB'), legs(tool.output ?? '')),
  };
}

/** The legs a call confers (`pre`) and its output may bring (`post`), and which entry part chose them. */
export function callLegs(
  doc: ModelPolicyDoc,
  tool: ModelTool,
  args: unknown,
): { pre: Set<MLeg>; post: Set<MLeg>; source: string } {
  const own = ownLegs(tool.doc);
  const conditions = tool.doc.when ?? [];
  for (let i = 0; i < conditions.length; i++) {
    const condition = conditions[i] as NonNullable<ToolDoc['when']>[number];
    if (matchHolds(doc, condition.match, args)) {
      return {
        pre: condition.call === undefined ? own.pre : legs(condition.call),
        post: condition.output === undefined ? own.post : legs(condition.output),
        source: `when[${i}]`,
      };
    }
  }
  return { ...own, source: 'base' };
}

/** Legs an output brings, never more than reserved. */
export function resultLegs(doc: ModelPolicyDoc, tool: ModelTool, output: unknown, reserved: MLegs): Set<MLeg> {
  for (const condition of tool.doc.results ?? []) {
    if (matchHolds(doc, condition.match, output)) return intersect(legs(condition.output), reserved);
  }
  return new Set(reserved);
}

function configurationLegs(configuration: string): Set<MLeg> {
  return configuration === 'dynamic' ? legs('ABC') : legs(configuration);
}

/** The effect of a gated call under a policy. */
export function gateOf(doc: ModelPolicyDoc, tool: ModelTool): 'ask' | 'deny' {
  return tool.doc.gate ?? doc.approvals?.gate ?? 'ask';
}

/** The approval TTL of a policy in milliseconds. */
export function ttlOf(doc: ModelPolicyDoc): number {
  const ttl = doc.approvals?.ttl;
  if (ttl === undefined) return 300_000;
  const match = /^(\d+)(ms|s|m|h)$/.exec(ttl);
  if (!match) throw new Error(`model: unsupported ttl ${ttl}`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
}

// ---------------------------------------------------------------------------------------------------------------
// Session state and transitions

/** What brought a leg. */
export interface MEvidence {
  leg: MLeg;
  seq: number;
  source: 'input' | 'call' | 'result' | 'reserved' | 'fork';
  callId?: string;
  tool?: string;
  detail?: string;
}

/** The model's state of one session. */
export interface MSession {
  id: string;
  /** The session this one was forked from. */
  parent?: string;
  configuration: string;
  held: Set<MLeg>;
  dropped: Set<MLeg>;
  dropSeq: Map<MLeg, number>;
  seq: number;
  /** Pending calls in the order they were allowed. */
  pending: { callId: string; tool: string; post: Set<MLeg>; seq: number }[];
  evidence: MEvidence[];
}

function note(session: MSession, brought: MLegs, item: Omit<MEvidence, 'leg'>): void {
  for (const leg of LETTERS) {
    if (!brought.has(leg)) continue;
    if (session.evidence.filter((e) => e.leg === leg).length >= 4) continue;
    session.evidence.push({ leg, ...item });
  }
}

/** A copy of a session, so transitions can be written as mutations. */
export function cloneSession(s: MSession): MSession {
  return {
    ...s,
    held: new Set(s.held),
    dropped: new Set(s.dropped),
    dropSeq: new Map(s.dropSeq),
    pending: s.pending.map((p) => ({ ...p, post: new Set(p.post) })),
    evidence: s.evidence.map((e) => ({ ...e })),
  };
}

function blankSession(id: string, configuration: string, input: 'trusted' | 'untrusted'): MSession {
  const session: MSession = {
    id,
    configuration,
    held: new Set(),
    dropped: new Set(),
    dropSeq: new Map(),
    seq: 0,
    pending: [],
    evidence: [],
  };
  if (input === 'untrusted') {
    session.held.add('A');
    session.evidence.push({ leg: 'A', seq: 0, source: 'input' });
  }
  return session;
}

/** A new session, or the reason it cannot be opened. */
export function openSession(id: string, configuration: string, input: 'trusted' | 'untrusted'): MSession | string {
  if (configuration !== 'dynamic' && input === 'untrusted' && !configuration.includes('A')) {
    return 'configuration excludes A but the input is untrusted';
  }
  return blankSession(id, configuration, input);
}

/** Output legs of pending calls. */
export function reserved(s: MSession): Set<MLeg> {
  return union(...s.pending.map((p) => p.post));
}

/** Held plus reserved legs: what decisions count. */
export function effective(s: MSession): Set<MLeg> {
  return union(s.held, reserved(s));
}

/** Legs the session may still take on. */
export function allowed(s: MSession): Set<MLeg> {
  return s.dropped.size > 0 ? minus(legs('ABC'), s.dropped) : configurationLegs(s.configuration);
}

/** An approved request, as the model compares it. */
export interface MApproval {
  id: string;
  sessionId: string;
  seq: number;
  tool: string;
  args: unknown;
  policyVersion: string;
  expiresAt: number;
  /** Legs the session held when the approval was asked. */
  legsBefore: string;
}

/** The model's decision on a call. */
export interface MDecision {
  effect: 'allow' | 'deny' | 'ask';
  codes: string[];
  rules: number[];
  seq: number;
  legsBefore: string;
  legsAfter: string;
  evidence: MEvidence[];
  /** The entry that labelled the call and its legs (absent when the call could not be decided). */
  call?: { profile: string; source: string; pre: string; post: string };
  /** For ask: what the request binds. */
  approval?: Omit<MApproval, 'id'> & { legsIfApproved: string };
}

/** Whether a value is JSON: what an approval can be bound to. */
export function isJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!(i in value) || !isJson(value[i])) return false;
    return true;
  }
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((v) => v === undefined || isJson(v));
}

/** Whether a value holds NaN or ±Infinity anywhere (a typed array's elements aside). */
function holdsNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  return Object.values(value).some(holdsNonFinite);
}

/** Deep equality of JSON values, ignoring keys whose value is undefined (as canonical JSON does). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => kb.includes(k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function evidenceOf(s: MSession, before: MLegs): MEvidence[] {
  const out = s.evidence.filter((e) => before.has(e.leg)).map((e) => ({ ...e }));
  for (const p of s.pending) {
    for (const leg of LETTERS) {
      if (p.post.has(leg) && before.has(leg) && !s.held.has(leg)) {
        out.push({ leg, seq: p.seq, source: 'reserved', callId: p.callId, tool: p.tool });
      }
    }
  }
  return out;
}

/**
 * Decides a call in a session (rules 1-5) and returns the decision with the next state (the input is not changed).
 */
export function modelDecide(
  doc: ModelPolicyDoc,
  policyVersion: string,
  state: MSession,
  call: { id: string; tool: string; args?: unknown },
  now: number,
  approved?: MApproval,
): { decision: MDecision; state: MSession } {
  const before = effective(state);
  const unchanged = (code: string): { decision: MDecision; state: MSession } => ({
    decision: {
      effect: 'deny',
      codes: [code],
      rules: [0],
      seq: state.seq,
      legsBefore: letters(before),
      legsAfter: letters(before),
      evidence: [],
    },
    state,
  });
  if (call.id === '' || call.tool === '') return unchanged('invalid_call');
  if (holdsNonFinite(call.args)) return unchanged('invalid_call');
  if (state.pending.some((p) => p.callId === call.id)) return unchanged('duplicate_call_id');

  const tool = lookupTool(doc, call.tool);
  const { pre, post, source } = callLegs(doc, tool, call.args);
  const all = union(pre, post);
  const seq = state.seq + 1;
  const codes: string[] = [];
  const rules: number[] = [];
  const add = (code: string, rule: number) => {
    codes.push(code);
    rules.push(rule);
  };
  if (!tool.known) add('unknown_tool', 0);
  const droppedHit = intersect(all, state.dropped);
  for (const leg of LETTERS) if (droppedHit.has(leg)) add('leg_dropped', 1);
  if (minus(minus(all, allowed(state)), state.dropped).size > 0) add('configuration_excludes_leg', 2);
  const withPre = union(before, pre);
  if (pre.has('C') && withPre.has('A') && withPre.has('B')) add('lethal_trifecta', 3);
  if (all.size === 3) add('tool_is_trifecta', 4);

  const next = cloneSession(state);
  next.seq = seq;
  const evidence = evidenceOf(state, before);
  const decision = (effect: MDecision['effect'], after: MLegs): MDecision => ({
    effect,
    codes: [...codes],
    rules: [...rules],
    seq,
    legsBefore: letters(before),
    legsAfter: letters(after),
    evidence,
    call: { profile: tool.key, source, pre: letters(pre), post: letters(post) },
  });
  const allow = () => {
    for (const leg of pre) next.held.add(leg);
    note(next, minus(pre, state.held), { seq, source: 'call', callId: call.id, tool: call.tool });
    next.pending.push({ callId: call.id, tool: call.tool, post: new Set(post), seq });
    return { decision: decision('allow', effective(next)), state: next };
  };

  if (droppedHit.size > 0) return { decision: decision('deny', before), state: next };
  const gated = rules.some((r) => r === 2 || r === 3 || r === 4);
  if (!gated) {
    add('allowed', 5);
    return allow();
  }
  if (approved) {
    const valid =
      now <= approved.expiresAt &&
      approved.sessionId === state.id &&
      approved.policyVersion === policyVersion &&
      approved.tool === call.tool &&
      [...before].every((leg) => approved.legsBefore.includes(leg));
    if (valid && !isJson(call.args ?? null)) return unchanged('engine_error');
    if (!valid || !sameJson(approved.args ?? null, call.args ?? null)) {
      add('receipt_invalid', 0);
      return { decision: decision('deny', before), state: next };
    }
    add('approved', 0);
    return allow();
  }
  const effect = gateOf(doc, tool);
  if (effect === 'ask' && !isJson(call.args ?? null)) return unchanged('engine_error');
  const out = decision(effect, before);
  if (effect === 'ask') {
    out.approval = {
      sessionId: state.id,
      seq,
      tool: call.tool,
      args: call.args ?? null,
      policyVersion,
      expiresAt: now + ttlOf(doc),
      legsBefore: letters(before),
      legsIfApproved: letters(union(before, all)),
    };
  }
  return { decision: out, state: next };
}

/** Records a call's output; undefined when the call is not pending. */
export function modelRecord(
  doc: ModelPolicyDoc,
  state: MSession,
  callId: string,
  output: unknown,
): { state: MSession; brought: string } | undefined {
  const index = state.pending.findIndex((p) => p.callId === callId);
  const pending = state.pending[index];
  if (!pending) return undefined;
  const brought = resultLegs(doc, lookupTool(doc, pending.tool), output, pending.post);
  const next = cloneSession(state);
  next.seq += 1;
  next.pending.splice(index, 1);
  note(next, minus(brought, state.held), { seq: next.seq, source: 'result', callId, tool: pending.tool });
  for (const leg of brought) next.held.add(leg);
  return { state: next, brought: letters(brought) };
}

/** Drops a leg; a string says why it was refused. */
export function modelDrop(state: MSession, leg: MLeg): MSession | string {
  if (state.dropped.has(leg)) return state;
  if (leg !== 'C' && effective(state).has(leg)) return 'leg_held';
  const next = cloneSession(state);
  next.seq += 1;
  next.dropped.add(leg);
  next.dropSeq.set(leg, next.seq);
  return next;
}

/** A narrow schema (src/core's format). */
export type MSchema = NarrowSchema;

/** Whether a value fits a narrow schema (the model's own check, for the schemas the tests generate). */
export function fitsSchema(value: unknown, schema: MSchema): boolean {
  switch (schema.type) {
    case 'boolean':
      return value === true || value === false;
    case 'number':
      return (
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (!schema.integer || Number.isInteger(value)) &&
        (schema.min === undefined || value >= schema.min) &&
        (schema.max === undefined || value <= schema.max)
      );
    case 'enum':
      return schema.values.some((v) => v === value);
    case 'date': {
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
      const [y, m, d] = value.split('-').map(Number) as [number, number, number];
      const days = [
        31,
        y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
      ];
      return m >= 1 && m <= 12 && d >= 1 && d <= (days[m - 1] ?? 0);
    }
    case 'id':
      return (
        typeof value === 'string' &&
        value.length >= 1 &&
        value.length <= schema.maxLength &&
        /^[A-Za-z0-9._:-]+$/.test(value) &&
        new RegExp(`^(?:${schema.pattern})$`, 'u').test(value)
      );
  }
}

/** A value carried into a fork. */
export interface MCarried {
  name: string;
  value: unknown;
  legs?: string;
  declassify?: MSchema;
}

/** Forks a child session; a string says why it was refused. */
export function modelFork(
  parent: MSession,
  childId: string,
  options: { configuration?: string; input?: 'trusted' | 'untrusted'; carry?: MCarried[] },
): MSession | string {
  const child = blankSession(childId, options.configuration ?? parent.configuration, options.input ?? 'trusted');
  child.parent = parent.id;
  const parentData = only(effective(parent), 'AB');
  for (const value of options.carry ?? []) {
    const none = value.legs?.trim().toLowerCase() === 'none';
    if (value.legs !== undefined && !none && !/^[AB\s,+]*$/.test(value.legs)) return 'invalid_legs';
    let carried = value.legs === undefined ? parentData : legs(value.legs);
    if (value.declassify !== undefined) {
      if (!fitsSchema(value.value, value.declassify)) return 'declassify_failed';
      carried = minus(carried, legs('A'));
    }
    note(child, minus(carried, child.held), { seq: 0, source: 'fork', detail: `${parent.id}:${value.name}` });
    for (const leg of carried) child.held.add(leg);
  }
  if (minus(child.held, allowed(child)).size > 0) return 'configuration_conflict';
  return child;
}
