/**
 * Benchmark of the pure engine: `decide` on a 100-tool policy with argument conditions (per-call latency p50/p99,
 * mean, throughput), memory per idle session, and `@cedar-policy/cedar-wasm` on an equivalent stateless allow/deny
 * policy in the same run. Run: `node_modules/.bin/node --expose-gc bench/decide.ts` (re-executes itself with
 * --expose-gc when started without it).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { decide, type ToolCall } from '../src/core/decide.ts';
import type { PolicyDocument, ToolDocument } from '../src/core/document.ts';
import { compilePolicy } from '../src/core/policy.ts';
import { newSessionState, type SessionState } from '../src/core/state.ts';
import { nativeSha256 } from '../src/guard/guard.ts';

if (typeof globalThis.gc !== 'function') {
  const run = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
const gc = globalThis.gc as () => void;

const TOOLS = 100;
const WARMUP = 50_000;
const SAMPLES = 300_000;
// cedar-wasm is two orders of magnitude slower per call; fewer samples keep the run under two minutes.
const CEDAR_WARMUP = 2_000;
const CEDAR_SAMPLES = 20_000;

// ---------------------------------------------------------------------------------------------------------------
// The policy: 100 tools in four kinds, every other one with an argument condition.

type Kind = 'read' | 'mail' | 'pay' | 'fetch';
const KINDS: Kind[] = ['read', 'mail', 'pay', 'fetch'];
const kindOf = (i: number): Kind => KINDS[i % KINDS.length] as Kind;
const name = (i: number) => `${kindOf(i)}_${String(i).padStart(3, '0')}`;

function toolDocument(i: number): ToolDocument {
  const conditional = i % 8 < 4;
  switch (kindOf(i)) {
    case 'read':
      return {
        call: 'B',
        output: 'AB',
        ...(conditional ? { when: [{ match: { folder: 'internal' }, output: 'B' }] } : {}),
      };
    case 'mail':
      return { call: 'BC', ...(conditional ? { when: [{ match: { to: { in: 'internal' } }, call: 'B' }] } : {}) };
    case 'pay':
      return {
        call: 'BC',
        ...(conditional ? { when: [{ match: { amount: { lt: 100 }, currency: 'EUR' }, call: 'B' }] } : {}),
      };
    case 'fetch':
      return { output: 'A', ...(conditional ? { when: [{ match: { url: { in: 'docs' } }, output: 'none' }] } : {}) };
  }
}

const tools: Record<string, ToolDocument> = {};
for (let i = 0; i < TOOLS; i++) tools[name(i)] = toolDocument(i);
const document: PolicyDocument = {
  version: 1,
  name: 'bench-100',
  session: { configuration: 'dynamic', input: 'untrusted' },
  lists: { internal: ['*@corp.example', 'ops@partner.example'], docs: ['https://docs.corp.example/*'] },
  tools,
};
const policy = compilePolicy(document);

/** Arguments that match the tool's condition half of the time. */
function argsFor(i: number, variant: number): Record<string, unknown> {
  const hit = variant % 2 === 0;
  switch (kindOf(i)) {
    case 'read':
      return { folder: hit ? 'internal' : 'inbox' };
    case 'mail':
      return { to: hit ? 'bob@corp.example' : 'eve@evil.example', subject: 'status', body: 'weekly report' };
    case 'pay':
      return { amount: hit ? 42 : 4200, currency: 'EUR', iban: 'DE89370400440532013000' };
    case 'fetch':
      return { url: hit ? 'https://docs.corp.example/guide' : 'https://evil.example/x' };
  }
}

const calls: ToolCall[] = [];
for (let n = 0; n < 4096; n++) {
  const i = (n * 37) % TOOLS;
  calls.push({ id: `c${n}`, tool: name(i), args: argsFor(i, n >> 2) });
}

// Two realistic session states: fresh (untrusted input: A) and busy (A and B held, a call pending, a C call made).
const fresh = newSessionState({ id: 'bench-fresh', configuration: 'dynamic', input: 'untrusted', now: 0 });
let busy: SessionState = fresh;
for (const call of [calls[0], { id: 'p1', tool: name(0), args: { folder: 'inbox' } }] as ToolCall[]) {
  busy = decide(policy, busy, call, { now: 0, newId: () => 'x' }).state;
}
busy = { ...busy, pending: busy.pending.slice(-1) };

