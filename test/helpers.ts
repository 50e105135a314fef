import type { ApprovalRequest } from '../src/core/decision.ts';
import type { PolicyDocument } from '../src/core/document.ts';
import { compilePolicy, type Policy } from '../src/core/policy.ts';

/** The Email-Bot policy of the framework, in its dynamic form. */
export const emailBotDocument: PolicyDocument = {
  version: 1,
  name: 'email-bot',
  session: { configuration: 'dynamic', input: 'trusted' },
  lists: { internal: ['*@example.com'] },
  tools: {
    read_inbox: { call: 'B', output: 'AB' },
    search_contacts: { call: 'B', output: 'B' },
    send_email: { call: 'BC', when: [{ match: { to: { in: 'internal' } }, call: 'B' }] },
    get_time: {},
  },
};

/** A compiled copy of {@link emailBotDocument}, optionally changed. */
export function emailBot(change: Partial<PolicyDocument> = {}): Policy {
  return compilePolicy({ ...emailBotDocument, ...change });
}

/** A deterministic id source for tests. */
export function counterIds(prefix = 'id'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

/** A pending approval request (expiring in a minute) for tests that show or store one; `change` overrides fields. */
export function sampleApprovalRequest(change: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const now = Date.now();
  return {
    id: 'r1',
    hash: 'h',
    sessionId: 's',
    seq: 1,
    callId: 'c',
    tool: 'send_email',
    args: {},
    policyVersion: 'v',
    createdAt: now,
    expiresAt: now + 60_000,
    legsBefore: 'AB',
    legsIfApproved: 'ABC',
    reasons: [],
    evidence: [],
    ...change,
  };
}
