import { randomBytes } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  createRequestStateCodec,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { asciiCall, formatEvidence } from '../approvals/format.ts';
import { canonicalHash } from '../core/canonical.ts';
import type { ApprovalRequest } from '../core/decision.ts';
import { visibleLine } from '../visible.ts';

/** The key of the gateway's approval question among a request's `inputRequests`. */
export const APPROVAL_INPUT_KEY = 'ruleoftwo_approval';

/** What the gateway seals into `requestState`: the approval request and the exact call it is for. */
interface ApprovalState {
  requestId: string;
  /** Hash of (session, tool, arguments): the state is good only for this call in this session. */
  call: string;
}

/** An elicitation answer read from a retried request. */
export type ElicitedAnswer =
  | { kind: 'none' }
  | { kind: 'answer'; requestId: string; approved: boolean; action: string }
  | { kind: 'invalid'; message: string };

/** Whether a client declared form elicitation, for this request (2026-07-28) or its connection (2025-11-25). */
export function canElicit(ctx: ServerContext, connectionCaps: ClientCapabilities | undefined): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return elicits((envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? connectionCaps);
}

/** Whether client capabilities include form elicitation (`elicitation: {}` means form mode, per 2025-11-25). */
export function elicits(caps: ClientCapabilities | undefined): boolean {
  const elicitation = caps?.elicitation as { form?: unknown } | undefined;
  return (
    elicitation !== undefined &&
    elicitation !== null &&
    (elicitation.form !== undefined || Object.keys(elicitation).length === 0)
  );
}

function callDigest(sessionId: string, tool: string, args: unknown): string {
  return canonicalHash(['ruleoftwo/elicitation/v1', sessionId, tool, args ?? null]);
}

/**
 * Approvals through MCP elicitation. In both eras the question goes out as an `input_required` result (the SDK
 * turns it into an `elicitation/create` push for 2025 clients); the state that comes back is HMAC-signed, expires,
 * and is bound to the session and the exact call, so it cannot approve anything else.
 */
export class ElicitationApprovals {
  readonly codec: RequestStateCodec<ApprovalState>;
  /** Whether questions go to clients at all (config `elicitation`); when not, every ask waits out of band. */
  readonly enabled: boolean;

  constructor(options: { key?: Uint8Array; ttlSeconds: number; enabled?: boolean }) {
    this.enabled = options.enabled ?? true;
    this.codec = createRequestStateCodec<ApprovalState>({
      key: options.key ?? new Uint8Array(randomBytes(32)),
      ttlSeconds: Math.max(1, Math.floor(options.ttlSeconds)),
    });
  }

  /** The `input_required` result that asks the client's user to approve `request`. */
  async ask(request: ApprovalRequest, sessionId: string): Promise<InputRequiredResult> {
    const state: ApprovalState = { requestId: request.id, call: callDigest(sessionId, request.tool, request.args) };
    return inputRequired({
      inputRequests: {
        [APPROVAL_INPUT_KEY]: inputRequired.elicit({
          message: approvalMessage(request),
          requestedSchema: {
            type: 'object',
            properties: {
              approve: { type: 'boolean', title: 'Allow this call once', description: 'Run this exact call one time' },
            },
            required: ['approve'],
          },
        }),
      },
      requestState: await this.codec.mint(state),
    });
  }

  /** Reads the answer a retried request carries; the SDK has already verified the signature and expiry. */
  read(ctx: ServerContext, sessionId: string, tool: string, args: unknown): ElicitedAnswer {
    const state = ctx.mcpReq.requestState<ApprovalState>();
    if (state === undefined) return { kind: 'none' };
    if (typeof state !== 'object' || typeof state.requestId !== 'string' || typeof state.call !== 'string') {
      return { kind: 'invalid', message: 'request state is not an approval of this gateway' };
    }
    // INVARIANT: signed state approves only the call it was minted for (test/mcp/approvals.test.ts "signed state").
    if (state.call !== callDigest(sessionId, tool, args)) {
      return { kind: 'invalid', message: 'the approval state was issued for another call or session' };
    }
    const view = inputResponse(ctx.mcpReq.inputResponses, APPROVAL_INPUT_KEY);
    if (view.kind !== 'elicit') return { kind: 'invalid', message: 'the retried request carries no approval answer' };
    const approved = view.action === 'accept' && view.content?.approve === true;
    return { kind: 'answer', requestId: state.requestId, approved, action: view.action };
  }
}

/** The question shown to the person: the call, and why it needs them. */
export function approvalMessage(request: ApprovalRequest): string {
  const ascii = asciiCall(request);
  const lines = [
    `ruleoftwo: allow \`${request.tool}\` with ${JSON.stringify(request.args)}?`,
    ...(ascii === undefined ? [] : [`- in ASCII: ${ascii}`]),
    ...request.reasons.map((r) => `- ${r.message}`),
    ...request.evidence.map((e) => `- ${formatEvidence(e)}`),
    `Approving runs this exact call once.`,
  ];
  // INVARIANT: the question shows every character of the call (test/mcp/approvals.test.ts "the approval question").
  return lines.map(visibleLine).join('\n');
}