// ---------------------------------------------------------------------------------------------------------------
// Measurement helpers

interface Figures {
  p50: number;
  p99: number;
  mean: number;
  throughput: number;
  /** Process CPU time per call in the throughput loop: what other processes on a loaded machine do not inflate. */
  cpu: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** Per-call latency with hrtime around each call, then throughput from a tight loop without per-call timers. */
function measure(run: (n: number) => unknown, samplesWanted = SAMPLES, warmup = WARMUP): Figures {
  for (let n = 0; n < warmup; n++) run(n);
  const samples = new Float64Array(samplesWanted);
  for (let n = 0; n < samplesWanted; n++) {
    const start = process.hrtime.bigint();
    run(n);
    samples[n] = Number(process.hrtime.bigint() - start);
  }
  samples.sort();
  let total = 0;
  for (const s of samples) total += s;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let n = 0; n < samplesWanted; n++) run(n);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  return {
    p50: percentile(samples, 0.5) / 1000,
    p99: percentile(samples, 0.99) / 1000,
    mean: total / samplesWanted / 1000,
    throughput: samplesWanted / seconds,
    cpu: (cpu.user + cpu.system) / samplesWanted,
  };
}

/** The cost of the timer itself, subtracted from nothing but printed so readers can judge small figures. */
function timerCost(): number {
  const samples = new Float64Array(100_000);
  for (let n = 0; n < samples.length; n++) {
    const start = process.hrtime.bigint();
    samples[n] = Number(process.hrtime.bigint() - start);
  }
  samples.sort();
  return percentile(samples, 0.5) / 1000;
}

const fmt = (f: Figures) =>
  `p50 ${f.p50.toFixed(2)} µs  p99 ${f.p99.toFixed(2)} µs  mean ${f.mean.toFixed(2)} µs  cpu ${f.cpu.toFixed(2)} µs/call  ${Math.round(f.throughput).toLocaleString('en-US')} calls/s`;

let sink = 0;
// The guard's context: a native SHA-256 for approval hashes (the core's default is pure JS).
const context = { now: 0, newId: () => 'req', sha256: nativeSha256 };
const decideOn =
  (state: SessionState, pool: readonly ToolCall[] = calls) =>
  (n: number) => {
    const outcome = decide(policy, state, pool[n % pool.length] as ToolCall, context);
    sink += outcome.decision.seq;
  };
// The two paths apart: calls the busy session allows, and calls it gates (an ask mints an approval request and
// hashes its binding, the most expensive thing decide does).
const effectIn = (state: SessionState, effect: string) =>
  calls.filter((call) => decide(policy, state, call, context).decision.effect === effect);

// ---------------------------------------------------------------------------------------------------------------
// Cedar: the same 100 tools and argument conditions as a stateless allow/deny policy set. A tool with a condition
// is permitted only when the condition holds (the case our policy lowers to fewer legs); the others are permitted.

function cedarCondition(i: number): string | undefined {
  if (i % 8 >= 4) return undefined;
  switch (kindOf(i)) {
    case 'read':
      return 'context.folder == "internal"';
    case 'mail':
      return '(context.to like "*@corp.example" || context.to == "ops@partner.example")';
    case 'pay':
      return 'context.amount < 100 && context.currency == "EUR"';
    case 'fetch':
      return 'context.url like "https://docs.corp.example/*"';
  }
}

const cedarPolicies: Record<string, string> = {};
for (let i = 0; i < TOOLS; i++) {
  const condition = cedarCondition(i);
  cedarPolicies[`p${i}`] =
    `permit(principal, action == Action::"${name(i)}", resource)${condition ? ` when { ${condition} }` : ''};`;
}
const parsed = cedar.preparsePolicySet('bench', { staticPolicies: cedarPolicies });
if (parsed.type !== 'success') throw new Error(`cedar rejected the policy set: ${JSON.stringify(parsed.errors)}`);

