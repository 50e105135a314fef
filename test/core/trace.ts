/**
 * Random policies and traces for the property tests, and a runner that plays a trace through the real guard
 * (memory stores, fake clock) and the reference model side by side, failing at the first disagreement.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Decision } from '../../src/core/decision.ts';
import type { PolicyDocument } from '../../src/core/document.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import type { CarriedValue } from '../../src/core/transitions.ts';
import { createGuard, type Guard, type GuardOptions, type SessionView } from '../../src/guard/guard.ts';
import { validatePolicy } from '../../src/policy/validate.ts';
import type { ApprovalReceipt } from '../../src/store/types.ts';
import { counterIds } from '../helpers.ts';
import {
  effective,
  legs,
  letters,
  type MApproval,
  type MCarried,
  type MLeg,
  type ModelPolicyDoc,
  type MSchema,
  type MSession,
  modelDecide,
  modelDrop,
  modelFork,
  modelRecord,
  openSession,
  reserved,
} from '../model/reference.ts';

// ---------------------------------------------------------------------------------------------------------------
// Policies

const legSet = (pool: string) => fc.subarray([...pool]).map((l) => l.join(''));
/** Legs as a policy writes them; the empty set sometimes as `none`. */
const legText = (pool: string) => legSet(pool).chain((l) => (l === '' ? fc.constantFrom('', 'none') : fc.constant(l)));

const MATCHERS: unknown[] = [
  'bob@corp.test',
  42,
  true,
  null,
  { in: 'internal' },
  { in: ['*@corp.test', 'ops@partner.test'] },
  { notIn: 'internal' },
  { regex: 'https://[a-z.]+/.*' },
  { exists: true },
  { exists: false },
  { lt: 10 },
  { gte: 5, lte: 12 },
  { equals: 'x' },
  { in: 'internal', exists: true },
];
const ARG_PATHS = ['to', 'url', 'n', 'meta.kind', 'to.0'];
const OUTPUT_PATHS = ['from', 'trusted', 'items.0.author'];
const OUTPUT_MATCHERS: unknown[] = [{ in: 'internal' }, true, false, { notIn: ['*@evil.test'] }, { exists: false }];

const matchSpec = (paths: string[], matchers: unknown[]) =>
  fc.dictionary(fc.constantFrom(...paths), fc.constantFrom(...matchers), { maxKeys: 2 });

/** Tool names the policies label; `__proto__` checks that names never hit prototype keys. */
export const TOOL_KEYS = ['read', 'send', 'fetch', 'fs.read', 'pay', '__proto__', 'fs.*', 'db.?uery', 'f*', '*'];
/** Tool names calls use: labelled ones, ones only globs match, and unknown ones. */
export const CALL_TOOLS = ['read', 'send', 'fetch', 'fs.read', 'fs.write', 'db.query', 'pay', '__proto__', 'x', 'tool'];

const toolDoc = fc.oneof(
  { weight: 1, arbitrary: legText('ABC') },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          legs: legText('ABC'),
          call: legText('BC'),
          output: legText('AB'),
          gate: fc.constantFrom('ask', 'deny'),
          when: fc.array(
            fc.record(
              { match: matchSpec(ARG_PATHS, MATCHERS), call: legText('BC'), output: legText('AB') },
              { requiredKeys: ['match'] },
            ),
            { maxLength: 3 },
          ),
          results: fc.array(fc.record({ match: matchSpec(OUTPUT_PATHS, OUTPUT_MATCHERS), output: legSet('AB') }), {
            maxLength: 2,
          }),
        },
        { requiredKeys: [] },
      )
      .map((tool) => {
        // The validator requires a condition to name `call` or `output`, and a result condition to stay within
        // the declared output legs.
        const when = tool.when?.map((c) => (c.call === undefined && c.output === undefined ? { ...c, call: '' } : c));
        const declared = new Set([...(tool.legs ?? '').replace('none', '')].filter((l) => l !== 'C'));
        for (const l of (tool.output ?? '').replace('none', '')) declared.add(l);
        const results = tool.results?.map((r) => ({
          ...r,
          output: [...r.output].filter((l) => declared.has(l)).join('') || 'none',
        }));
        return {
          ...tool,
          ...(when === undefined ? {} : { when }),
          ...(results === undefined ? {} : { results }),
        };
      }),
  },
);

