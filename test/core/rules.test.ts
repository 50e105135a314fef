import { describe, expect, it } from 'vitest';
import { approvalHash } from '../../src/core/approval.ts';
import { type DecideContext, decide, type ToolCall } from '../../src/core/decide.ts';
import type { ApprovalRequest } from '../../src/core/decision.ts';
import type { Configuration, PolicyDocument } from '../../src/core/document.ts';
import { compilePolicy, type Policy } from '../../src/core/policy.ts';
import { newSessionState, type SessionState } from '../../src/core/state.ts';
import { dropLeg, recordResult } from '../../src/core/transitions.ts';
import { counterIds } from '../helpers.ts';

const document: PolicyDocument = {
  version: 1,
  lists: { internal: ['*@corp.test'] },
  tools: {
    read_inbox: { call: 'B', output: 'AB' },
    read_web: { output: 'A' },
    lookup: { call: 'B' },
    send_email: { call: 'BC', when: [{ match: { to: { in: 'internal' } }, call: 'B' }] },
    post_public: { call: 'C' },
    wire: { call: 'BC', gate: 'deny' },
    agent: { legs: 'ABC' },
  },
};
const policy = compilePolicy(document);

function session(configuration: Configuration = 'dynamic', input: 'trusted' | 'untrusted' = 'trusted'): SessionState {
  return newSessionState({ id: 's1', configuration, input, now: 0 });
}

function context(extra: Partial<DecideContext> = {}): DecideContext {
  return { now: 1000, newId: counterIds('req'), ...extra };
}

/** Runs calls (recording each allowed call's output) and returns the final state. */
function play(state: SessionState, calls: ToolCall[], p: Policy = policy): SessionState {
  let current = state;
  for (const call of calls) {
    const outcome = decide(p, current, call, context());
    expect(outcome.decision.effect, call.tool).toBe('allow');
    const recorded = recordResult(p, outcome.state, call.id, 'output');
    if (!recorded.ok) throw new Error(recorded.message);
    current = recorded.state;
  }
  return current;
}

const codes = (reasons: { code: string }[]) => reasons.map((r) => r.code);

describe('rule 1: a dropped leg denies', () => {
  it('names the drop and is not lifted by an approval', () => {
    const dropped = dropLeg(session(), 'C', 'browsing only');
    if (!dropped.ok) throw new Error(dropped.message);
    const { decision } = decide(policy, dropped.state, { id: 'c1', tool: 'post_public' }, context());
    expect(decision.effect).toBe('deny');
    expect(decision.reasons).toEqual([
      { code: 'leg_dropped', rule: 1, message: 'leg C was dropped at seq 1 and cannot return' },
    ]);
    const approval = {
      id: 'req-x',
      hash: '',
      sessionId: 's1',
      seq: 2,
      tool: 'post_public',
      args: null,
    } as ApprovalRequest;
    const approved = decide(policy, dropped.state, { id: 'c1', tool: 'post_public' }, context({ approved: approval }));
    expect(approved.decision.effect).toBe('deny');
    expect(codes(approved.decision.reasons)).toEqual(['leg_dropped']);
  });
});

describe('rule 2: a fixed configuration excludes a leg', () => {
  it('asks for a C call in AB, with the configuration in the message', () => {
    const { decision, state } = decide(policy, session('AB'), { id: 'c1', tool: 'post_public' }, context());
    expect(decision.effect).toBe('ask');
    expect(decision.reasons).toEqual([
      { code: 'configuration_excludes_leg', rule: 2, message: 'configuration AB excludes leg C of `post_public`' },
    ]);
    expect(state.held).toBe(0);
    expect(state.pending).toEqual([]);
  });

  it('denies when the tool’s gate is deny', () => {
    const { decision } = decide(policy, session('AC'), { id: 'c1', tool: 'wire' }, context());
    expect(decision.effect).toBe('deny');
    expect(codes(decision.reasons)).toEqual(['configuration_excludes_leg']);
    expect(decision.approval).toBeUndefined();
  });

  it('counts output legs too: untrusted output in BC', () => {
    const { decision } = decide(policy, session('BC'), { id: 'c1', tool: 'read_web' }, context());
    expect(decision.reasons[0]?.message).toBe('configuration BC excludes leg A of `read_web`');
  });
});

