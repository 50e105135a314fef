/**
 * LangChain.js / LangGraph.js adapter (`ruleoftwo/langchain`). Translation only: a `wrapToolCall` middleware for
 * `createAgent` decides each tool call, refuses denied calls with a `ToolMessage` the model reads, pauses on `ask` with
 * LangGraph's `interrupt()` (resumed with `Command({resume})`), and records the outputs of calls that ran.
 */
import type { ToolCall as LangChainToolCall } from '@langchain/core/messages/tool';
import { getConfig, interrupt } from '@langchain/langgraph';
import { createMiddleware, ToolMessage } from 'langchain';
import type { ApprovalRequest } from '../core/decision.ts';
import type { Guard } from '../guard/guard.ts';
import type { ApprovalAnswer } from '../store/types.ts';
import { CallGate } from './gate.ts';

/** Options of {@link ruleOfTwoMiddleware}. */
export interface LangChainGuardOptions {
  guard: Guard;
  /**
   * The session of a tool call: a fixed id, or a function of the call. Defaults to the run's `thread_id`
   * (`configurable.thread_id`), one session per conversation. No session means every call is denied.
   */
  session?: string | ((toolCall: LangChainToolCall) => string | undefined);
}

/** What `interrupt()` carries to the application when a call needs a person. */
export interface ApprovalInterrupt {
  type: 'ruleoftwo/approval';
  /** What is gated and why, for a person to read. */
  message: string;
  request: ApprovalRequest;
}

/**
 * How the application answers an {@link ApprovalInterrupt}: `Command({resume: true | false | {approved, reason?}})`.
 * Anything else counts as a refusal.
 */
export type ApprovalResume = boolean | { approved: boolean; reason?: string; by?: string };

function threadSession(): string | undefined {
  const thread: unknown = getConfig()?.configurable?.thread_id;
  return typeof thread === 'string' && thread !== '' ? thread : undefined;
}

function toAnswer(resume: unknown): ApprovalAnswer {
  if (typeof resume === 'boolean') return { approved: resume, by: 'langgraph interrupt' };
  if (
    resume !== null &&
    typeof resume === 'object' &&
    typeof (resume as { approved?: unknown }).approved === 'boolean'
  ) {
    const { approved, reason, by } = resume as { approved: boolean; reason?: unknown; by?: unknown };
    const answer: ApprovalAnswer = { approved, by: typeof by === 'string' ? by : 'langgraph interrupt' };
    if (typeof reason === 'string') answer.reason = reason;
    return answer;
  }
  return { approved: false, by: 'langgraph interrupt', reason: 'the resume value was not an approval answer' };
}

/** What of a tool's output the guard records: the message content, parsed when it is JSON. */
function recordedOutput(output: unknown): unknown {
  if (!ToolMessage.isInstance(output)) return output;
  const { content } = output;
  if (typeof content !== 'string') return content;
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

/** A `createAgent` middleware that enforces the Rule of Two on every tool call of the agent. */
export function ruleOfTwoMiddleware(options: LangChainGuardOptions) {
  const sessionOf = (toolCall: LangChainToolCall): string | undefined =>
    typeof options.session === 'function' ? options.session(toolCall) : (options.session ?? threadSession());
  return createMiddleware({
    name: 'ruleoftwo',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      // A node re-runs from its start when resumed, so each pass builds its gate afresh; the approval state that must
      // survive the pause lives in the guard's approval store.
      const gate = new CallGate(options.guard, sessionOf(toolCall) ?? '');
      const call = { id: toolCall.id ?? '', tool: toolCall.name, args: toolCall.args };
      const verdict = await gate.decide(call, { shown: true });
      let answer: ApprovalAnswer | undefined;
      if (verdict.effect === 'ask') {
        const payload: ApprovalInterrupt = {
          type: 'ruleoftwo/approval',
          message: verdict.message,
          request: verdict.request,
        };
        answer = toAnswer(interrupt(payload));
      }
      const outcome = await gate.run(call, () => handler(request), { answer: () => answer, recordAs: recordedOutput });
      if (outcome.ok) return outcome.output;
      return new ToolMessage({ content: outcome.message, tool_call_id: call.id, name: call.tool, status: 'error' });
    },
  });
}