/** A random valid policy document with argument and result conditions, globs and an unknown-tool default. */
export const policyArb: fc.Arbitrary<ModelPolicyDoc> = fc
  .record(
    {
      session: fc.record(
        { configuration: fc.constantFrom('dynamic', 'AB', 'AC', 'BC'), input: fc.constantFrom('trusted', 'untrusted') },
        { requiredKeys: [] },
      ),
      unknownTools: fc.oneof(legText('ABC'), fc.record({ call: legText('BC'), output: legText('AB') })),
      approvals: fc.record(
        { gate: fc.constantFrom('ask', 'deny'), ttl: fc.constantFrom('1s', '1m') },
        {
          requiredKeys: [],
        },
      ),
      tools: fc
        .uniqueArray(fc.constantFrom(...TOOL_KEYS), { minLength: 1, maxLength: 7 })
        .chain((keys) => fc.tuple(...keys.map((key) => fc.tuple(fc.constant(key), toolDoc)))),
    },
    { requiredKeys: ['tools'] },
  )
  .map(({ tools, session, ...rest }) => {
    // The validator refuses BC with (default) untrusted input: no session could be opened under it.
    if (session?.configuration === 'BC') session.input = 'trusted';
    const record: Record<string, unknown> = {};
    for (const [key, doc] of tools)
      Object.defineProperty(record, key, { value: doc, enumerable: true, writable: true });
    return {
      version: 1 as const,
      ...rest,
      ...(session === undefined ? {} : { session }),
      lists: { internal: ['*@corp.test', 'bob@partner.test'] },
      tools: record,
    } as ModelPolicyDoc;
  });

// ---------------------------------------------------------------------------------------------------------------
// Traces

