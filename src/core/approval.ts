import { type CanonicalJsonError, canonicalJson, sha256Hex } from './canonical.ts';
import type { ApprovalRequest } from './decision.ts';

/** The fields an approval is bound to. */
export interface ApprovalBinding {
  sessionId: string;
  seq: number;
  tool: string;
  args: unknown;
  policyVersion: string;
}

/** The canonical text an approval hash is taken over; throws {@link CanonicalJsonError} for arguments that are not JSON. */
export function approvalText(binding: ApprovalBinding): string {
  return canonicalJson([
    'ruleoftwo/approval/v1',
    binding.sessionId,
    binding.seq,
    binding.tool,
    binding.args ?? null,
    binding.policyVersion,
  ]);
}

/** A SHA-256 function over text, as lowercase hex; injected so hosts can use a native implementation. */
export type Sha256 = (text: string) => string;

/** Canonical hash binding an approval to one exact call; domain-separated from every other hash. */
export function approvalHash(binding: ApprovalBinding, sha256: Sha256 = sha256Hex): string {
  return sha256(approvalText(binding));
}

/** Why an approved request does not authorize a call, or undefined when it does. */
export function receiptMismatch(
  request: ApprovalRequest,
  call: { sessionId: string; tool: string; args: unknown; policyVersion: string; legsNow: string },
  now: number,
  sha256: Sha256 = sha256Hex,
): string | undefined {
  if (now > request.expiresAt) return `approval \`${request.id}\` expired`;
  if (request.sessionId !== call.sessionId) return `approval \`${request.id}\` belongs to another session`;
  if (request.policyVersion !== call.policyVersion) return `approval \`${request.id}\` was given under another policy`;
  if (request.tool !== call.tool) return `approval \`${request.id}\` is for tool \`${request.tool}\``;
  // The person approved in view of the legs held then; a session that has taken on more since must ask again.
  const gained = [...call.legsNow].filter((leg) => !request.legsBefore.includes(leg)).join('');
  if (gained !== '') return `the session took on ${gained} after approval \`${request.id}\` was asked; ask again`;
  const hash = approvalHash({ ...call, seq: request.seq }, sha256);
  if (hash !== request.hash) return `approval \`${request.id}\` was given for other arguments`;
  return undefined;
}