describe('rule 3: the lethal trifecta', () => {
  it('asks for external mail after untrusted and sensitive input, naming the events behind A and B', () => {
    const state = play(session('dynamic', 'untrusted'), [{ id: 'c1', tool: 'lookup' }]);
    const { decision } = decide(
      policy,
      state,
      { id: 'c2', tool: 'send_email', args: { to: 'eve@evil.test' } },
      context(),
    );
    expect(decision.effect).toBe('ask');
    expect(decision.reasons).toEqual([
      { code: 'lethal_trifecta', rule: 3, message: '`send_email` is consequential (C) while the session holds AB' },
    ]);
    expect(decision.evidence).toEqual([
      { leg: 'A', seq: 0, source: 'input' },
      { leg: 'B', seq: 1, source: 'call', callId: 'c1', tool: 'lookup' },
    ]);
    expect(decision.legsBefore).toBe('AB');
    expect(decision.legsAfter).toBe('AB');
    expect(decision.approval).toMatchObject({ tool: 'send_email', legsBefore: 'AB', legsIfApproved: 'ABC', seq: 3 });
  });

  it('counts the call’s own B: a mail as the user with untrusted input in context', () => {
    const state = play(session(), [{ id: 'c1', tool: 'read_web' }]);
    const { decision } = decide(
      policy,
      state,
      { id: 'c2', tool: 'send_email', args: { to: 'eve@evil.test' } },
      context(),
    );
    expect(codes(decision.reasons)).toEqual(['lethal_trifecta']);
    expect(decision.evidence).toEqual([{ leg: 'A', seq: 2, source: 'result', callId: 'c1', tool: 'read_web' }]);
  });

  it('counts reserved output legs of a pending call', () => {
    const reading = decide(policy, session(), { id: 'c1', tool: 'read_inbox' }, context());
    expect(reading.decision.legsAfter).toBe('AB');
    const { decision } = decide(policy, reading.state, { id: 'c2', tool: 'post_public' }, context());
    expect(codes(decision.reasons)).toEqual(['lethal_trifecta']);
    expect(decision.evidence).toContainEqual({
      leg: 'A',
      seq: 1,
      source: 'reserved',
      callId: 'c1',
      tool: 'read_inbox',
    });
  });

  it('allows the same mail to an internal recipient (an argument condition drops C)', () => {
    const state = play(session('dynamic', 'untrusted'), [{ id: 'c1', tool: 'lookup' }]);
    const { decision } = decide(
      policy,
      state,
      { id: 'c2', tool: 'send_email', args: { to: 'bob@corp.test' } },
      context(),
    );
    expect(decision.effect).toBe('allow');
    expect(decision.call).toEqual({ profile: 'send_email', source: 'when[0]', pre: 'B', post: '' });
  });
});

describe('rule 4: a tool that is a trifecta by itself', () => {
  it('is gated even in a fresh, trusted session', () => {
    const { decision } = decide(policy, session(), { id: 'c1', tool: 'agent' }, context());
    expect(decision.effect).toBe('ask');
    expect(decision.reasons).toEqual([
      { code: 'tool_is_trifecta', rule: 4, message: '`agent` is a trifecta by itself (ABC)' },
    ]);
  });

  it('applies to unknown tools, which count as A+B+C', () => {
    const { decision } = decide(policy, session(), { id: 'c1', tool: 'mystery' }, context());
    expect(decision.effect).toBe('ask');
    expect(codes(decision.reasons)).toEqual(['unknown_tool', 'tool_is_trifecta']);
    expect(decision.reasons[0]?.message).toBe('unknown tool `mystery` counts as ABC');
    expect(decision.call?.profile).toBe('*unknown*');
  });
});

describe('rule 5: allow and reserve', () => {
  it('reserves output legs at decision time and commits what the result brings', () => {
    const { decision, state } = decide(policy, session(), { id: 'c1', tool: 'read_inbox' }, context());
    expect(decision).toMatchObject({ effect: 'allow', seq: 1, legsBefore: '', legsAfter: 'AB' });
    expect(decision.reasons).toEqual([
      { code: 'allowed', rule: 5, message: '`read_inbox` confers B and may bring AB: no trifecta' },
    ]);
    expect(state.held).toBe(2);
    expect(state.pending).toEqual([{ callId: 'c1', tool: 'read_inbox', post: 3, seq: 1 }]);
    const recorded = recordResult(policy, state, 'c1', []);
    expect(recorded).toMatchObject({ ok: true, reserved: 'AB', brought: 'AB', legsAfter: 'AB' });
  });

  it('refuses a second pending call with the same id and a call without id or tool', () => {
    const { state } = decide(policy, session(), { id: 'c1', tool: 'lookup' }, context());
    const again = decide(policy, state, { id: 'c1', tool: 'lookup' }, context());
    expect(again.decision.effect).toBe('deny');
    expect(codes(again.decision.reasons)).toEqual(['duplicate_call_id']);
    expect(again.state).toBe(state);
    const invalid = decide(policy, state, { id: '', tool: 'lookup' }, context());
    expect(codes(invalid.decision.reasons)).toEqual(['invalid_call']);
  });
});

