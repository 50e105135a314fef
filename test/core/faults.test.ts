import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Approver } from '../../src/approvals/types.ts';
import type { Decision } from '../../src/core/decision.ts';
import type { PolicyDocument } from '../../src/core/document.ts';
import { compilePolicy, type Policy } from '../../src/core/policy.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { MemoryApprovalStore, MemoryAuditLog, MemorySessionStore } from '../../src/store/memory.ts';
import type { ApprovalStore, AuditLog, SessionStore } from '../../src/store/types.ts';
import { counterIds } from '../helpers.ts';
import { policyArb, traceArb } from './trace.ts';

type Fault = 'none' | 'before' | 'after';

/** Fails operations on a schedule: before the real operation, after it (it happened, the caller sees an error). */
class Injector {
  #schedule: readonly Fault[];
  #next = 0;
  fired = 0;
  /** Where each fault fired. */
  readonly log: string[] = [];
  constructor(schedule: readonly Fault[]) {
    this.#schedule = schedule;
  }
  async around<T>(where: string, run: () => Promise<T> | T): Promise<T> {
    const fault = this.#schedule[this.#next++ % this.#schedule.length] ?? 'none';
    if (fault === 'before') this.#fail(where);
    const result = await run();
    if (fault === 'after') this.#fail(where);
    return result;
  }
  sync<T>(where: string, run: () => T): T {
    const fault = this.#schedule[this.#next++ % this.#schedule.length] ?? 'none';
    if (fault !== 'none') this.#fail(where);
    return run();
  }
  /** Notes a fault that something other than a throw injects (an approver that hangs or answers garbage). */
  note(where: string): void {
    this.fired++;
    this.log.push(where);
  }
  #fail(where: string): never {
    this.note(where);
    throw new Error(`injected fault in ${where}`);
  }
}

function faultySessions(inject: Injector): SessionStore {
  const inner = new MemorySessionStore();
  return {
    transact: (id, update) => inject.around('transact', () => inner.transact(id, update)),
    get: (id) => inject.around('get', () => inner.get(id)),
    close: () => inner.close(),
  };
}

function faultyApprovals(inject: Injector): ApprovalStore {
  const inner = new MemoryApprovalStore();
  return {
    create: (request) => inject.around('create', () => inner.create(request)),
    get: (id) => inject.around('get', () => inner.get(id)),
    answer: (id, answer, now) => inject.around('answer', () => inner.answer(id, answer, now)),
    consume: (receipt, now) => inject.around('consume', () => inner.consume(receipt, now)),
    list: (filter) => inner.list(filter),
    close: () => inner.close(),
  };
}

function faultyAudit(inject: Injector): AuditLog {
  const inner = new MemoryAuditLog();
  return { append: (event) => inject.around('audit', () => inner.append(event)), close: () => inner.close() };
}

/** A policy whose argument and result conditions throw on the injector's schedule. */
function faultyPolicy(policy: Policy, inject: Injector): Policy {
  return {
    ...policy,
    resolve(tool) {
      const profile = policy.resolve(tool);
      return {
        ...profile,
        legsFor: (args) => inject.sync('matcher', () => profile.legsFor(args)),
        resultLegs: (output, reserved) => inject.sync('result matcher', () => profile.resultLegs(output, reserved)),
      };
    },
  };
}

type ApproverMode = 'yes' | 'no' | 'throw' | 'sync-throw' | 'garbage' | 'hang';

function approverFor(mode: ApproverMode, inject: Injector): Approver {
  switch (mode) {
    case 'yes':
      return async () => true;
    case 'no':
      return async () => ({ approved: false, reason: 'not today' });
    case 'throw':
      return async () => {
        inject.note('approver');
        throw new Error('channel down');
      };
    case 'sync-throw':
      return () => {
        inject.note('approver');
        throw new Error('channel down');
      };
    case 'garbage':
      return async () => {
        inject.note('approver');
        return 'yes' as unknown as boolean;
      };
    case 'hang':
      return () => {
        inject.note('approver');
        return new Promise<boolean>(() => {});
      };
  }
}

