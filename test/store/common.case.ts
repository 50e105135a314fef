import { expect, it } from 'vitest';
import { approvalHash } from '../../src/core/approval.ts';
import type { ApprovalRequest } from '../../src/core/decision.ts';
import { newSessionState, type SessionState } from '../../src/core/state.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { counterIds, emailBot } from '../helpers.ts';
import type { StoreKind } from './stores.ts';

const T0 = 1_700_000_000_000;

function request(id: string, change: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const binding = { sessionId: 's1', seq: 3, tool: 'send_email', args: { to: 'x@evil.test' }, policyVersion: 'v1' };
  return {
    id,
    hash: approvalHash(binding),
    ...binding,
    callId: `call-${id}`,
    createdAt: T0,
    expiresAt: T0 + 60_000,
    legsBefore: 'AB',
    legsIfApproved: 'ABC',
    reasons: [{ code: 'lethal_trifecta', rule: 3, message: 'would hold A, B and C' }],
    evidence: [{ leg: 'A', seq: 1, source: 'result', callId: 'c1', tool: 'read_inbox' }],
    ...change,
  };
}

function session(id: string, seq = 0): SessionState {
  return { ...newSessionState({ id, configuration: 'dynamic', input: 'trusted', now: T0 }), seq };
}

/** Every case every store implementation must pass (CONVENTIONS.md rule 13). */
export function storeConformance(kind: StoreKind): void {
  const withKit = (name: string, body: (kit: Awaited<ReturnType<StoreKind['open']>>) => Promise<void>) =>
    it(name, async () => {
      const kit = await kind.open();
      try {
        await body(kit);
      } finally {
        await kit.close();
      }
    });

  withKit('sessions: an unknown session is undefined, a committed one reads back', async ({ sessions }) => {
    expect(await sessions.get('s1')).toBeUndefined();
    const created = await sessions.transact('s1', (state) => {
      expect(state).toBeUndefined();
      return { state: session('s1', 1), result: 'made' };
    });
    expect(created).toBe('made');
    expect(await sessions.get('s1')).toEqual(session('s1', 1));
    expect(await sessions.get('s2')).toBeUndefined();
  });

  withKit('sessions: an update without a state changes nothing', async ({ sessions }) => {
    await sessions.transact('s1', () => ({ state: session('s1', 4), result: undefined }));
    expect(await sessions.transact('s1', (state) => ({ result: state?.seq }))).toBe(4);
    expect((await sessions.get('s1'))?.seq).toBe(4);
  });

  withKit('sessions: an update that throws rejects and commits nothing', async ({ sessions }) => {
    await sessions.transact('s1', () => ({ state: session('s1', 1), result: undefined }));
    await expect(
      sessions.transact('s1', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await sessions.get('s1'))?.seq).toBe(1);
    expect(
      await sessions.transact('s1', (state) => ({ state: { ...(state as SessionState), seq: 2 }, result: 2 })),
    ).toBe(2);
  });

  withKit('sessions: concurrent read-modify-writes of one session lose no update', async ({ sessions }) => {
    await sessions.transact('s1', () => ({ state: session('s1'), result: undefined }));
    const bump = () =>
      sessions.transact('s1', (state) => {
        const s = state as SessionState;
        return { state: { ...s, seq: s.seq + 1 }, result: s.seq + 1 };
      });
    const results = await Promise.all(Array.from({ length: 50 }, bump));
    expect(new Set(results).size).toBe(50);
    expect((await sessions.get('s1'))?.seq).toBe(50);
  });

  withKit('sessions: a closed store rejects', async ({ sessions }) => {
    await sessions.close();
    await expect(sessions.get('s1')).rejects.toThrow(/closed/);
    await expect(sessions.transact('s1', () => ({ result: 1 }))).rejects.toThrow(/closed/);
  });

  withKit('approvals: a request starts pending and a duplicate is refused', async ({ approvals }) => {
    await approvals.create(request('r1'));
    expect(await approvals.get('r1')).toEqual({ request: request('r1'), status: 'pending' });
    await expect(approvals.create(request('r1'))).rejects.toThrow(/exists/);
    expect(await approvals.get('nope')).toBeUndefined();
  });

  withKit('approvals: the first answer wins and later answers change nothing', async ({ approvals }) => {
    await approvals.create(request('r1'));
    const approved = await approvals.answer('r1', { approved: true, by: 'ana', reason: 'ok' }, T0 + 1);
    expect(approved?.changed).toBe(true);
    expect(approved?.record).toMatchObject({ status: 'approved', by: 'ana', reason: 'ok', answeredAt: T0 + 1 });
    const again = await approvals.answer('r1', { approved: false, by: 'eve' }, T0 + 2);
    expect(again?.changed).toBe(false);
    expect(again?.record).toMatchObject({ status: 'approved', by: 'ana' });
    expect(await approvals.get('r1')).toMatchObject({ status: 'approved', by: 'ana' });
    expect(await approvals.answer('nope', { approved: true }, T0)).toBeUndefined();
  });

  withKit('approvals: an answer says whether it changed the request', async ({ approvals }) => {
    // A late or replayed answer must be told apart from the one that closed the request: only that one is audited.
    await approvals.create(request('r1'));
    const late = await approvals.answer('r1', { approved: true, by: 'ana' }, T0 + 60_001);
    expect(late).toMatchObject({ changed: true, record: { status: 'expired', answeredAt: T0 + 60_001 } });
    const replayed = await approvals.answer('r1', { approved: true, by: 'eve' }, T0 + 60_002);
    expect(replayed).toMatchObject({ changed: false, record: { status: 'expired', answeredAt: T0 + 60_001 } });
    expect(replayed?.record.by).toBe('ana');
    await approvals.create(request('r2'));
    expect((await approvals.answer('r2', { approved: false, by: 'ana' }, T0 + 1))?.changed).toBe(true);
    expect((await approvals.answer('r2', { approved: false, by: 'ana' }, T0 + 2))?.changed).toBe(false);
    // A receipt expired by `consume` counts as answered: a later answer changes nothing.
    await approvals.create(request('r3'));
    await approvals.consume({ requestId: 'r3', hash: request('r3').hash }, T0 + 60_001);
    expect(await approvals.answer('r3', { approved: true }, T0 + 60_002)).toMatchObject({
      changed: false,
      record: { status: 'expired' },
    });
  });

  withKit('approvals: an answer whose `approved` is not the boolean true is a refusal', async ({ approvals }) => {
    // Answers arrive from web forms, JSON bodies and approver hooks: "false", 1 or {} must never approve.
    const malformed: unknown[] = ['false', 'no', 1, {}, [], undefined];
    for (const [i, approved] of malformed.entries()) {
      await approvals.create(request(`r${i}`));
      const answered = await approvals.answer(`r${i}`, { approved } as never, T0 + 1);
      expect(answered?.record.status).toBe('denied');
      expect(await approvals.consume({ requestId: `r${i}`, hash: request(`r${i}`).hash }, T0 + 2)).toEqual({
        ok: false,
        failure: 'denied',
      });
    }
  });

  withKit('approvals: an answer after expiry expires the request', async ({ approvals }) => {
    await approvals.create(request('r1'));
    const late = await approvals.answer('r1', { approved: true }, T0 + 60_001);
    expect(late?.record.status).toBe('expired');
    expect(await approvals.consume({ requestId: 'r1', hash: request('r1').hash }, T0 + 60_002)).toEqual({
      ok: false,
      failure: 'expired',
    });
  });

  withKit('approvals: a receipt is good once, for its own hash', async ({ approvals }) => {
    await approvals.create(request('r1'));
    const hash = request('r1').hash;
    expect(await approvals.consume({ requestId: 'r1', hash }, T0 + 1)).toEqual({ ok: false, failure: 'pending' });
    await approvals.answer('r1', { approved: true }, T0 + 1);
    expect(await approvals.consume({ requestId: 'r1', hash: 'f'.repeat(64) }, T0 + 2)).toEqual({
      ok: false,
      failure: 'mismatch',
    });
    const used = await approvals.consume({ requestId: 'r1', hash }, T0 + 3);
    expect(used.ok).toBe(true);
    expect(await approvals.consume({ requestId: 'r1', hash }, T0 + 4)).toEqual({ ok: false, failure: 'used' });
    expect(await approvals.consume({ requestId: 'r9', hash }, T0 + 4)).toEqual({ ok: false, failure: 'unknown' });
    expect((await approvals.get('r1'))?.usedAt).toBe(T0 + 3);
  });

  withKit('approvals: a denied request yields no receipt', async ({ approvals }) => {
    await approvals.create(request('r1'));
    await approvals.answer('r1', { approved: false }, T0 + 1);
    expect(await approvals.consume({ requestId: 'r1', hash: request('r1').hash }, T0 + 2)).toEqual({
      ok: false,
      failure: 'denied',
    });
  });

  withKit('approvals: an approved receipt used after expiry is refused', async ({ approvals }) => {
    await approvals.create(request('r1'));
    await approvals.answer('r1', { approved: true }, T0 + 1);
    expect(await approvals.consume({ requestId: 'r1', hash: request('r1').hash }, T0 + 60_001)).toEqual({
      ok: false,
      failure: 'expired',
    });
  });

  withKit('approvals: concurrent consumers of one receipt: exactly one wins', async ({ approvals }) => {
    await approvals.create(request('r1'));
    await approvals.answer('r1', { approved: true }, T0 + 1);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => approvals.consume({ requestId: 'r1', hash: request('r1').hash }, T0 + 2)),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
  });

  withKit(
    'approvals: times that are not whole milliseconds (a high-resolution clock) are kept',
    async ({ approvals }) => {
      const precise = request('r1', { createdAt: T0 + 0.25, expiresAt: T0 + 60_000.25 });
      await approvals.create(precise);
      expect(await approvals.answer('r1', { approved: true }, T0 + 1.5)).toMatchObject({ changed: true });
      expect(await approvals.consume({ requestId: 'r1', hash: precise.hash }, T0 + 2.5)).toMatchObject({ ok: true });
      expect(await approvals.get('r1')).toMatchObject({ request: precise, answeredAt: T0 + 1.5, usedAt: T0 + 2.5 });
    },
  );

  withKit('approvals: list filters by status and session', async ({ approvals }) => {
    await approvals.create(request('r1'));
    await approvals.create(request('r2', { sessionId: 's2', createdAt: T0 + 1 }));
    await approvals.create(request('r3', { createdAt: T0 + 2 }));
    await approvals.answer('r3', { approved: false }, T0 + 3);
    const ids = async (filter?: Parameters<typeof approvals.list>[0]) =>
      (await approvals.list(filter)).map((r) => r.request.id).sort();
    expect(await ids()).toEqual(['r1', 'r2', 'r3']);
    expect(await ids({ status: 'pending' })).toEqual(['r1', 'r2']);
    expect(await ids({ sessionId: 's2' })).toEqual(['r2']);
    expect(await ids({ status: 'denied', sessionId: 's1' })).toEqual(['r3']);
  });

  withKit('audit: appended events read back in order, as JSON', async ({ audit, events }) => {
    const appended = Array.from({ length: 30 }, (_, i) => ({
      type: 'result.ignored' as const,
      at: T0 + i,
      sessionId: 's1',
      callId: `c${i}`,
      reason: i % 2 ? 'unknown call' : 'late',
    }));
    await Promise.all(appended.map((e) => audit.append(e)));
    await audit.append({
      type: 'transition',
      at: T0,
      sessionId: 's1',
      kind: 'drop',
      detail: { leg: 'C', why: undefined },
    });
    const read = await events();
    expect(read.slice(0, 30)).toEqual(appended);
    expect(read[30]).toEqual({ type: 'transition', at: T0, sessionId: 's1', kind: 'drop', detail: { leg: 'C' } });
  });

  withKit('audit: an event that is not JSON is refused, and the log goes on', async ({ audit, events }) => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(
      audit.append({ type: 'transition', at: T0, sessionId: 's1', kind: 'fork', detail: cyclic }),
    ).rejects.toThrow(/cycle/);
    await audit.append({ type: 'result.ignored', at: T0, sessionId: 's1', callId: 'c1', reason: 'x' });
    expect(await events()).toHaveLength(1);
  });

  withKit('guard: a guard on these stores stops the exfiltration and audits every decision', async (kit) => {
    const guard = createGuard({ policy: emailBot(), ...kit, newId: counterIds() });
    const s = await guard.session('s1');
    expect((await s.check({ id: 'c1', tool: 'read_inbox', args: {} })).effect).toBe('allow');
    await s.record('c1', [{ from: 'attacker@evil.test' }]);
    const exfil = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'attacker@evil.test' } });
    expect(exfil.effect).toBe('ask');
    expect(await kit.approvals.list({ status: 'pending' })).toHaveLength(1);
    const types = (await kit.events()).map((e) => e.type);
    expect(types).toEqual(['session.open', 'decision', 'result', 'decision', 'approval.request']);
  });

  it.runIf(kind.name !== 'memory')(
    'restart: a session holding A and B still holds them, approvals keep their state',
    async () => {
      let kit = await kind.open();
      try {
        const guard = createGuard({ policy: emailBot(), ...kit, newId: counterIds('before') });
        const s = await guard.session('s1');
        await s.check({ id: 'c1', tool: 'read_inbox', args: {} });
        await s.record('c1', [{ from: 'attacker@evil.test' }]);
        const asked = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
        expect(asked.effect).toBe('ask');
        const requestId = asked.approval?.id as string;
        const before = await guard.view('s1');
        expect(before?.held).toBe('AB');

        kit = await (kit.reopen as () => Promise<typeof kit>)();
        const after = createGuard({ policy: emailBot(), ...kit, newId: counterIds('after') });
        expect(await after.view('s1')).toEqual(before);
        const again = await after.check('s1', { id: 'c3', tool: 'send_email', args: { to: 'x@evil.test' } });
        expect(again.effect).toBe('ask');
        expect(again.legsBefore).toBe('AB');
        expect((await kit.approvals.get(requestId))?.status).toBe('pending');
        const receipt = await after.answer(requestId, { approved: true, by: 'ana' });
        expect(receipt).toBeDefined();
        expect((await kit.events()).filter((e) => e.type === 'decision')).toHaveLength(3);
      } finally {
        await kit.close();
      }
    },
  );
}
