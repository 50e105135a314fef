import type { ApprovalRequest } from '../core/decision.ts';
import type { ApprovalAnswer } from '../store/types.ts';

/**
 * An approval channel: shown a request (the call, why it is gated, the events that brought each leg), it answers.
 * `true`/`false` are shorthand for `{approved}`. A throw, a timeout or an abort counts as no answer: deny.
 */
export type Approver = (
  request: ApprovalRequest,
  context: { signal: AbortSignal },
) => Promise<ApprovalAnswer | boolean> | ApprovalAnswer | boolean;
