import { describe, expect, it } from 'vitest';
import { formatApprovalRequest } from '../../src/approvals/format.ts';
import type { ApprovalRequest } from '../../src/core/decision.ts';
import { approvalMessage } from '../../src/mcp/elicitation.ts';
import { sampleApprovalRequest } from '../helpers.ts';

// A person approves what they read. Letters from another script that look like Latin ones (a Cyrillic `о` for `o`,
// a Greek `ο`) make `alice@cоmpany.example` read as the colleague's address while the mail goes to another domain.

function request(args: unknown, tool = 'mail__send_email'): ApprovalRequest {
  return sampleApprovalRequest({ tool, args });
}

const spoofed = request({ to: 'alice@c\u043empany.example', body: 'the contacts' });

describe('look-alike letters in a call a person approves', () => {
  it('the approval question also shows the call in ASCII, every other character escaped', () => {
    const message = approvalMessage(spoofed);
    expect(message).toContain('alice@c\\u043empany.example');
  });

  it('`ruleoftwo approvals list` and the terminal approver do too', () => {
    expect(formatApprovalRequest(spoofed)).toContain('alice@c\\u043empany.example');
  });

  it('a call in plain ASCII is shown once', () => {
    const plain = request({ to: 'alice@company.example' });
    expect(approvalMessage(plain).match(/alice@company\.example/g)).toHaveLength(1);
    expect(formatApprovalRequest(plain).match(/alice@company\.example/g)).toHaveLength(1);
  });

  it('a look-alike in the tool name shows too', () => {
    expect(approvalMessage(request({}, 'mail__send_ema\u0456l'))).toContain('send_ema\\u0456l');
  });
});