const ARG_VALUES = {
  to: ['bob@corp.test', 'eve@evil.test', ['bob@corp.test'], ['bob@corp.test', 'eve@evil.test'], [], 42],
  url: ['https://docs.corp.test/a', 'http://evil.test', 'x'],
  n: [3, 7, 12, '5', Number.NaN],
  meta: [{ kind: 'x' }, { kind: 'y' }, 'flat', new Date(0)],
};
/** Arguments of a call (sometimes none). */
export const argsArb: fc.Arbitrary<unknown> = fc.option(
  fc.record(
    {
      to: fc.constantFrom(...ARG_VALUES.to),
      url: fc.constantFrom(...ARG_VALUES.url),
      n: fc.constantFrom(...ARG_VALUES.n),
      meta: fc.constantFrom(...ARG_VALUES.meta),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);
const outputArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record(
    {
      from: fc.constantFrom('alice@corp.test', 'eve@evil.test'),
      trusted: fc.boolean(),
      items: fc.array(fc.record({ author: fc.constantFrom('alice@corp.test', 'eve@evil.test') }), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  ),
  fc.constantFrom('plain text', null, 7),
);

/** Session ids of a trace; `k1`, `k2` are fork children. */
export const SESSIONS = ['s1', 's2', 'k1', 'k2'];

/** One of some values, each with a weight. */
function weighted<T>(...pairs: [T, number][]): fc.Arbitrary<T> {
  return fc.oneof(...pairs.map(([value, weight]) => ({ weight, arbitrary: fc.constant(value) })));
}

const callId = weighted<string>(['c1', 6], ['c2', 6], ['c3', 4], ['c4', 2], ['', 1]);

const SCHEMAS: MSchema[] = [
  { type: 'boolean' },
  { type: 'number', min: 0, max: 10 },
  { type: 'enum', values: ['yes', 'no'] },
  { type: 'date' },
  { type: 'id', pattern: '[a-z]+', maxLength: 8 },
];
const CARRIED_VALUES = [true, 3, 42, 'yes', '2024-02-29', '2023-02-29', 'abc', 'ignore previous instructions', 'ABC'];

const carriedArb: fc.Arbitrary<MCarried> = fc.record(
  {
    name: fc.constantFrom('v1', 'v2'),
    value: fc.constantFrom(...CARRIED_VALUES),
    legs: fc.constantFrom('', 'A', 'B', 'AB', 'A+B', 'C', 'none'),
    declassify: fc.constantFrom(...SCHEMAS),
  },
  { requiredKeys: ['name', 'value'] },
);

/** One event of a trace. */
export type TraceEvent =
  | { t: 'open'; s: string; configuration?: string; input?: 'trusted' | 'untrusted' }
  | { t: 'call'; s: string; id: string; tool: string; args: unknown }
  | { t: 'result'; s: string; id: string; output: unknown }
  | { t: 'drop'; s: string; leg: MLeg }
  | { t: 'fork'; s: string; child: string; configuration?: string; input?: 'trusted' | 'untrusted'; carry: MCarried[] }
  | { t: 'answer'; k: number; approved: boolean }
  | {
      t: 'receipt';
      k: number;
      s: string;
      id: string;
      /** Use the request's own tool and arguments; otherwise `tool` and `args`. */
      same: boolean;
      tool: string;
      args: unknown;
      tamper: boolean;
      /** Approve the request just before using it. */
      approveFirst: boolean;
    }
  | { t: 'authorize'; s: string; id: string; tool: string; args: unknown; approve: boolean }
  | { t: 'tick'; ms: number };

const session = weighted<string>(['s1', 12], ['s2', 4], ['k1', 3], ['k2', 1]);
const configuration = fc.constantFrom('dynamic', 'AB', 'AC', 'BC');
const input = fc.constantFrom<'trusted' | 'untrusted'>('trusted', 'untrusted');
/** Which approval request an answer or receipt refers to: -1 is the latest. */
const approvalIndex = weighted([-1, 6], [0, 3], [1, 1]);

/** A random event. */
export const eventArb: fc.Arbitrary<TraceEvent> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record(
      { t: fc.constant('open' as const), s: session, configuration, input },
      { requiredKeys: ['t', 's'] },
    ),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant('call' as const),
      s: session,
      id: callId,
      tool: fc.constantFrom(...CALL_TOOLS),
      args: argsArb,
    }),
  },
  {
    weight: 7,
    arbitrary: fc.record({
      t: fc.constant('result' as const),
      s: session,
      id: weighted<string>(['last', 5], ['c1', 1], ['c2', 1]),
      output: outputArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('drop' as const), s: session, leg: fc.constantFrom<MLeg>('A', 'B', 'C') }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        t: fc.constant('fork' as const),
        s: session,
        child: fc.constantFrom('k1', 'k2'),
        configuration,
        input,
        carry: fc.array(carriedArb, { maxLength: 2 }),
      },
      { requiredKeys: ['t', 's', 'child', 'carry'] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('answer' as const),
      k: approvalIndex,
      approved: weighted([true, 3], [false, 1]),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('receipt' as const),
      k: approvalIndex,
      s: session,
      id: callId,
      same: weighted([true, 3], [false, 1]),
      tool: fc.constantFrom(...CALL_TOOLS),
      args: argsArb,
      tamper: weighted([false, 4], [true, 1]),
      approveFirst: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('authorize' as const),
      s: session,
      id: callId,
      tool: fc.constantFrom(...CALL_TOOLS),
      args: argsArb,
      approve: weighted([true, 2], [false, 1]),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(10, 700, 2000, 120_000) }) },
);

/** A trace: a few sessions opened up front, then random events. */
export const traceArb: fc.Arbitrary<TraceEvent[]> = fc
  .tuple(
    fc.tuple(
      fc.record(
        { t: fc.constant('open' as const), s: fc.constant('s1'), configuration, input },
        { requiredKeys: ['t', 's'] },
      ),
      fc.record(
        { t: fc.constant('open' as const), s: fc.constant('s2'), configuration, input },
        { requiredKeys: ['t', 's'] },
      ),
    ),
    fc.array(eventArb, { maxLength: 30 }),
  )
  .map(([opens, events]) => [...opens, ...events]);

// ---------------------------------------------------------------------------------------------------------------
// Running a trace