describe('approvals in decide', () => {
  const call = { id: 'c2', tool: 'send_email', args: { to: 'eve@evil.test', body: 'hi' } };
  const gatedState = () => play(session('dynamic', 'untrusted'), [{ id: 'c1', tool: 'lookup' }]);
  const ask = () => {
    const outcome = decide(policy, gatedState(), call, context());
    if (!outcome.decision.approval) throw new Error('expected an approval request');
    return { request: outcome.decision.approval, state: outcome.state };
  };

  it('binds the request to a hash of (session, seq, tool, args, policy version)', () => {
    const { request } = ask();
    expect(request.hash).toBe(
      approvalHash({
        sessionId: 's1',
        seq: request.seq,
        tool: 'send_email',
        args: call.args,
        policyVersion: policy.version,
      }),
    );
    expect(request.expiresAt - request.createdAt).toBe(5 * 60_000);
  });

  it('carries the hash as plain data through JSON and structured cloning', () => {
    const { request } = ask();
    expect(JSON.parse(JSON.stringify(request)).hash).toBe(request.hash);
    expect(structuredClone(request).hash).toBe(request.hash);
    expect({ ...request }.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('denies a gated call whose arguments are not JSON, at decision time', () => {
    const { decision, state } = decide(policy, gatedState(), { ...call, args: { amount: 10n } }, context());
    expect(decision.effect).toBe('deny');
    expect(decision.reasons).toEqual([
      expect.objectContaining({
        code: 'engine_error',
        message: 'engine error: value of type bigint at `$[4].amount`',
      }),
    ]);
    expect(state).toEqual(gatedState());
  });

  it('allows the exact approved call and denies an expired, changed or foreign approval', () => {
    const { request, state } = ask();
    const approved = decide(policy, state, { ...call, id: 'c3' }, context({ approved: request }));
    expect(approved.decision.effect).toBe('allow');
    expect(codes(approved.decision.reasons)).toEqual(['lethal_trifecta', 'approved']);
    const cases: [string, ToolCall, Partial<DecideContext>, string][] = [
      ['expired', { ...call, id: 'c3' }, { now: request.expiresAt + 1 }, 'expired'],
      ['other args', { ...call, id: 'c3', args: { to: 'eve@evil.test', body: 'all the mail' } }, {}, 'other arguments'],
      ['other tool', { id: 'c3', tool: 'post_public', args: call.args }, {}, 'is for tool `send_email`'],
    ];
    for (const [name, other, extra, message] of cases) {
      const outcome = decide(policy, state, other, context({ approved: request, ...extra }));
      expect(outcome.decision.effect, name).toBe('deny');
      expect(outcome.decision.reasons.at(-1)?.code, name).toBe('receipt_invalid');
      expect(outcome.decision.reasons.at(-1)?.message, name).toContain(message);
    }
    const elsewhere = decide(policy, { ...state, id: 's2' }, { ...call, id: 'c3' }, context({ approved: request }));
    expect(elsewhere.decision.reasons.at(-1)?.message).toContain('another session');
    const changed = compilePolicy({ ...document, name: 'changed' });
    const otherPolicy = decide(changed, state, { ...call, id: 'c3' }, context({ approved: request }));
    expect(otherPolicy.decision.reasons.at(-1)?.message).toContain('another policy');
  });
});

describe('the keys of a decision', () => {
  it('come in the order decisions have always been written, for each effect (the log keeps insertion order)', () => {
    const head = ['sessionId', 'callId', 'tool', 'seq', 'policyVersion', 'call', 'legsBefore', 'evidence'];
    const keysOf = (state: SessionState, call: ToolCall) =>
      Object.keys(decide(policy, state, call, context()).decision);
    const untrusted = play(session('dynamic', 'untrusted'), [{ id: 'c1', tool: 'lookup' }]);
    expect(keysOf(session(), { id: 'a', tool: 'lookup' })).toEqual([...head, 'reasons', 'effect', 'legsAfter']);
    expect(keysOf(untrusted, { id: 'd', tool: 'wire' })).toEqual([...head, 'effect', 'legsAfter', 'reasons']);
    expect(keysOf(untrusted, { id: 'q', tool: 'post_public' })).toEqual([
      ...head,
      'effect',
      'legsAfter',
      'reasons',
      'approval',
    ]);
  });
});
