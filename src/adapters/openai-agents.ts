/**
 * OpenAI Agents JS adapter (`ruleoftwo/openai-agents`). Translation only: `needsApproval` puts `ask` into the SDK's
 * interruptions, an input guardrail rejects denied calls with a message the model reads, `invoke` runs allowed
 * calls (or the call a person approved, bound to its call id) and records their outputs, and `isEnabled`, which the
 * SDK asks before every model turn, audits the interruptions a person rejected.
 */
import type { FunctionTool, RunContext, ToolInputGuardrailDefinition } from '@openai/agents';
import { ConfigError } from '../errors.ts';
import type { Guard } from '../guard/guard.ts';
import { CallGate, MAX_HELD_VERDICTS } from './gate.ts';

/** Where guarded tools act: a guard and the id of an open session (one per conversation or run). */
export interface OpenAIAgentsGuardOptions {
  guard: Guard;
  /** The conversation's session id; open it with `guard.session(id)` first. An unknown session denies every call. */
  session: string;
}

// biome-ignore lint/suspicious/noExplicitAny: matches the SDK's own `FunctionTool<any, any, any>` for any tool.
type AnyFunctionTool = FunctionTool<any, any, any>;

/** Every tool {@link guardTools} returned: an agent that runs any other tool is refused. */
const guardedTools = new WeakSet<object>();

/** Guards function tools for one conversation: the same tools with the guard in their approval, guardrail and invoke. */
export function guardTools<T extends AnyFunctionTool>(tools: readonly T[], options: OpenAIAgentsGuardOptions): T[] {
  const gate = new CallGate(options.guard, options.session);
  const interrupted: Interrupted = new Map();
  return tools.map((tool) => {
    const guarded = guardTool(gate, interrupted, tool);
    guardedTools.add(guarded);
    return guarded;
  });
}

/** What {@link assertAllGuarded} reads of an agent: its tools, MCP servers and the agents it may hand off to. */
interface AgentShape {
  name?: unknown;
  tools?: readonly { name?: unknown }[];
  mcpServers?: readonly unknown[];
  handoffs?: readonly (AgentShape | { agent?: AgentShape })[];
}

/**
 * Throws when the agent, or an agent it may hand the conversation to, runs a tool the guard does not see: a tool
 * added without {@link guardTools}, a hosted tool (run by OpenAI) or an MCP server's tools. Such a call would run
 * undecided and its output reach the model unrecorded; a handoff carries the whole conversation, untrusted input
 * included, to the agent it names.
 */
function assertAllGuarded(agent: AgentShape): void {
  // INVARIANT: an agent with a tool the guard does not see does not run, nor does one that hands off to such an
  // agent (test/adapters/unguarded-tools.test.ts).
  const seen = new Set<AgentShape>();
  const visit = (current: AgentShape, via: string): void => {
    if (seen.has(current)) return;
    seen.add(current);
    const other = (current.tools ?? []).find((tool) => !guardedTools.has(tool));
    if (other)
      throw new ConfigError(
        `ruleoftwo does not guard the tool \`${String(other.name)}\` of ${via}; guard it with guardTools`,
      );
    if ((current.mcpServers ?? []).length > 0)
      throw new ConfigError(`ruleoftwo does not guard the tools of the MCP servers of ${via}; leave mcpServers out`);
    for (const item of current.handoffs ?? []) {
      const target = 'agent' in item && item.agent !== undefined ? item.agent : (item as AgentShape);
      visit(target, `agent \`${String(target.name)}\`, which \`${String(current.name)}\` hands off to`);
    }
  };
  visit(agent, 'the agent');
}

/** Calls put before a person as interruptions and not run yet: tool name by call id. */
type Interrupted = Map<string, string>;

/**
 * Audits the interruptions a person rejected: the SDK answers a rejected call itself and never runs it, so the guard
 * learns of the refusal from the run's approval state before the next model turn.
 */
async function auditRejections(gate: CallGate, interrupted: Interrupted, context: RunContext): Promise<void> {
  for (const [callId, toolName] of interrupted) {
    if (context.isToolApproved({ toolName, callId }) !== false) continue;
    interrupted.delete(callId);
    await gate.decline(callId, { by: 'openai-agents interruption' });
  }
}

function parseArgs(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    // Malformed arguments are decided as the raw string: the policy sees exactly what the model sent.
    return input;
  }
}

function guardTool<T extends AnyFunctionTool>(gate: CallGate, interrupted: Interrupted, tool: T): T {
  const guardrail: ToolInputGuardrailDefinition = {
    type: 'tool_input',
    name: 'ruleoftwo',
    run: async ({ toolCall }) => {
      const call = { id: toolCall.callId, tool: tool.name, args: parseArgs(toolCall.arguments) };
      const verdict = gate.held(call) ?? (await gate.decide(call));
      if (verdict.effect === 'deny') return { behavior: { type: 'rejectContent', message: verdict.message } };
      return { behavior: { type: 'allow' } };
    },
  };
  return {
    ...tool,
    needsApproval: async (context: RunContext, input: unknown, callId?: string) => {
      // A call without an id cannot be bound to an approval: it goes before a person, and `invoke` denies it.
      if (callId === undefined) return true;
      const verdict = await gate.decide({ id: callId, tool: tool.name, args: input }, { shown: true });
      const asks =
        verdict.effect === 'ask' || (verdict.effect === 'allow' && (await tool.needsApproval(context, input, callId)));
      if (asks) {
        interrupted.set(callId, tool.name);
        // A run that is never resumed leaves its interruptions here; the oldest are forgotten.
        if (interrupted.size > MAX_HELD_VERDICTS) interrupted.delete(interrupted.keys().next().value as string);
      }
      return asks;
    },
    isEnabled: async (context: RunContext, agent: Parameters<AnyFunctionTool['isEnabled']>[1]) => {
      assertAllGuarded(agent);
      if (interrupted.size > 0) await auditRejections(gate, interrupted, context);
      return tool.isEnabled(context, agent);
    },
    inputGuardrails: [...(tool.inputGuardrails ?? []), guardrail],
    invoke: async (context: RunContext, input: string, details?: Parameters<AnyFunctionTool['invoke']>[2]) => {
      const callId = details?.toolCall?.callId ?? '';
      interrupted.delete(callId);
      const answer = () => {
        const approved = context.isToolApproved({ toolName: tool.name, callId });
        return approved === undefined ? undefined : { approved, by: 'openai-agents interruption' };
      };
      const call = { id: callId, tool: tool.name, args: parseArgs(input) };
      const outcome = await gate.run(call, () => tool.invoke(context, input, details), { answer });
      return outcome.ok ? outcome.output : outcome.message;
    },
  };
}
