// Adapter overhead per guarded tool call vs the same tool unguarded, in the same run, with the in-memory stores.
//   node_modules/.bin/node bench/adapters.ts [calls per adapter]
// Each framework's own machinery (model calls, runners, the Claude Code CLI) costs the same with or without the guard,
// so each adapter is timed at the interception points the framework calls per tool call, against the bare tool.
// Every guarded call is decided, recorded and audited, as in use; the headline guard is `createGuard({policy})` with
// nothing else, the in-memory stores a user gets by default, its audit log keeping every event. That log copies each
// event at once and writes it out as JSON bytes when the event loop is free. Calls back to back never free it (only
// microtasks run between them), so the log writes a batch out itself every few thousand events, inside a timed call:
// the worst case. In an agent the loop turns between tool calls (the model is called in between); the second mode
// does that, outside the timed calls, and its CPU column includes writing the events out.
// Each adapter runs, in each mode, in a worker thread of its own (its own V8 isolate and heap, as in an application
// that uses one framework), and the workers take turns in rounds, one at a time, so that the VM's load drifting during
// the run falls on every adapter and mode alike.
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { guardTools as guardAiSdk } from '../src/adapters/ai-sdk.ts';
import { guardClaudeAgent } from '../src/adapters/claude-agent-sdk.ts';
import { ruleOfTwoMiddleware } from '../src/adapters/langchain.ts';
import { guardTools as guardOpenAI } from '../src/adapters/openai-agents.ts';
import { createGuard, type Guard } from '../src/guard/guard.ts';
import { MemoryAuditLog } from '../src/store/memory.ts';
import { hostReference } from './host.ts';

// Exposes `gc` to measure what the audit log keeps; collections still run on their own during the timed calls.
setFlagsFromString('--expose-gc');
const iterations = Number(isMainThread ? (process.argv[2] ?? 50_000) : workerData.iterations);
const warmup = Math.min(10_000, iterations / 5);
const INBOX = [{ from: 'alice@example.com', subject: 'lunch?', body: 'Lunch on Friday?' }];
const readInbox = async () => INBOX;
const POLICY = {
  version: 1,
  session: { input: 'trusted' },
  tools: { read_inbox: { call: 'B', output: 'AB' } },
} as const;

/**
 * The default guard (in-memory stores and `MemoryAuditLog`) with calls back to back and with the event loop turning
 * between calls; and, as a reference for what the engine and the adapters cost alone, the same guard with an audit
 * log that drops every event.
 */
interface Mode {
  name: string;
  dropAudit: boolean;
  turns: boolean;
}
const MODES: readonly Mode[] = [
  { name: 'default guard (MemoryAuditLog), calls back to back', dropAudit: false, turns: false },
  { name: 'default guard, the event loop turns between calls (outside the timing)', dropAudit: false, turns: true },
  { name: 'reference: audit log that drops every event, calls back to back', dropAudit: true, turns: false },
];
const mode = (isMainThread ? MODES[0] : MODES[workerData.mode]) as Mode;
/** A turn of the event loop, as an agent has between tool calls while it waits for the model. */
const turn = () => new Promise((resolve) => setImmediate(resolve));
/** The default guard's log, given explicitly (the class `createGuard` defaults to) so the run can count it. */
let lastLog: MemoryAuditLog | undefined;

function freshGuard(): Guard {
  if (mode.dropAudit) {
    return createGuard({ policy: POLICY, audit: { append: async () => {}, close: async () => {} } });
  }
  const audit = new MemoryAuditLog();
  lastLog = audit;
  return createGuard({ policy: POLICY, audit });
}

/**
 * One guarded call and the same call unguarded, for call number `i`. `input` builds what the framework hands its
 * hooks for that call (the messages, the tool call); the framework builds it with or without a guard, so it is built
 * before either call is timed and both calls get it.
 */
interface Subject<T = unknown> {
  name: string;
  input: (i: number) => T;
  guarded: (i: number, input: T) => Promise<unknown>;
  bare: (i: number, input: T) => Promise<unknown>;
}

/** A subject whose calls take nothing from the framework but their number. */
const noInput = () => undefined;

/** A subject typed by its input, as the list of subjects holds it. */
const subject = <T>(s: Subject<T>): Subject => s as Subject;

/**
 * Each adapter's subject, built when it is measured so that the guards (and audit logs) measured before it can be
 * collected: every adapter runs with one fresh guard, as an application has.
 */