function cedarContext(args: Record<string, unknown>): Record<string, string | number> {
  // Every key the conditions read must exist (Cedar errors on a missing attribute, which denies).
  return { folder: '', to: '', amount: 0, currency: '', url: '', ...(args as Record<string, string | number>) };
}
const cedarCalls = calls.map((call) => ({
  principal: { type: 'Agent', id: 'agent' },
  action: { type: 'Action', id: call.tool },
  resource: { type: 'Session', id: 's1' },
  context: cedarContext(call.args as Record<string, unknown>),
  preparsedPolicySetId: 'bench',
  entities: [],
}));
const cedarDecide = (n: number) => {
  const answer = cedar.statefulIsAuthorized(cedarCalls[n & 4095] as (typeof cedarCalls)[number]);
  if (answer.type !== 'success') throw new Error(JSON.stringify(answer.errors));
  sink += answer.response.decision === 'allow' ? 1 : 0;
};

// Both must decide the same calls the same way where they overlap: a quick agreement check on the stateless part.
let agree = 0;
for (let n = 0; n < 400; n++) {
  const call = calls[n] as ToolCall;
  const legs = policy.resolve(call.tool).legsFor(call.args);
  const i = Number(call.tool.slice(-3));
  const ours = cedarCondition(i) === undefined || legs.source !== 'base';
  const answer = cedar.statefulIsAuthorized(cedarCalls[n] as (typeof cedarCalls)[number]);
  if (answer.type === 'success' && (answer.response.decision === 'allow') === ours) agree++;
}

// ---------------------------------------------------------------------------------------------------------------
// Memory per idle session

function memoryPerSession(count: number): { heap: number; json: number } {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const sessions = new Map<string, SessionState>();
  for (let n = 0; n < count; n++) {
    const id = `session-${n.toString(36).padStart(8, '0')}`;
    sessions.set(id, newSessionState({ id, configuration: 'dynamic', input: 'untrusted', now: 1_700_000_000_000 + n }));
  }
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  const json = JSON.stringify(sessions.get('session-00000000')).length;
  sink += sessions.size;
  return { heap: (after - before) / count, json };
}

// ---------------------------------------------------------------------------------------------------------------

console.log(
  `ruleoftwo bench/decide.ts  node ${process.version}  ${TOOLS} tools, ${SAMPLES.toLocaleString('en-US')} samples after ${WARMUP.toLocaleString('en-US')} warm-up`,
);
console.log(`timer overhead (hrtime.bigint pair, p50): ${timerCost().toFixed(3)} µs, included in every latency below`);
const freshFigures = measure(decideOn(fresh));
const busyFigures = measure(decideOn(busy));
const allowFigures = measure(decideOn(busy, effectIn(busy, 'allow')));
const askFigures = measure(decideOn(busy, effectIn(busy, 'ask')));
const cedarFigures = measure(cedarDecide, CEDAR_SAMPLES, CEDAR_WARMUP);
console.log(`decide, fresh session (A held):            ${fmt(freshFigures)}`);
console.log(`decide, busy session (AB held, 1 pending): ${fmt(busyFigures)}`);
console.log(`  of which allowed calls only (${effectIn(busy, 'allow').length} of 4096):  ${fmt(allowFigures)}`);
console.log(`  of which gated calls only (ask):         ${fmt(askFigures)}`);
console.log(`cedar-wasm ${cedar.getCedarVersion()} statefulIsAuthorized:   ${fmt(cedarFigures)}`);
console.log(`agreement on the stateless part: ${agree}/400 calls`);
console.log(
  `ratio cedar/decide (busy): p50 ${(cedarFigures.p50 / busyFigures.p50).toFixed(1)}x  mean ${(cedarFigures.mean / busyFigures.mean).toFixed(1)}x  cpu ${(cedarFigures.cpu / busyFigures.cpu).toFixed(1)}x  throughput ${(busyFigures.throughput / cedarFigures.throughput).toFixed(1)}x`,
);
console.log(
  `load average during the run: ${(loadavg()[0] ?? 0).toFixed(2)} on ${availableParallelism()} cores (wall-clock tails grow with it; cpu does not)`,
);
const memory = memoryPerSession(100_000);
console.log(
  `idle session: ${memory.heap.toFixed(0)} B heap each (100,000 sessions in a Map), ${memory.json} B as JSON`,
);
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
const mixed = [freshFigures, busyFigures];
console.log(
  `targets: p50 <= 2 µs ${verdict(mixed.every((f) => f.p50 <= 2))}, p99 <= 10 µs ${verdict(mixed.every((f) => f.p99 <= 10))} (allowed calls alone: ${verdict(allowFigures.p99 <= 10)}), <= 2 KB per idle session ${verdict(memory.heap <= 2048)}`,
);
if (sink === -1) console.log('unreachable');
