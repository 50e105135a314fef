import { describe, expect, it } from 'vitest';
import { CallGate, MAX_HELD_VERDICTS } from '../../src/adapters/gate.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { MemoryAuditLog, MemorySessionStore } from '../../src/store/memory.ts';
import type { AuditEvent, AuditLog } from '../../src/store/types.ts';
import { emailBot } from '../helpers.ts';
import { lineagePolicy, thread } from './fixture.ts';

const read = { id: 'c1', tool: 'read_inbox', args: {} };

describe('CallGate', () => {
  it('store failure denies', async () => {
    const sessions = new MemorySessionStore();
    const guard = createGuard({ policy: emailBot(), sessions });
    await guard.session('s');
    await sessions.close();
    const gate = new CallGate(guard, 's');
    let ran = false;
    const outcome = await gate.run(read, () => {
      ran = true;
      return [];
    });
    expect(ran).toBe(false);
    expect(outcome).toMatchObject({ ok: false, message: expect.stringContaining('store is closed') });
  });

  it('withholds an output whose legs could not be recorded', async () => {
    const events: AuditEvent[] = [];
    const audit: AuditLog = {
      append: async (event) => {
        if (event.type === 'result') throw new Error('disk full');
        events.push(event);
      },
      close: async () => {},
    };
    const guard = createGuard({ policy: emailBot(), audit });
    await guard.session('s');
    const outcome = await new CallGate(guard, 's').run(read, () => ['secret mail']);
    expect(outcome).toEqual({
      ok: false,
      message: 'ruleoftwo withheld the output of call `c1`: audit log failed: disk full',
    });
  });

  it('decides a call once: the approval hook and execution share one decision', async () => {
    const audit = new MemoryAuditLog();
    const guard = createGuard({ policy: emailBot(), audit });
    await guard.session('s');
    const gate = new CallGate(guard, 's');
    expect((await gate.decide(read, { shown: true })).effect).toBe('allow');
    expect((await gate.decide(read)).effect).toBe('allow');
    expect(await gate.run(read, () => 'inbox')).toEqual({ ok: true, output: 'inbox' });
    expect(audit.events.filter((e) => e.type === 'decision')).toHaveLength(1);
  });

  it('binds an approval to the exact arguments: other arguments under the same call id are denied', async () => {
    const guard = createGuard({ policy: emailBot() });
    await guard.session('s', { input: 'untrusted' });
    const gate = new CallGate(guard, 's');
    await gate.run({ id: 'c0', tool: 'search_contacts', args: {} }, () => []);
    const send = { id: 'c1', tool: 'send_email', args: { to: 'bob@evil.test' } };
    expect((await gate.decide(send, { shown: true })).effect).toBe('ask');
    const swapped = { ...send, args: { to: 'eve@evil.test' } };
    const outcome = await new CallGate(guard, 's').run(swapped, () => 'sent', { answer: () => ({ approved: true }) });
    expect(outcome).toMatchObject({ ok: false, message: expect.stringContaining('other arguments') });
  });

  it('guard.approvalFor finds the latest request for a call id in its session only', async () => {
    const guard = createGuard({ policy: emailBot() });
    await guard.session('s', { input: 'untrusted' });
    await guard.session('t', { input: 'untrusted' });
    const send = { id: 'c1', tool: 'send_email', args: { to: 'bob@evil.test' } };
    for (const session of ['s', 't']) {
      await guard.check(session, { id: 'c0', tool: 'search_contacts', args: {} });
    }
    const first = await guard.check('s', send);
    const second = await guard.check('s', send);
    expect(first.approval?.id).not.toBe(second.approval?.id);
    expect((await guard.approvalFor('s', 'c1'))?.request.id).toBe(second.approval?.id);
    expect(await guard.approvalFor('t', 'c1')).toBeUndefined();
    expect(await guard.approvalFor('s', 'c9')).toBeUndefined();
  });
});