/** What the guard did with one event, for invariant checks. */
export interface Step {
  event: TraceEvent;
  /** The call as checked (for call and receipt events). */
  call?: { id: string; tool: string; args?: unknown };
  decision?: Decision;
  /** The approved request whose receipt the approval store accepted for this call. */
  approved?: { sessionId: string; tool: string; args: unknown };
  /** Views of every session after the event. */
  views: Map<string, SessionView | undefined>;
  outcome?: unknown;
}

interface ModelApproval extends MApproval {
  hash: string;
  status: 'pending' | 'approved' | 'denied' | 'expired';
  used: boolean;
}

/** The guard of a trace run, with a settable clock. */
export interface TraceGuard {
  guard: Guard;
  clock: { now: number };
}

/** A guard for a trace: memory stores unless given, a fake clock and counting ids. */
export function traceGuard(doc: ModelPolicyDoc, options: Partial<GuardOptions> = {}): TraceGuard {
  const clock = { now: 1_000_000 };
  const guard = createGuard({
    policy: compilePolicy(doc as unknown as PolicyDocument),
    now: () => clock.now,
    newId: counterIds('r'),
    ...options,
  });
  return { guard, clock };
}

/** Checks that a generated document is valid (so a generator mistake cannot hide as an engine disagreement). */
export function assertValid(doc: ModelPolicyDoc): void {
  const validation = validatePolicy(structuredClone(doc));
  expect(validation.issues).toEqual([]);
}

function viewOfModel(s: MSession) {
  return {
    id: s.id,
    configuration: s.configuration,
    legs: letters(effective(s)),
    held: letters(s.held),
    reserved: letters(reserved(s)),
    dropped: letters(s.dropped),
    seq: s.seq,
    pending: s.pending.map((p) => ({ callId: p.callId, tool: p.tool, post: letters(p.post) })),
    evidence: s.evidence,
    ...(s.parent === undefined ? {} : { parent: s.parent }),
  };
}

function decisionSummary(decision: Decision) {
  return {
    effect: decision.effect,
    codes: decision.reasons.map((r) => r.code),
    rules: decision.reasons.map((r) => r.rule),
    seq: decision.seq,
    legsBefore: decision.legsBefore,
    legsAfter: decision.legsAfter,
    evidence: decision.evidence,
    ...(decision.call ? { call: decision.call } : {}),
  };
}

/** What the model predicts of an approval request. */
function bindingOf(request: NonNullable<Decision['approval']>) {
  return {
    sessionId: request.sessionId,
    seq: request.seq,
    tool: request.tool,
    args: request.args,
    policyVersion: request.policyVersion,
    expiresAt: request.expiresAt,
    legsBefore: request.legsBefore,
    legsIfApproved: request.legsIfApproved,
  };
}

async function threw(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return await fn();
  } catch (error) {
    return { threw: error instanceof Error ? error.name : String(error) };
  }
}

/**
 * Plays a trace through a fresh guard and through the model; every decision, outcome and session view must agree.
 * Returns the guard's steps for invariant checks.
 */