const FAIL_CODES = [
  'store_error',
  'audit_error',
  'engine_error',
  'approver_error',
  'approval_timeout',
  'approval_denied',
];

const faultSchedule = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: fc.constant<Fault>('none') },
    { weight: 1, arbitrary: fc.constant<Fault>('before') },
    { weight: 1, arbitrary: fc.constant<Fault>('after') },
  ),
  { minLength: 1, maxLength: 40 },
);

describe('fail closed under injected errors', () => {
  it('denies every check and authorize during which a store, the audit log, a matcher or the approver failed', async () => {
    let denied = 0;
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        traceArb,
        faultSchedule,
        fc.constantFrom<ApproverMode>('yes', 'no', 'throw', 'sync-throw', 'garbage', 'yes', 'hang'),
        async (doc, trace, schedule, mode) => {
          const inject = new Injector(schedule);
          const guard = createGuard({
            policy: faultyPolicy(compilePolicy(doc as unknown as PolicyDocument), inject),
            sessions: faultySessions(inject),
            approvals: faultyApprovals(inject),
            audit: faultyAudit(inject),
            approver: approverFor(mode, inject),
            approvalTimeoutMs: 5,
            newId: counterIds('r'),
          });
          for (const [i, event] of trace.entries()) {
            const firedBefore = inject.fired;
            let decision: Decision | undefined;
            if (event.t === 'open') {
              await guard.session(event.s, event.input ? { input: event.input } : {}).catch(() => undefined);
            } else if (event.t === 'call') {
              const call = { id: event.id, tool: event.tool, args: event.args };
              decision = i % 2 ? await guard.authorize(event.s, call) : await guard.check(event.s, call);
            } else if (event.t === 'result') {
              const recorded = await guard.record(event.s, event.id, event.output);
              const failed = inject.log.slice(firedBefore);
              // A failing result condition still records (bringing everything reserved); any other failure refuses.
              if (failed.some((where) => where !== 'result matcher')) expect(recorded.ok).toBe(false);
            }
            if (!decision) continue;
            if (inject.fired === firedBefore) continue;
            denied++;
            expect(decision.effect, JSON.stringify({ event, reasons: decision.reasons })).toBe('deny');
            expect(
              decision.reasons.some((r) => FAIL_CODES.includes(r.code)),
              JSON.stringify(decision.reasons),
            ).toBe(true);
          }
        },
      ),
      { numRuns: 600 },
    );
    // The property above only means something if faults hit decisions often.
    expect(denied).toBeGreaterThan(300);
  });

  it('denies a call whose arguments throw when read', async () => {
    const guard = createGuard({
      policy: compilePolicy({ version: 1, tools: { send: { call: 'C', when: [{ match: { to: 'bob' }, call: '' }] } } }),
    });
    const session = await guard.session('s1', { input: 'trusted' });
    const args = Object.defineProperty({}, 'to', {
      enumerable: true,
      get() {
        throw new Error('hostile getter');
      },
    });
    const decision = await session.check({ id: 'c1', tool: 'send', args });
    expect(decision.effect).toBe('deny');
    expect(decision.reasons).toEqual([
      expect.objectContaining({ code: 'engine_error', message: 'engine error: hostile getter' }),
    ]);
    expect((await session.view())?.seq).toBe(0);
  });

  it('denies when the approver does not answer in time', async () => {
    const guard = createGuard({
      policy: compilePolicy({ version: 1, tools: { send: { legs: 'ABC' } } }),
      approver: () => new Promise<boolean>(() => {}),
      approvalTimeoutMs: 10,
    });
    const session = await guard.session('s1');
    const decision = await session.authorize({ id: 'c1', tool: 'send' });
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.at(-1)?.code).toBe('approval_timeout');
  });
});