describe('CallGate bookkeeping and refusals in the framework', () => {
  const decisions = (audit: MemoryAuditLog) => audit.events.filter((e) => e.type === 'decision').length;

  it('forgets the oldest verdicts: denied calls that never run do not pile up, and a forgotten one is denied again', async () => {
    const audit = new MemoryAuditLog();
    const guard = createGuard({ policy: emailBot({ approvals: { gate: 'deny' } }), audit });
    await guard.session('s', { input: 'untrusted' });
    const gate = new CallGate(guard, 's');
    await gate.run({ id: 'c0', tool: 'search_contacts', args: {} }, () => []);
    // A framework that refuses denied calls itself asks the hook and never executes them.
    const exfil = (i: number) => ({ id: `x${i}`, tool: 'send_email', args: { to: 'eve@evil.test', body: `${i}` } });
    for (let i = 0; i <= MAX_HELD_VERDICTS; i++) expect((await gate.decide(exfil(i))).effect).toBe('deny');
    const before = decisions(audit);
    // The newest is still held: asking again decides nothing new.
    expect((await gate.decide(exfil(MAX_HELD_VERDICTS))).effect).toBe('deny');
    expect(decisions(audit)).toBe(before);
    // The oldest was forgotten: it is decided afresh, and denied again.
    expect((await gate.decide(exfil(0))).effect).toBe('deny');
    expect(decisions(audit)).toBe(before + 1);
  });

  it('a forgotten allowed call fails closed: its reservation denies it as a duplicate', async () => {
    const guard = createGuard({ policy: emailBot() });
    await guard.session('s');
    const gate = new CallGate(guard, 's');
    const time = (i: number) => ({ id: `t${i}`, tool: 'get_time', args: {} });
    for (let i = 0; i <= MAX_HELD_VERDICTS; i++) expect((await gate.decide(time(i))).effect).toBe('allow');
    let ran = false;
    const outcome = await gate.run(time(0), () => {
      ran = true;
      return 'noon';
    });
    expect(ran).toBe(false);
    expect(outcome).toEqual({ ok: false, message: expect.stringContaining('already pending') });
  });

  it("decline answers the guard's pending request as declined, once", async () => {
    const audit = new MemoryAuditLog();
    const guard = createGuard({ policy: emailBot(), audit });
    await guard.session('s', { input: 'untrusted' });
    const gate = new CallGate(guard, 's');
    await gate.run({ id: 'c0', tool: 'search_contacts', args: {} }, () => []);
    const send = { id: 'c1', tool: 'send_email', args: { to: 'eve@evil.test' } };
    const verdict = await gate.decide(send, { shown: true });
    expect(verdict.effect).toBe('ask');
    await gate.decline('c1', { by: 'a framework', reason: 'not today' });
    await gate.decline('c1', { by: 'a framework' });
    const answers = audit.events.filter((e) => e.type === 'approval.answer');
    expect(answers).toEqual([
      expect.objectContaining({ status: 'denied', by: 'a framework', reason: 'not today', sessionId: 's' }),
    ]);
    expect((await guard.approvalFor('s', 'c1'))?.status).toBe('denied');
    // The declined request cannot authorize the call afterwards.
    const outcome = await gate.run(send, () => 'sent', { answer: () => ({ approved: true }) });
    expect(outcome.ok).toBe(false);
  });

  it('decline records a call the guard allowed but the framework refused, releasing its reservation', async () => {
    const audit = new MemoryAuditLog();
    const guard = createGuard({ policy: emailBot(), audit });
    await guard.session('s');
    const gate = new CallGate(guard, 's');
    expect((await gate.decide({ id: 'c1', tool: 'read_inbox', args: {} }, { shown: true })).effect).toBe('allow');
    expect((await guard.view('s'))?.pending).toHaveLength(1);
    await gate.decline('c1', { by: 'a person in the app' });
    await gate.decline('c1', { by: 'a person in the app' });
    expect((await guard.view('s'))?.pending).toEqual([]);
    const results = audit.events.filter((e) => e.type === 'result' || e.type === 'result.ignored');
    expect(results).toEqual([expect.objectContaining({ type: 'result', callId: 'c1', tool: 'read_inbox' })]);
    // A new gate (another request of the same conversation) finds the reservation in the session, too.
    expect((await gate.decide({ id: 'c2', tool: 'read_inbox', args: {} })).effect).toBe('allow');
    await new CallGate(guard, 's').decline('c2', { by: 'a person in the app' });
    expect((await guard.view('s'))?.pending).toEqual([]);
  });
});

describe('CallGate and author lineage', () => {
  it('lineage: the model gets the output without items by untrusted authors, or nothing when it cannot be filtered', async () => {
    const guard = createGuard({ policy: lineagePolicy });
    await guard.session('s');
    const gate = new CallGate(guard, 's');
    const call = { id: 'c1', tool: 'read_thread', args: {} };
    expect(await gate.run(call, () => thread)).toEqual({ ok: true, output: { messages: [thread.messages[0]] } });
    const unmappable = await gate.run({ ...call, id: 'c2' }, () => 'raw', { recordAs: () => thread });
    expect(unmappable).toEqual({
      ok: false,
      message: expect.stringContaining('author lineage removed items by untrusted authors'),
    });
    const clean = { messages: [thread.messages[0]] };
    expect(await gate.run({ ...call, id: 'c3' }, () => clean)).toEqual({ ok: true, output: clean });
  });
});