export async function runAgainstModel(doc: ModelPolicyDoc, trace: TraceEvent[]): Promise<Step[]> {
  // The approver answers as the current `authorize` event says, and shows the test the request it was given.
  let approverAnswer = false;
  let shown: NonNullable<Decision['approval']> | undefined;
  const { guard, clock } = traceGuard(doc, {
    approver: (request) => {
      shown = request;
      return approverAnswer;
    },
  });
  const version = guard.policy.version;
  const sessions = new Map<string, MSession>();
  const approvals: ModelApproval[] = [];
  const steps: Step[] = [];
  const defaults = {
    configuration: doc.session?.configuration ?? 'dynamic',
    input: doc.session?.input ?? 'untrusted',
  };

  const answer = async (k: number, approved: boolean, context: string) => {
    const record = approvals.at(k);
    if (!record) return;
    const receipt = await guard.answer(record.id, { approved });
    if (record.status === 'pending') {
      record.status = clock.now > record.expiresAt ? 'expired' : approved ? 'approved' : 'denied';
    }
    const unused = record.status === 'approved' && !record.used;
    // A no never yields a receipt, and withdraws an approval given earlier and not yet used.
    if (unused && !approved) record.used = true;
    const expected = unused && approved ? { requestId: record.id, hash: record.hash } : undefined;
    expect(receipt, context).toEqual(expected);
  };

  for (const event of trace) {
    const step: Step = { event, views: new Map() };
    const context = () => JSON.stringify({ event, step: steps.length });
    switch (event.t) {
      case 'open': {
        const options = {
          ...(event.configuration === undefined ? {} : { configuration: event.configuration as 'dynamic' }),
          ...(event.input === undefined ? {} : { input: event.input }),
        };
        const result = await threw(() => guard.session(event.s, options).then(() => 'ok'));
        const existing = sessions.get(event.s);
        let expected: unknown = 'ok';
        if (existing) {
          if (event.configuration !== undefined && event.configuration !== existing.configuration) {
            expected = { threw: 'ConfigError' };
          } else if (event.input === 'untrusted' && !existing.held.has('A')) {
            expected = { threw: 'ConfigError' };
          }
        } else {
          const opened = openSession(
            event.s,
            event.configuration ?? defaults.configuration,
            event.input ?? defaults.input,
          );
          if (typeof opened === 'string') expected = { threw: 'ConfigError' };
          else sessions.set(event.s, opened);
        }
        expect(result, context()).toEqual(expected);
        break;
      }
      case 'call':
      case 'receipt': {
        let call: { id: string; tool: string; args?: unknown };
        let receipt: ApprovalReceipt | undefined;
        let approved: ModelApproval | undefined;
        let refused = false;
        let sessionId = event.s;
        if (event.t === 'call') {
          call =
            event.args === undefined
              ? { id: event.id, tool: event.tool }
              : { id: event.id, tool: event.tool, args: event.args };
        } else {
          if (event.approveFirst) await answer(event.k, true, context());
          const record = approvals.at(event.k);
          if (!record) break;
          const args = event.same ? record.args : event.args;
          // The same call: the request's session, tool and arguments, under a fresh call id.
          if (event.same) sessionId = record.sessionId;
          call = { id: event.same ? `${record.id}-use` : event.id, tool: event.same ? record.tool : event.tool };
          if (args !== undefined) call.args = args;
          receipt = { requestId: record.id, hash: event.tamper ? 'f'.repeat(64) : record.hash };
          // The approval store's single-use state machine.
          if (!event.tamper && !record.used) {
            if (record.status === 'pending' && clock.now > record.expiresAt) record.status = 'expired';
            if (record.status === 'approved' && clock.now <= record.expiresAt) {
              record.used = true;
              approved = record;
            } else refused = true;
          } else refused = true;
        }
        const decision = await guard.check(sessionId, call, receipt ? { receipt } : {});
        step.call = call;
        step.decision = decision;
        const state = sessions.get(sessionId);
        if (refused || !state) {
          const before = state ? letters(effective(state)) : '';
          expect(decisionSummary(decision), context()).toEqual({
            effect: 'deny',
            codes: [refused ? 'receipt_invalid' : 'unknown_session'],
            rules: [0],
            seq: state?.seq ?? 0,
            legsBefore: before,
            legsAfter: before,
            evidence: [],
          });
          break;
        }
        const outcome = modelDecide(doc, version, state, call, clock.now, approved);
        sessions.set(sessionId, outcome.state);
        const { approval, ...expected } = outcome.decision;
        expect(decisionSummary(decision), context()).toEqual(expected);
        if (approval) {
          const request = decision.approval;
          expect(request, context()).toBeDefined();
          if (!request) break;
          expect(bindingOf(request), context()).toEqual(approval);
          approvals.push({ ...approval, id: request.id, hash: request.hash, status: 'pending', used: false });
        } else {
          expect(decision.approval, context()).toBeUndefined();
        }
        if (approved) step.approved = { sessionId: approved.sessionId, tool: approved.tool, args: approved.args };
        break;
      }
      case 'authorize': {
        const call =
          event.args === undefined
            ? { id: event.id, tool: event.tool }
            : { id: event.id, tool: event.tool, args: event.args };
        approverAnswer = event.approve;
        shown = undefined;
        const decision = await guard.authorize(event.s, call);
        // Set by the approver callback, which TypeScript's narrowing cannot see.
        const request = shown as NonNullable<Decision['approval']> | undefined;
        step.call = call;
        step.decision = decision;
        const state = sessions.get(event.s);
        if (!state) {
          expect(
            decision.reasons.map((r) => r.code),
            context(),
          ).toEqual(['unknown_session']);
          break;
        }
        const first = modelDecide(doc, version, state, call, clock.now);
        sessions.set(event.s, first.state);
        const { approval, ...asked } = first.decision;
        if (!approval) {
          expect(decisionSummary(decision), context()).toEqual(asked);
          expect(request, context()).toBeUndefined();
          break;
        }
        // The guard asked: the approver saw the request the model expects, and its answer decides.
        expect(request && bindingOf(request), context()).toEqual(approval);
        if (!request) break;
        const record: ModelApproval = {
          ...approval,
          id: request.id,
          hash: request.hash,
          status: 'pending',
          used: false,
        };
        approvals.push(record);
        record.status = clock.now > record.expiresAt ? 'expired' : event.approve ? 'approved' : 'denied';
        if (record.status !== 'approved') {
          expect(decisionSummary(decision), context()).toEqual({
            ...asked,
            effect: 'deny',
            codes: [...asked.codes, 'approval_denied'],
            rules: [...asked.rules, 0],
            legsAfter: asked.legsBefore,
          });
          break;
        }
        record.used = true;
        const second = modelDecide(doc, version, first.state, call, clock.now, record);
        sessions.set(event.s, second.state);
        expect(decisionSummary(decision), context()).toEqual(second.decision);
        step.approved = { sessionId: record.sessionId, tool: record.tool, args: record.args };
        break;
      }
      case 'result': {
        const state = sessions.get(event.s);
        // `last`: the latest call still pending in the session (per the model), so results usually land.
        const id = event.id === 'last' ? (state?.pending.at(-1)?.callId ?? 'c9') : event.id;
        const outcome = await guard.record(event.s, id, event.output);
        step.outcome = outcome;
        const recorded = state ? modelRecord(doc, state, id, event.output) : undefined;
        if (recorded && state) sessions.set(event.s, recorded.state);
        expect(outcome.ok ? { ok: true, brought: outcome.brought } : { ok: false }, context()).toEqual(
          recorded ? { ok: true, brought: recorded.brought } : { ok: false },
        );
        break;
      }
      case 'drop': {
        const outcome = await guard.drop(event.s, event.leg);
        step.outcome = outcome;
        const state = sessions.get(event.s);
        const dropped = state ? modelDrop(state, event.leg) : 'unknown_session';
        if (typeof dropped !== 'string') sessions.set(event.s, dropped);
        expect(outcome.ok ? 'ok' : outcome.code, context()).toBe(typeof dropped === 'string' ? dropped : 'ok');
        break;
      }
      case 'fork': {
        const options = {
          id: event.child,
          ...(event.configuration === undefined ? {} : { configuration: event.configuration as 'dynamic' }),
          ...(event.input === undefined ? {} : { input: event.input }),
          carry: event.carry as CarriedValue[],
        };
        const result = await threw(() => guard.fork(event.s, options).then(() => 'ok'));
        const parent = sessions.get(event.s);
        let expected: unknown = { threw: 'ConfigError' };
        if (parent) {
          const child = modelFork(parent, event.child, event);
          if (typeof child !== 'string' && !sessions.has(event.child)) {
            sessions.set(event.child, child);
            expected = 'ok';
          }
        }
        expect(result, context()).toEqual(expected);
        break;
      }
      case 'answer':
        await answer(event.k, event.approved, context());
        break;
      case 'tick':
        clock.now += event.ms;
        break;
    }
    for (const id of SESSIONS) {
      const view = await guard.view(id);
      step.views.set(id, view);
      const model = sessions.get(id);
      expect(view, `${context()} session ${id}`).toEqual(model ? viewOfModel(model) : undefined);
    }
    steps.push(step);
  }
  return steps;
}

/** Legs of a decided call (call and output legs), from the decision. */
export function decidedLegs(decision: Decision): Set<MLeg> {
  return legs(`${decision.call?.pre ?? ''}${decision.call?.post ?? ''}`);
}
