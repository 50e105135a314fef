/**
 * Vercel AI SDK adapter (`ruleoftwo/ai-sdk`), for `ai` 7 and 6. Translation only: each tool's `needsApproval` and the
 * call-level `toolApproval` (ai 7) ask the guard, `execute` runs allowed calls and records their outputs, the SDK's
 * own tool-approval flow carries `ask` to a person, and `prepareStep` audits the refusals given in that flow.
 */
import { ConfigError } from '../errors.ts';
import type { Guard } from '../guard/guard.ts';
import type { ApprovalAnswer } from '../store/types.ts';
import { CallGate } from './gate.ts';

/** The part of an AI SDK tool this adapter touches (the same in `ai` 6 and 7). */
export interface AiSdkTool {
  execute?: (input: never, options: never) => unknown;
  needsApproval?: unknown;
  /** `true` on a provider tool the model's provider runs itself (ai 7; ai 6 does not say). */
  isProviderExecuted?: unknown;
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
  | { type: 'user-approval'; reason?: string };

/**
 * Guarded tools, the call-level approval function for `ai` 7, and a `prepareStep` that writes a person's refusal
 * given through the SDK's approval flow to the audit log (the SDK does not run a refused tool, so nothing else sees
 * it): `generateText({tools, toolApproval, prepareStep})`, or `streamText` with the same options.
 */
export interface GuardedAiSdkTools<T> {
  tools: T;
  toolApproval: (options: {
    toolCall: { toolCallId: string; toolName: string; input: unknown };
    messages?: readonly unknown[];
  }) => Promise<AiSdkApprovalStatus>;
  prepareStep: (options: { messages: readonly unknown[] }) => Promise<undefined>;
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
  for (const [name, tool] of Object.entries(tools)) {
    // INVARIANT: no tool runs where the guard can neither stop it nor record its output. The provider runs such a tool
    // within the model's response, before any hook, so a refusal would not stop it and its output would reach the model
    // with no legs recorded (test/adapters/provider-executed.test.ts).
    if (providerRuns(tool)) {
      throw new ConfigError(
        `tool \`${name}\` is run by the model's provider, where ruleoftwo can neither stop it nor record its output`,
      );
    }
    guarded[name] = guardTool(gate, name, tool);
  }
  const toolApproval: GuardedAiSdkTools<T>['toolApproval'] = async ({ toolCall, messages }) => {
    const call = { id: toolCall.toolCallId, tool: toolCall.toolName, args: toolCall.input };
    const verdict = await gate.decide(call, { shown: true });
    if (verdict.effect === 'deny') return { type: 'denied', reason: verdict.message };
    if (verdict.effect === 'ask') return { type: 'user-approval', reason: verdict.message };
    // ai 7 asks no tool's own `needsApproval` once a call-level `toolApproval` is given, so the app's rule is asked here.
    const tool = Object.hasOwn(tools, toolCall.toolName) ? tools[toolCall.toolName] : undefined;
    const opts = { toolCallId: toolCall.toolCallId, ...(messages ? { messages } : {}) };
    return (await ownApproval(tool, toolCall.input, opts)) ? { type: 'user-approval' } : { type: 'not-applicable' };
  };
  const prepareStep: GuardedAiSdkTools<T>['prepareStep'] = async ({ messages }) => {
    for (const { toolCallId, reason } of refusals(messages)) {
      await gate.decline(toolCallId, { by: 'ai-sdk tool approval', reason });
    }
    return undefined;
  };
  return { tools: guarded as T, toolApproval, prepareStep };
}

/** Whether the model's provider may run the tool itself: ai 7 says so; in ai 6, any provider tool without `execute`. */
function providerRuns(tool: AiSdkTool): boolean {
  if (tool.isProviderExecuted !== undefined) return tool.isProviderExecuted === true;
  return (tool as { type?: unknown }).type === 'provider' && tool.execute === undefined;
}

/** Whether the tool's own `needsApproval` (the app's rule, apart from the guard) puts this call before a person. */
async function ownApproval(tool: AiSdkTool | undefined, input: unknown, opts: ExecuteOptions): Promise<boolean> {
  const own = tool?.needsApproval as boolean | ((input: unknown, options: ExecuteOptions) => unknown) | undefined;
  return typeof own === 'function' ? Boolean(await own(input, opts)) : own === true;
}

function guardTool(gate: CallGate, name: string, tool: AiSdkTool): AiSdkTool {
  const execute = tool.execute as ((input: unknown, options: ExecuteOptions) => unknown) | undefined;
  return {
    ...tool,
    // ai 6 asks this per call (ai 7 too, when no call-level `toolApproval` is given). A boolean cannot carry a deny,
    // so a denied call is "not in need of approval" and `execute` answers it with the denial text.
    needsApproval: async (input: unknown, opts: ExecuteOptions) => {
      const verdict = await gate.decide({ id: opts.toolCallId, tool: name, args: input }, { shown: true });
      // INVARIANT: a refused call of a tool without `execute` is not handed to the app to run: nothing can answer it
      // with the refusal here, so the run stops (test/adapters/client-tools.test.ts "ai 6").
      if (verdict.effect === 'deny' && !execute) throw new Error(verdict.message);
      if (verdict.effect === 'ask') return true;
      if (verdict.effect === 'deny') return false;
      return ownApproval(tool, input, opts);
    },
    ...(execute && {
      execute: async (input: unknown, opts: ExecuteOptions) => {
        const call = { id: opts.toolCallId, tool: name, args: input };
        const outcome = await gate.run(call, () => finalOutput(execute(input, opts)), {
          answer: () => approvalAnswer(opts),
        });
        return outcome.ok ? outcome.output : outcome.message;
      },
    }),
  };
}

/**
 * The output the model gets: a streaming tool's (`execute` returning an AsyncIterable) is its last value, as the SDK
 * itself would pass on. Read to the end here, so that value is what the guard records and filters; its preliminary
 * values are not streamed to the app, since none of them was recorded.
 */
async function finalOutput(result: unknown): Promise<unknown> {
  const awaited = await result;
  if (awaited === null || typeof awaited !== 'object' || !(Symbol.asyncIterator in awaited)) return awaited;
  let last: unknown;
  for await (const value of awaited as AsyncIterable<unknown>) last = value;
  return last;
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

function partsOf(messages: readonly unknown[] | undefined): MessagePart[] {
  return (messages ?? []).flatMap((message) => {
    const content = (message as { content?: unknown }).content;
    return Array.isArray(content) ? (content as MessagePart[]) : [];
  });
}

/** The call id of each approval request a person was shown, by approval id (automatic ones are the SDK's own). */
function shownRequests(parts: readonly MessagePart[]): Map<unknown, unknown> {
  const requests = new Map<unknown, unknown>();
  for (const part of parts) {
    if (part.type !== 'tool-approval-request' || part.isAutomatic === true) continue;
    requests.set(part.approvalId, part.toolCallId ?? part.toolCall?.toolCallId);
  }
  return requests;
}

/**
 * The person's answer to this call's approval request, from the `tool-approval-response` the app put into the
 * messages. Automatic responses (the SDK's own `approved`/`denied` statuses) are not a person's answer.
 */
function approvalAnswer(opts: ExecuteOptions): ApprovalAnswer | undefined {
  const parts = partsOf(opts.messages);
  const requests = shownRequests(parts);
  let answer: ApprovalAnswer | undefined;
  for (const part of parts) {
    if (part.type !== 'tool-approval-response' || requests.get(part.approvalId) !== opts.toolCallId) continue;
    answer = { approved: part.approved === true, by: 'ai-sdk tool approval' };
    if (typeof part.reason === 'string') answer.reason = part.reason;
  }
  return answer;
}

/**
 * The refusals a person just gave: `tool-approval-response`s with `approved: false` in the tool messages that end the
 * prompt (where the app puts its answers before calling the SDK again; later steps end with tool results instead).
 */
function refusals(messages: readonly unknown[]): { toolCallId: string; reason?: string }[] {
  let start = messages.length;
  while (start > 0 && (messages[start - 1] as { role?: unknown }).role === 'tool') start--;
  // Every step passes here: a plain loop, and the conversation is searched only when something was refused.
  const refused: MessagePart[] = [];
  for (let i = start; i < messages.length; i++) {
    const content = (messages[i] as { content?: unknown }).content;
    if (!Array.isArray(content)) continue;
    for (const part of content as MessagePart[]) {
      if (part.type === 'tool-approval-response' && part.approved === false) refused.push(part);
    }
  }
  if (refused.length === 0) return [];
  const requests = shownRequests(partsOf(messages.slice(0, start)));
  const out: { toolCallId: string; reason?: string }[] = [];
  for (const part of refused) {
    const toolCallId = requests.get(part.approvalId);
    if (typeof toolCallId !== 'string') continue;
    out.push(typeof part.reason === 'string' ? { toolCallId, reason: part.reason } : { toolCallId });
  }
  return out;
}
