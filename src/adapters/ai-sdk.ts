/**
 * Vercel AI SDK adapter (`ruleoftwo/ai-sdk`), for `ai` 7 and 6. Translation only: each tool's `needsApproval` and the
 * call-level `toolApproval` (ai 7) ask the guard, `execute` runs allowed calls and records their outputs, and the
 * SDK's own tool-approval flow carries `ask` to a person.
 */
import type { Guard } from '../guard/guard.ts';
import type { ApprovalAnswer } from '../store/types.ts';
import { CallGate, type Verdict } from './gate.ts';

/** The part of an AI SDK tool this adapter touches (the same in `ai` 6 and 7). */
export interface AiSdkTool {
  execute?: (input: never, options: never) => unknown;
  needsApproval?: unknown;
}

/** Where guarded tools act: a guard and the id of an open session (one per conversation). */
export interface AiSdkGuardOptions {
  guard: Guard;
  /** The conversation's session id; open it with `guard.session(id)` first. An unknown session denies every call. */
  session: string;
}

/** ai 7 `ToolApprovalStatus` as this adapter returns it. */
export type AiSdkApprovalStatus =
  | { type: 'not-applicable' }
  | { type: 'denied'; reason: string }
  | { type: 'user-approval'; reason: string };

/** Guarded tools plus the call-level approval function for `ai` 7 (`generateText({tools, toolApproval})`). */
export interface GuardedAiSdkTools<T> {
  tools: T;
  toolApproval: (options: {
    toolCall: { toolCallId: string; toolName: string; input: unknown };
  }) => Promise<AiSdkApprovalStatus>;
}

interface ExecuteOptions {
  toolCallId: string;
  messages?: readonly unknown[];
}

/** Guards a `tools` object for one conversation. Works with `ai` 6 (`needsApproval`) and 7 (`toolApproval`). */
export function guardTools<T extends Record<string, AiSdkTool>>(
  tools: T,
  options: AiSdkGuardOptions,
): GuardedAiSdkTools<T> {
  const gate = new CallGate(options.guard, options.session);
  const guarded: Record<string, AiSdkTool> = Object.create(null);
  for (const [name, tool] of Object.entries(tools)) guarded[name] = guardTool(gate, name, tool);
  const toolApproval: GuardedAiSdkTools<T>['toolApproval'] = async ({ toolCall }) => {
    const call = { id: toolCall.toolCallId, tool: toolCall.toolName, args: toolCall.input };
    return approvalStatus(await gate.decide(call, { shown: true }));
  };
  return { tools: guarded as T, toolApproval };
}

function approvalStatus(verdict: Verdict): AiSdkApprovalStatus {
  if (verdict.effect === 'allow') return { type: 'not-applicable' };
  if (verdict.effect === 'deny') return { type: 'denied', reason: verdict.message };
  return { type: 'user-approval', reason: verdict.message };
}

function guardTool(gate: CallGate, name: string, tool: AiSdkTool): AiSdkTool {
  const execute = tool.execute as ((input: unknown, options: ExecuteOptions) => unknown) | undefined;
  const own = tool.needsApproval as boolean | ((input: unknown, options: ExecuteOptions) => unknown) | undefined;
  return {
    ...tool,
    // ai 6 asks this per call (ai 7 too, when no call-level `toolApproval` is given). A boolean cannot carry a deny,
    // so a denied call is "not in need of approval" and `execute` answers it with the denial text.
    needsApproval: async (input: unknown, opts: ExecuteOptions) => {
      const verdict = await gate.decide({ id: opts.toolCallId, tool: name, args: input }, { shown: true });
      if (verdict.effect === 'ask') return true;
      if (verdict.effect === 'deny') return false;
      return typeof own === 'function' ? Boolean(await own(input, opts)) : own === true;
    },
    ...(execute && {
      execute: async (input: unknown, opts: ExecuteOptions) => {
        const call = { id: opts.toolCallId, tool: name, args: input };
        const outcome = await gate.run(call, () => execute(input, opts), { answer: approvalAnswer(opts) });
        return outcome.ok ? outcome.output : outcome.message;
      },
    }),
  };
}

interface MessagePart {
  type?: unknown;
  approvalId?: unknown;
  toolCallId?: unknown;
  toolCall?: { toolCallId?: unknown };
  approved?: unknown;
  reason?: unknown;
  isAutomatic?: unknown;
}

/**
 * The person's answer to this call's approval request, from the `tool-approval-response` the app put into the
 * messages. Automatic responses (the SDK's own `approved`/`denied` statuses) are not a person's answer.
 */
function approvalAnswer(opts: ExecuteOptions): ApprovalAnswer | undefined {
  const parts = (opts.messages ?? []).flatMap((message) => {
    const content = (message as { content?: unknown }).content;
    return Array.isArray(content) ? (content as MessagePart[]) : [];
  });
  const requested = new Set<unknown>();
  for (const part of parts) {
    if (part.type !== 'tool-approval-request' || part.isAutomatic === true) continue;
    if ((part.toolCallId ?? part.toolCall?.toolCallId) === opts.toolCallId) requested.add(part.approvalId);
  }
  let answer: ApprovalAnswer | undefined;
  for (const part of parts) {
    if (part.type !== 'tool-approval-response' || !requested.has(part.approvalId)) continue;
    answer = { approved: part.approved === true, by: 'ai-sdk tool approval' };
    if (typeof part.reason === 'string') answer.reason = part.reason;
  }
  return answer;
}
