/**
 * Claude Agent SDK adapter (`ruleoftwo/claude-agent-sdk`). Translation only: a PreToolUse hook decides every tool call
 * (built-in and MCP alike, by the same policy), `ask` becomes Claude Code's permission prompt and `canUseTool` puts it
 * before a person, PostToolUse records outputs. Every hook is registered with `onFailure: 'block'`.
 */
import type {
  CanUseTool,
  HookCallback,
  HookCallbackMatcher,
  HookEvent,
  PermissionResult,
} from '@anthropic-ai/claude-agent-sdk';
import { askApprover } from '../approvals/ask.ts';
import type { Approver } from '../approvals/types.ts';
import { canonicalJson } from '../core/canonical.ts';
import type { Guard } from '../guard/guard.ts';
import type { ApprovalAnswer } from '../store/types.ts';
import { CallGate, deniedText, type Recorded } from './gate.ts';

/** Options of {@link guardClaudeAgent}. */
export interface ClaudeAgentGuardOptions {
  guard: Guard;
  /** The query's session id (one per conversation); open it with `guard.session(id)` first. */
  session: string;
  /** The person asked when a call needs approval; without one, every `ask` is denied. */
  approver?: Approver;
  /** The application's own permission prompt, for calls the guard allows but Claude Code still asks about. */
  canUseTool?: CanUseTool;
  /** Maps Claude Code's tool name (e.g. `mcp__gmail__send`) to the name the policy labels; default: unchanged. */
  toolName?: (name: string) => string;
}

/** Query options to spread into `query({prompt, options: {...guarded, ...}})`. */
export interface GuardedClaudeAgentOptions {
  hooks: Partial<Record<HookEvent, HookCallbackMatcher[]>>;
  canUseTool: CanUseTool;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Builds the hooks and `canUseTool` that put one query under the guard. */
export function guardClaudeAgent(options: ClaudeAgentGuardOptions): GuardedClaudeAgentOptions {
  const gate = new CallGate(options.guard, options.session);
  const policyName = options.toolName ?? ((name: string) => name);
  const callOf = (id: string, name: string, input: unknown) => ({ id, tool: policyName(name), args: input });

  const preToolUse: HookCallback = async (input) => {
    if (input.hook_event_name !== 'PreToolUse') return {};
    const verdict = await gate.decide(callOf(input.tool_use_id, input.tool_name, input.tool_input), { shown: true });
    // Allowed calls go on through Claude Code's own permission rules; the guard only ever narrows them.
    if (verdict.effect === 'allow') return {};
    return {
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: verdict.effect,
        permissionDecisionReason: verdict.message,
      },
    };
  };

  const postToolUse: HookCallback = async (input) => {
    let recorded: Recorded | undefined;
    if (input.hook_event_name === 'PostToolUse') recorded = await gate.record(input.tool_use_id, input.tool_response);
    else if (input.hook_event_name === 'PostToolUseFailure')
      await gate.record(input.tool_use_id, { error: input.error });
    if (recorded === undefined || (recorded.ok && !recorded.changed)) return {};
    // INVARIANT: an output whose legs were not recorded does not reach the model
    // (test/adapters/claude-agent-sdk.test.ts "replaces an output whose legs were not recorded"); nor do items that
    // author lineage removed (the filtered output replaces it).
    const updatedToolOutput = recorded.ok ? recorded.output : recorded.message;
    return { hookSpecificOutput: { hookEventName: 'PostToolUse', updatedToolOutput } };
  };

  /** The approver's answer; rejects when it fails or does not answer within the guard's approval timeout. */
  const ask = async (request: Parameters<Approver>[0], signal: AbortSignal): Promise<ApprovalAnswer | undefined> => {
    if (!options.approver) return undefined;
    const answer = await askApprover(options.approver, request, options.guard.approvalTimeoutMs, signal);
    return typeof answer === 'boolean' ? { approved: answer, by: 'claude-agent-sdk canUseTool' } : answer;
  };

  const canUseTool: CanUseTool = async (toolName, input, context): Promise<PermissionResult> => {
    const call = callOf(context.toolUseID, toolName, input);
    try {
      const verdict = await gate.decide(call);
      if (verdict.effect === 'ask') {
        let answer: ApprovalAnswer | undefined;
        try {
          answer = await ask(verdict.request, context.signal);
        } catch (error) {
          // INVARIANT: an approver that hangs past the guard's approval timeout, or fails, is given up on as
          // `guard.authorize` gives up: the request is closed and the denial audited with the same reason code
          // (test/adapters/claude-agent-sdk.test.ts "hangs past the guard approval timeout", "a failing approver denies").
          const decision = await options.guard.giveUp(verdict.request, error);
          return { behavior: 'deny', message: deniedText(call.tool, decision.reasons.at(-1)?.message ?? 'no answer') };
        }
        const settled = await gate.settle(call, () => answer);
        if (settled.effect !== 'allow') return { behavior: 'deny', message: settled.message };
        return { behavior: 'allow', updatedInput: input };
      }
      if (verdict.effect === 'deny') return { behavior: 'deny', message: verdict.message };
      if (!options.canUseTool) return { behavior: 'allow', updatedInput: input };
      const result = await options.canUseTool(toolName, input, context);
      // The app's own prompt refused a call the guard allowed: the refusal is audited and the reservation released.
      const refuse = async (message: string): Promise<PermissionResult> => {
        await gate.decline(call.id, { by: 'claude-agent-sdk canUseTool', reason: message });
        return { behavior: 'deny', message };
      };
      // An answer sent out of band (null) cannot be checked against the decided call, so it is not accepted.
      if (result === null) return refuse(deniedText(call.tool, 'the permission prompt answered out of band'));
      if (result.behavior === 'deny') {
        await gate.decline(call.id, { by: 'claude-agent-sdk canUseTool', reason: result.message });
        return result;
      }
      // INVARIANT: a prompt may not swap in other arguments than the guard decided on
      // (test/adapters/claude-agent-sdk.test.ts "refuses a delegated permission prompt that swaps the arguments").
      if (result.updatedInput && canonicalJson(result.updatedInput) !== canonicalJson(input)) {
        return refuse(deniedText(call.tool, 'the permission prompt changed its input'));
      }
      return result;
    } catch (error) {
      return { behavior: 'deny', message: deniedText(call.tool, `guard error: ${errorText(error)}`) };
    }
  };

  const matcher = (hook: HookCallback): HookCallbackMatcher[] => [{ hooks: [hook], onFailure: 'block' }];
  return {
    hooks: {
      PreToolUse: matcher(preToolUse),
      PostToolUse: matcher(postToolUse),
      PostToolUseFailure: matcher(postToolUse),
    },
    canUseTool,
  };
}
