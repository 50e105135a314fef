import type { ApprovalRequest } from '../core/decision.ts';
import type { ApprovalAnswer } from '../store/types.ts';
import type { Approver } from './types.ts';

/** Why {@link askApprover} gave up: the approver did not answer in time. */
export class ApprovalTimeout extends Error {}

/**
 * Asks an approver with a bound: after `timeoutMs`, or when `signal` aborts, the approver is aborted through the signal
 * it was given, and past `timeoutMs` the ask rejects with {@link ApprovalTimeout} whether or not it stopped. Resolves
 * with the approver's answer as given; rejects with its error when it throws.
 */
export async function askApprover(
  approver: Approver,
  request: ApprovalRequest,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ApprovalAnswer | boolean> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  signal?.addEventListener('abort', abort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ApprovalTimeout());
    }, timeoutMs);
  });
  try {
    return await Promise.race([approver(request, { signal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', abort);
  }
}
