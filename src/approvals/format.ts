import type { ApprovalRequest } from '../core/decision.ts';
import type { Evidence } from '../core/state.ts';
import { visibleLine } from '../visible.ts';

/** One evidence item as text, e.g. `A from result of \`read_inbox\` (call c1, seq 2)`. */
export function formatEvidence(e: Evidence): string {
  const what =
    e.source === 'input'
      ? "the session's own input"
      : e.source === 'fork'
        ? `a value carried from ${e.detail ?? 'the parent session'}`
        : `${e.source === 'reserved' ? 'pending output' : e.source} of \`${e.tool}\` (call ${e.callId})`;
  return `${e.leg} from ${what}, seq ${e.seq}`;
}

/** A multi-line description of an approval request for a person to read. */
export function formatApprovalRequest(request: ApprovalRequest): string {
  const lines = [
    `approval ${request.id}: session \`${request.sessionId}\` wants to call \`${request.tool}\``,
    `  arguments: ${JSON.stringify(request.args)}`,
    `  legs now: ${request.legsBefore || 'none'}; if approved: ${request.legsIfApproved}`,
    ...request.reasons.map((r) => `  why gated: ${r.message}`),
    ...request.evidence.map((e) => `  evidence: ${formatEvidence(e)}`),
    `  expires: ${new Date(request.expiresAt).toISOString()}`,
  ];
  // INVARIANT: what a person reads shows every character of the call (test/approvals/terminal.test.ts "escapes").
  return lines.map(visibleLine).join('\n');
}
