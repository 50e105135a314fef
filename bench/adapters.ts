// Adapter overhead per guarded tool call vs the same tool unguarded, in the same run, with the in-memory stores.
//   node bench/adapters.ts [iterations]
// Each framework's own machinery (model calls, runners, the Claude Code CLI) costs the same with or without the guard,
// so each adapter is timed at the interception points the framework calls per tool call, against the bare tool.
import { guardTools as guardAiSdk } from '../src/adapters/ai-sdk.ts';
import { guardClaudeAgent } from '../src/adapters/claude-agent-sdk.ts';
import { ruleOfTwoMiddleware } from '../src/adapters/langchain.ts';
import { guardTools as guardOpenAI } from '../src/adapters/openai-agents.ts';
import { createGuard, type Guard } from '../src/guard/guard.ts';
import { MemoryApprovalStore, MemoryAuditLog, MemorySessionStore } from '../src/store/memory.ts';
import type { AuditLog } from '../src/store/types.ts';

const iterations = Number(process.argv[2] ?? 20_000);
const warmup = Math.min(2_000, iterations / 5);
const INBOX = [{ from: 'alice@example.com', subject: 'lunch?', body: 'Lunch on Friday?' }];
const readInbox = async () => INBOX;

/**
 * Three audit sinks: `MemoryAuditLog` (keeps a structured clone of every event, as tests use it); a sink that
 * serializes each event to a JSON line and drops it (the CPU work of a streaming log without the growing heap); and
 * one that drops events unread, which leaves the cost of the engine and the adapters alone.
 */
type AuditMode = 'MemoryAuditLog' | 'JSON lines, not kept' | 'dropped';
const MODES: readonly AuditMode[] = ['MemoryAuditLog', 'JSON lines, not kept', 'dropped'];
let auditMode: AuditMode = 'MemoryAuditLog';
let auditBytes = 0;

function freshGuard(): Guard {
  const streamed: AuditLog = {
    append: async (event) => {
      auditBytes += JSON.stringify(event).length + 1;
    },
    close: async () => {},
  };
  const dropped: AuditLog = { append: async () => {}, close: async () => {} };
  return createGuard({
    policy: { version: 1, session: { input: 'trusted' }, tools: { read_inbox: { call: 'B', output: 'AB' } } },
    sessions: new MemorySessionStore(),
    approvals: new MemoryApprovalStore(),
    audit: auditMode === 'MemoryAuditLog' ? new MemoryAuditLog() : auditMode === 'dropped' ? dropped : streamed,
  });
}

/** One guarded call and the same call unguarded, for call number `i`. */
interface Subject {
  name: string;
  guarded: (i: number) => Promise<unknown>;
  bare: (i: number) => Promise<unknown>;
}