const SUBJECTS: (() => Promise<Subject>)[] = [
  async (): Promise<Subject> => {
    const guard = freshGuard();
    await guard.session('s');
    const guarded = guard.wrap('read_inbox', readInbox);
    return {
      name: 'plain guard.wrap',
      input: noInput,
      guarded: (i) => guarded({}, { session: 's', callId: `c${i}` }),
      bare: readInbox,
    };
  },
  async (): Promise<Subject> => {
    const guard = freshGuard();
    await guard.session('s');
    const bare = async (_input: unknown, _options: unknown) => INBOX;
    const guarded = guardAiSdk({ read_inbox: { execute: bare } }, { guard, session: 's' });
    const { toolApproval, prepareStep } = guarded;
    const execute = guarded.tools.read_inbox.execute as unknown as (
      input: unknown,
      options: unknown,
    ) => Promise<unknown>;
    // `prepareStep` runs once per model step, not per call; counting it per call overstates the overhead a little.
    const step = (i: number) => [
      { role: 'user', content: 'Check my inbox.' },
      {
        role: 'assistant',
        content: [{ type: 'tool-call', toolCallId: `c${i - 1}`, toolName: 'read_inbox', input: {} }],
      },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: `c${i - 1}`, toolName: 'read_inbox', output: {} }] },
    ];
    return subject({
      name: 'ai-sdk (prepareStep + toolApproval + execute)',
      input: (i) => {
        const messages = step(i);
        const toolCall = { toolCallId: `c${i}`, toolName: 'read_inbox', input: {} };
        return { messages, toolCall, options: { toolCallId: `c${i}`, messages } };
      },
      guarded: async (_i, { messages, toolCall, options }) => {
        await prepareStep({ messages });
        await toolApproval({ toolCall, messages });
        return execute({}, options);
      },
      bare: (_i, { options }) => bare({}, options),
    });
  },
  async (): Promise<Subject> => {
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
      isEnabled: async () => true,
    };
    // biome-ignore lint/suspicious/noExplicitAny: a minimal FunctionTool and RunContext for timing.
    const [tool] = guardOpenAI([base as any], { guard, session: 's' }) as any[];
    const context = { isToolApproved: () => undefined };
    const guardrail = tool.inputGuardrails.at(-1);
    return subject({
      // `isEnabled` runs once per model turn and tool; counted per call here.
      name: 'openai-agents (isEnabled + needsApproval + guardrail + invoke)',
      input: (i) => ({ type: 'function_call', callId: `c${i}`, name: 'read_inbox', arguments: '{}' }),
      guarded: async (_i, toolCall) => {
        await tool.isEnabled(context, {});
        await tool.needsApproval(context, {}, toolCall.callId);
        await guardrail.run({ context, agent: {}, toolCall });
        return tool.invoke(context, '{}', { toolCall });
      },
      bare: () => invoke(),
    });
  },
  async (): Promise<Subject> => {
    const guard = freshGuard();
    await guard.session('s');
    const middleware = ruleOfTwoMiddleware({ guard, session: 's' });
    const handler = async () => ({ content: JSON.stringify(INBOX) });
    // biome-ignore lint/suspicious/noExplicitAny: the hook is called as the agent's tool node would call it.
    const wrap = middleware.wrapToolCall as any;
    return {
      name: 'langchain (wrapToolCall)',
      input: (i) => ({ toolCall: { id: `c${i}`, name: 'read_inbox', args: {} } }),
      guarded: (_i, request) => wrap(request, handler),
      bare: () => handler(),
    };
  },
  async (): Promise<Subject> => {
    const guard = freshGuard();
    await guard.session('s');
    const { hooks } = guardClaudeAgent({ guard, session: 's' });
    const pre = hooks.PreToolUse?.[0]?.hooks[0];
    const post = hooks.PostToolUse?.[0]?.hooks[0];
    if (!pre || !post) throw new Error('hooks missing');
    const signal = new AbortController().signal;
    const base = { session_id: 'x', transcript_path: '', cwd: '', tool_name: 'read_inbox', tool_input: {} };
    return subject({
      name: 'claude-agent-sdk (PreToolUse + PostToolUse)',
      input: (i) => ({ id: `c${i}`, pre: { ...base, hook_event_name: 'PreToolUse' as const, tool_use_id: `c${i}` } }),
      guarded: async (_i, { id, pre: preInput }) => {
        await pre(preInput, id, { signal });
        const output = await readInbox();
        // The framework builds this input once the tool has answered; it is built in the timed call.
        await post({ ...base, hook_event_name: 'PostToolUse', tool_use_id: id, tool_response: output }, id, { signal });
        return output;
      },
      bare: readInbox,
    });
  },
];

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Heap plus array buffers after a full collection: what the run keeps (the audit log's chunks are array buffers). */
const collect = runInNewContext('gc') as () => void;
function retainedBytes(): number {
  collect();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Rounds the timed calls are taken in, the adapters taking turns, so that a burst of load hits them alike. */
const ROUNDS = 10;

/** One adapter measured in this worker: its subject, its own log, the next call number, and every call's time. */
interface Run {
  subject: Subject;
  log: MemoryAuditLog | undefined;
  next: number;
  guarded: Float64Array;
  bare: Float64Array;
  seconds: number;
}

/** Calls `guarded` and then `bare` for `count` call numbers; when timing, keeps each call's µs from `at` on. */
async function calls(run: Run, count: number, at?: number): Promise<void> {
  const { subject } = run;
  const started = process.hrtime.bigint();
  for (let k = 0; k < count; k++) {
    const i = run.next++;
    const input = subject.input(i);
    // Interleaved, so both see the same machine load.
    let t = process.hrtime.bigint();
    await subject.guarded(i, input);
    const guardedTime = Number(process.hrtime.bigint() - t) / 1000;
    t = process.hrtime.bigint();
    await subject.bare(i, input);
    const bareTime = Number(process.hrtime.bigint() - t) / 1000;
    if (at !== undefined) {
      run.guarded[at + k] = guardedTime;
      run.bare[at + k] = bareTime;
    }
    if (mode.turns) await turn();
  }
  if (at !== undefined) run.seconds += Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * Main-thread CPU time per call of `call`, over `count` calls: unlike wall-clock tails, it hardly moves with the
 * machine's load (collections on the main thread count, the collector's helper threads do not).
 */
async function cpuPerCall(
  call: (i: number, input: unknown) => Promise<unknown>,
  run: Run,
  count: number,
): Promise<number> {
  const before = process.threadCpuUsage();
  for (let k = 0; k < count; k++) {
    // The framework's input is built here for the guarded and the bare calls alike, so it cancels out.
    const i = run.next++;
    await call(i, run.subject.input(i));
    if (mode.turns) await turn();
  }
  const { user, system } = process.threadCpuUsage(before);
  return (user + system) / count;
}

/** What a worker reports when its adapter is done. */
interface Report {
  name: string;
  guarded: Float64Array;
  bare: Float64Array;
  seconds: number;
  cpuGuarded: number;
  cpuBare: number;
  retainedPerCall: number;
  held: number | undefined;
}

/** A message from the main thread: warm up, time calls from `from`, or finish and report. */
type Order = { warm: true } | { from: number; count: number } | { finish: true };

/** The worker's side: one adapter in one mode, doing what the main thread orders, one order at a time. */
async function serve(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('not a worker');
  const subject = await (SUBJECTS[workerData.subject] as () => Promise<Subject>)();
  const run: Run = {
    subject,
    log: lastLog,
    next: 0,
    guarded: new Float64Array(iterations),
    bare: new Float64Array(iterations),
    seconds: 0,
  };
  port.on('message', async (order: Order) => {
    if ('warm' in order) await calls(run, warmup);
    else if ('from' in order) await calls(run, order.count, order.from);
    else {
      // CPU and memory per call are taken apart from the timed calls.
      const cpuCalls = Math.ceil(iterations / 5);
      const retainedBefore = retainedBytes();
      const cpuGuarded = await cpuPerCall(run.subject.guarded, run, cpuCalls);
      const retainedPerCall = (retainedBytes() - retainedBefore) / cpuCalls;
      const cpuBare = await cpuPerCall(run.subject.bare, run, cpuCalls);
      const report: Report = {
        name: subject.name,
        guarded: run.guarded,
        bare: run.bare,
        seconds: run.seconds,
        cpuGuarded,
        cpuBare,
        retainedPerCall,
        held: run.log ? readBack(run.log) : undefined,
      };
      port.postMessage(report);
      port.close();
      return;
    }
    port.postMessage('done');
  });
}

/** Gives a worker an order and waits until it has carried it out (rejects if the worker fails). */
async function order(worker: Worker, what: Order): Promise<unknown> {
  const reply = once(worker, 'message');
  worker.postMessage(what);
  return (await reply)[0];
}

/**
 * Measures every adapter in every mode, each pair in its own worker. All are warmed up first; then the timed calls are
 * taken in rounds, the workers taking turns (only one runs at a time), and every timed call counts in its adapter's
 * percentiles. Returns the reports by mode.
 */
async function measureAll(): Promise<Report[][]> {
  const workers = MODES.map((_, mode) =>
    SUBJECTS.map((_, subject) => new Worker(new URL(import.meta.url), { workerData: { mode, subject, iterations } })),
  );
  const all = workers.flat();
  for (const worker of all) await order(worker, { warm: true });
  const perRound = Math.ceil(iterations / ROUNDS);
  for (let from = 0; from < iterations; from += perRound) {
    for (const worker of all) await order(worker, { from, count: Math.min(perRound, iterations - from) });
  }
  const reports: Report[][] = [];
  for (const byMode of workers) {
    const done: Report[] = [];
    for (const worker of byMode) done.push((await order(worker, { finish: true })) as Report);
    reports.push(done);
  }
  await Promise.all(all.map((worker) => worker.terminate()));
  return reports;
}

/** A table row of one adapter's figures. */
function row(report: Report): Record<string, string> {
  const guarded = report.guarded.sort();
  const bare = report.bare.sort();
  const at = (sorted: Float64Array, p: number) => percentile(sorted, p);
  const p50 = at(guarded, 50) - at(bare, 50);
  const p99 = at(guarded, 99) - at(bare, 99);
  return {
    adapter: report.name,
    'guarded p50/p99/p99.9 µs': `${at(guarded, 50).toFixed(1)} / ${at(guarded, 99).toFixed(1)} / ${at(guarded, 99.9).toFixed(0)}`,
    'bare p50/p99 µs': `${at(bare, 50).toFixed(2)} / ${at(bare, 99).toFixed(2)}`,
    'guarded/bare p50, p99': `${(at(guarded, 50) / at(bare, 50)).toFixed(0)}×, ${(at(guarded, 99) / at(bare, 99)).toFixed(0)}×`,
    'overhead p50 µs': p50.toFixed(1),
    'overhead p99 µs': p99.toFixed(1),
    'p99 ≤ 20 µs': p99 <= 20 ? 'yes' : 'NO',
    'overhead CPU µs': (report.cpuGuarded - report.cpuBare).toFixed(1),
    'calls/s': Math.round(iterations / report.seconds).toLocaleString('en-US'),
    'kept B/call': report.retainedPerCall.toFixed(0),
  };
}

/**
 * Reads a default log back after its run and checks it: the session opened, then each call's decision followed by its
 * result, in order. Returns how many events it holds.
 */
function readBack(log: MemoryAuditLog): number {
  const events = log.events;
  for (let i = 1; i < events.length; i += 2) {
    const decision = events[i];
    const result = events[i + 1];
    if (decision?.type !== 'decision' || result?.type !== 'result' || decision.decision.callId !== result.callId) {
      throw new Error(`audit event ${i} is not a call's decision followed by its result`);
    }
  }
  return events.length;
}

async function main(): Promise<void> {
  const held: number[] = [];
  console.log(`adapter overhead per tool call, ${iterations} calls each (in-memory stores, node ${process.version})`);
  // The VM's speed drifts: the reference loop before and after says how fast the host was during the run.
  console.log(`at the start: ${hostReference()}`);
  const byMode = await measureAll();
  const atTheEnd = hostReference();
  for (const [index, each] of MODES.entries()) {
    const reports = byMode[index] ?? [];
    for (const report of reports) if (report.held !== undefined) held.push(report.held);
    console.log(each.name);
    console.table(reports.map(row));
  }
  // Every guarded call wrote its decision and its result: the default guard did not skip its audit log.
  const expected = 2 * (warmup + iterations + Math.ceil(iterations / 5)) + 1;
  if (held.some((size) => size < expected))
    throw new Error(`audit logs hold ${held} events, expected ${expected} each`);
  console.log(`each default audit log holds ${held[0]?.toLocaleString('en-US')} events, readable and in order`);
  console.log(`at the end: ${atTheEnd}`);
}

if (isMainThread) await main();
else await serve();
