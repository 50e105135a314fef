import type { ApprovalRequest } from '../core/decision.ts';
import type { Evidence } from '../core/state.ts';
import { asciiLine, visibleLine } from '../visible.ts';

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

/**
 * The call (tool and arguments) in printable ASCII when it holds anything else, else undefined. Shown beside the call
 * as it reads, so a look-alike letter (`cоmpany` with a Cyrillic `о`) cannot pass for the one a person expects.
 */
export function asciiCall(request: ApprovalRequest): string | undefined {
  const call = `\`${request.tool}\` with ${JSON.stringify(request.args)}`;
  const ascii = asciiLine(call);
  // INVARIANT: a call beyond printable ASCII is also shown escaped (test/approvals/format-review.test.ts).
  return ascii === call ? undefined : ascii;
}

/** A multi-line description of an approval request for a person to read. */
export function formatApprovalRequest(request: ApprovalRequest): string {
  const ascii = asciiCall(request);
  const lines = [
    `approval ${request.id}: session \`${request.sessionId}\` wants to call \`${request.tool}\``,
    `  arguments: ${JSON.stringify(request.args)}`,
    ...(ascii === undefined ? [] : [`  in ASCII: ${ascii}`]),
    `  legs now: ${request.legsBefore || 'none'}; if approved: ${request.legsIfApproved}`,
    ...request.reasons.map((r) => `  why gated: ${r.message}`),
    ...request.evidence.map((e) => `  evidence: ${formatEvidence(e)}`),
    `  expires: ${new Date(request.expiresAt).toISOString()}`,
  ];
  // INVARIANT: what a person reads shows every character of the call (test/approvals/terminal.test.ts "escapes").
  return lines.map(visibleLine).join('\n');
}