async function subjects(): Promise<Subject[]> {
  const out: Subject[] = [];
  {
    const guard = freshGuard();
    await guard.session('s');
    const guarded = guard.wrap('read_inbox', readInbox);
    out.push({
      name: 'plain guard.wrap',
      guarded: (i) => guarded({}, { session: 's', callId: `c${i}` }),
      bare: readInbox,
    });
  }
  {
    const guard = freshGuard();
    await guard.session('s');
    const bare = async (_input: unknown, _options: unknown) => INBOX;
    const { tools, toolApproval } = guardAiSdk({ read_inbox: { execute: bare } }, { guard, session: 's' });
    const execute = tools.read_inbox.execute as unknown as (input: unknown, options: unknown) => Promise<unknown>;
    out.push({
      name: 'ai-sdk (toolApproval + execute)',
      guarded: async (i) => {
        const toolCall = { toolCallId: `c${i}`, toolName: 'read_inbox', input: {} };
        await toolApproval({ toolCall });
        return execute({}, { toolCallId: `c${i}`, messages: [] });
      },
      bare: (i) => bare({}, { toolCallId: `c${i}`, messages: [] }),
    });
  }
  {
    const guard = freshGuard();
    await guard.session('s');
    const invoke = async () => JSON.stringify(INBOX);
    const base = {
      type: 'function',
      name: 'read_inbox',
      description: 'read',
      parameters: {},
      strict: true,
      invoke,
      needsApproval: async () => false,
    };
    // biome-ignore lint/suspicious/noExplicitAny: a minimal FunctionTool and RunContext for timing.
    const [tool] = guardOpenAI([base as any], { guard, session: 's' }) as any[];
    const context = { isToolApproved: () => undefined };
    const guardrail = tool.inputGuardrails.at(-1);
    out.push({
      name: 'openai-agents (needsApproval + guardrail + invoke)',
      guarded: async (i) => {
        const toolCall = { type: 'function_call', callId: `c${i}`, name: 'read_inbox', arguments: '{}' };
        await tool.needsApproval(context, {}, `c${i}`);
        await guardrail.run({ context, agent: {}, toolCall });
        return tool.invoke(context, '{}', { toolCall });
      },
      bare: () => invoke(),
    });
  }
  {
    const guard = freshGuard();
    await guard.session('s');
    const middleware = ruleOfTwoMiddleware({ guard, session: 's' });
    const handler = async () => ({ content: JSON.stringify(INBOX) });
    // biome-ignore lint/suspicious/noExplicitAny: the hook is called as the agent's tool node would call it.
    const wrap = middleware.wrapToolCall as any;
    out.push({
      name: 'langchain (wrapToolCall)',
      guarded: (i) => wrap({ toolCall: { id: `c${i}`, name: 'read_inbox', args: {} } }, handler),
      bare: () => handler(),
    });
  }
  {
    const guard = freshGuard();
    await guard.session('s');
    const { hooks } = guardClaudeAgent({ guard, session: 's' });
    const pre = hooks.PreToolUse?.[0]?.hooks[0];
    const post = hooks.PostToolUse?.[0]?.hooks[0];
    if (!pre || !post) throw new Error('hooks missing');
    const signal = new AbortController().signal;
    const base = { session_id: 'x', transcript_path: '', cwd: '', tool_name: 'read_inbox', tool_input: {} };
    out.push({
      name: 'claude-agent-sdk (PreToolUse + PostToolUse)',
      guarded: async (i) => {
        const id = `c${i}`;
        await pre({ ...base, hook_event_name: 'PreToolUse', tool_use_id: id }, id, { signal });
        const output = await readInbox();
        await post({ ...base, hook_event_name: 'PostToolUse', tool_use_id: id, tool_response: output }, id, { signal });
        return output;
      },
      bare: readInbox,
    });
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(subject: Subject) {
  const guarded = new Float64Array(iterations);
  const bare = new Float64Array(iterations);
  for (let i = 0; i < warmup; i++) {
    await subject.guarded(-i - 1);
    await subject.bare(i);
  }
  const heapBefore = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    // Interleaved, so both see the same machine load.
    let t = process.hrtime.bigint();
    await subject.guarded(i);
    guarded[i] = Number(process.hrtime.bigint() - t) / 1000;
    t = process.hrtime.bigint();
    await subject.bare(i);
    bare[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  guarded.sort();
  bare.sort();
  const p50 = percentile(guarded, 50) - percentile(bare, 50);
  const p99 = percentile(guarded, 99) - percentile(bare, 99);
  return {
    audit: auditMode,
    adapter: subject.name,
    'guarded p50 µs': percentile(guarded, 50).toFixed(1),
    'guarded p99 µs': percentile(guarded, 99).toFixed(1),
    'bare p50 µs': percentile(bare, 50).toFixed(2),
    'bare p99 µs': percentile(bare, 99).toFixed(2),
    'overhead p50 µs': p50.toFixed(1),
    'overhead p99 µs': p99.toFixed(1),
    'p99 ≤ 20 µs': p99 <= 20 ? 'yes' : 'NO',
    'guarded calls/s': Math.round(iterations / seconds).toLocaleString('en-US'),
    'heap Δ MiB': heapMiB.toFixed(1),
  };
}

console.log(`adapter overhead per tool call, ${iterations} calls each (in-memory stores, node ${process.version})`);
for (const mode of MODES) {
  auditMode = mode;
  const rows = [];
  for (const subject of await subjects()) rows.push(await measure(subject));
  console.table(rows);
}
console.log(`audit bytes serialized by the streaming sink: ${auditBytes.toLocaleString('en-US')}`);
