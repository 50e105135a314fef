import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { approvalHash } from '../../src/core/approval.ts';
import type { ApprovalRequest } from '../../src/core/decision.ts';
import { MemoryApprovalStore } from '../../src/store/memory.ts';
import { SqliteApprovalStore } from '../../src/store/sqlite/approvals.ts';
import type { ApprovalStore } from '../../src/store/types.ts';
import { tempDir } from './stores.ts';

const T0 = 1_000_000;
const TTL = 100;

type Op =
  | { kind: 'create'; id: number; at: number }
  | { kind: 'answer'; id: number; approved: boolean; at: number }
  | { kind: 'consume'; id: number; rightHash: boolean; at: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), id: fc.nat(3), at: fc.nat(300) }),
  fc.record({ kind: fc.constant('answer' as const), id: fc.nat(3), approved: fc.boolean(), at: fc.nat(300) }),
  fc.record({ kind: fc.constant('consume' as const), id: fc.nat(3), rightHash: fc.boolean(), at: fc.nat(300) }),
);

function request(id: number, at: number): ApprovalRequest {
  const binding = { sessionId: 's', seq: id, tool: 't', args: { id }, policyVersion: 'v' };
  return {
    id: `r${id}`,
    hash: approvalHash(binding),
    ...binding,
    callId: `c${id}`,
    createdAt: T0 + at,
    expiresAt: T0 + at + TTL,
    legsBefore: 'AB',
    legsIfApproved: 'ABC',
    reasons: [],
    evidence: [],
  };
}

/** The approval state machine written out plainly: what every store must agree with. */
class Model {
  readonly states = new Map<string, { status: string; expiresAt: number; used: boolean; hash: string }>();
  apply(o: Op): unknown {
    const id = `r${o.id}`;
    const s = this.states.get(id);
    switch (o.kind) {
      case 'create':
        if (s) return 'exists';
        this.states.set(id, {
          status: 'pending',
          expiresAt: T0 + o.at + TTL,
          used: false,
          hash: request(o.id, o.at).hash,
        });
        return 'created';
      case 'answer':
        if (!s) return undefined;
        if (s.status !== 'pending') return [s.status, false];
        s.status = T0 + o.at > s.expiresAt ? 'expired' : o.approved ? 'approved' : 'denied';
        return [s.status, true];
      case 'consume': {
        if (!s) return 'unknown';
        if (!o.rightHash) return 'mismatch';
        if (s.used) return 'used';
        if (s.status === 'pending' && T0 + o.at > s.expiresAt) {
          s.status = 'expired';
          return 'expired';
        }
        if (s.status !== 'approved') return s.status;
        if (T0 + o.at > s.expiresAt) return 'expired';
        s.used = true;
        return 'ok';
      }
    }
  }
}

async function applyTo(store: ApprovalStore, o: Op, hashes: Map<number, string>): Promise<unknown> {
  switch (o.kind) {
    case 'create':
      try {
        await store.create(request(o.id, o.at));
        hashes.set(o.id, request(o.id, o.at).hash);
        return 'created';
      } catch {
        return 'exists';
      }
    case 'answer': {
      const answered = await store.answer(`r${o.id}`, { approved: o.approved }, T0 + o.at);
      return answered && [answered.record.status, answered.changed];
    }
    case 'consume': {
      const hash = o.rightHash ? (hashes.get(o.id) ?? 'none') : 'f'.repeat(64);
      const outcome = await store.consume({ requestId: `r${o.id}`, hash }, T0 + o.at);
      return outcome.ok ? 'ok' : outcome.failure;
    }
  }
}

describe('approval stores against the reference model', () => {
  it('memory and SQLite agree with the model on every generated sequence', async () => {
    const { dir, remove } = tempDir();
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          const model = new Model();
          const stores = [new MemoryApprovalStore(), new SqliteApprovalStore(join(dir, `m${run++}.db`))];
          const hashes = stores.map(() => new Map<number, string>());
          try {
            for (const o of ops) {
              const expected = model.apply(o);
              for (const [i, store] of stores.entries()) {
                expect(await applyTo(store, o, hashes[i] as Map<number, string>), JSON.stringify(o)).toEqual(expected);
              }
            }
          } finally {
            await Promise.all(stores.map((s) => s.close()));
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      remove();
    }
  });
});
