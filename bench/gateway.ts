// Gateway overhead: latency per tools/call through `ruleoftwo gateway` against a direct client→server connection
// to the same upstream, in the same run, over stdio and Streamable HTTP at concurrency 1 and 16, with memory stores
// and with the default SQLite store (`synchronous: full`); then the decision path in-process per store; then the
// gateway's memory with 1,000 open sessions; then listings (tools, resources, templates, prompts) of
// @modelcontextprotocol/server-everything with pinning on, over stdio against a direct client and in-process.
// Run: node_modules/.bin/node bench/gateway.ts
// BENCH_CALLS sets calls per cell; BENCH_ONLY=stdio|http|sqlite|in-process|memory|list runs one part. Each cell also
// prints the CPU µs per call of every process on each side (client, gateway, upstream), from /proc schedstat.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { stringify } from 'yaml';
import { loadGatewayConfig, type StoreConfig } from '../src/mcp/config.ts';
import { Gateway, type GatewayStores } from '../src/mcp/gateway.ts';
import { approveDefinitions } from '../src/mcp/review.ts';
import { memoryStores, openGatewayStores, runGateway } from '../src/mcp/run.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const CLI = join(ROOT, 'src/cli/main.ts');
const ECHO = join(ROOT, 'test/mcp/fixtures/echo-server.ts');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const SESSIONS = 1000;
const ONLY = process.env.BENCH_ONLY;
const part = (name: string) => ONLY === undefined || ONLY === name;
// BENCH_PROFILE=<dir> writes a V8 CPU profile of each gateway process there (when it exits).
const PROFILE = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];

interface Stats {
  p50: number;
  p99: number;
  perSecond: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The stores with each method call's wall time added to `stages` under `store.method`. */
function timed(stores: GatewayStores, stages: Map<string, number>): GatewayStores {
  const wrap = <T extends object>(name: string, target: T): T =>
    new Proxy(target, {
      get(object, key, receiver) {
        const value = Reflect.get(object, key, receiver);
        if (typeof value !== 'function') return value;
        if (key === 'close') return value.bind(object);
        return async (...args: unknown[]) => {
          const started = performance.now();
          try {
            return await value.apply(object, args);
          } finally {
            const stage = `${name}.${String(key)}`;
            stages.set(stage, (stages.get(stage) ?? 0) + performance.now() - started);
          }
        };
      },
    });
  return {
    sessions: wrap('sessions', stores.sessions),
    approvals: wrap('approvals', stores.approvals),
    audit: wrap('audit', stores.audit),
  };
}

/** CPU time a process has run, in µs, summed over its threads (the scheduler's nanosecond counters). */
function cpuMicros(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1000;
}

/** The processes one side of a comparison runs in, by role, to count CPU per call. */
type Processes = Record<string, number>;

/** The one child process of `pid` (the upstream a stdio gateway spawned). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  if (children.length !== 1) throw new Error(`expected one child of ${pid}, found \`${children.join(' ')}\``);
  return Number(children[0]);
}

/** Anything that makes tool calls: an SDK client, or the gateway in-process. */
interface Caller {
  callTool(params: {
    name: string;
    arguments: Record<string, unknown>;
  }): Promise<{ isError?: boolean | undefined; content?: unknown }>;
}

/** Per-call latencies (ms) of one or more runs, and the wall time (s) they took. */
interface Run {
  latencies: number[];
  seconds: number;
}

function summarize(runs: Run[]): Stats {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: latencies.length / seconds };
}

/** Runs `calls` echo calls with `concurrency` in flight; per-call latency in ms. */
async function measure(client: Caller, tool: string, calls: number, concurrency: number): Promise<Stats> {
  return summarize([await run(client, tool, calls, concurrency)]);
}

async function run(client: Caller, tool: string, calls: number, concurrency: number): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < calls) {
      const i = next++;
      const t0 = performance.now();
      const result = await client.callTool({ name: tool, arguments: { i, text: 'hello' } });
      latencies.push(performance.now() - t0);
      if (result.isError) throw new Error(`call failed: ${JSON.stringify(result.content)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

async function connect(transport: StdioClientTransport | StreamableHTTPClientTransport): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** Starts a child and resolves with the first line on the stream that matches. */
function startChild(
  args: string[],
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((done, fail) => {
    let text = '';
    child[stream]?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match) done({ child, match });
    });
    child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited with ${code}: ${text}`)));
  });
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

/** Opens a 2025-era session by hand (initialize + initialized + one call), as 1,000 separate clients would. */
async function openSession(url: string, i: number): Promise<void> {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const post = (body: unknown, extra: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body) });
  const init = await post({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `s${i}`, version: '1' } },
  });
  await init.text();
  const session = init.headers.get('mcp-session-id');
  if (!session) throw new Error('no session id');
  const withSession = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, withSession)).text();
  const call = await post(
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'up__echo', arguments: { i } } },
    withSession,
  );
  const text = await call.text();
  if (!text.includes('"content"')) throw new Error(`session ${i}: ${text.slice(0, 200)}`);
}

function row(name: string, direct: Stats, gateway: Stats): string {
  const f = (n: number) => n.toFixed(3).padStart(8);
  return `${name.padEnd(44)} direct p50 ${f(direct.p50)} p99 ${f(direct.p99)} | gateway p50 ${f(gateway.p50)} p99 ${f(gateway.p99)} | added p50 ${f(gateway.p50 - direct.p50)} p99 ${f(gateway.p99 - direct.p99)} ms | throughput ${direct.perSecond.toFixed(0).padStart(6)} vs ${gateway.perSecond.toFixed(0).padStart(6)}/s = ${((gateway.perSecond / direct.perSecond) * 100).toFixed(0)}%`;
}

/** The processes of both sides; CPU per call is counted for each when given. */
interface Sides {
  direct: Processes;
  gateway: Processes;
}

/** Runs like {@link run}, adding each process's CPU µs over the run to `cpu` by role. */
async function runCpu(
  client: Caller,
  tool: string,
  calls: number,
  concurrency: number,
  processes: Processes,
  cpu: Map<string, number>,
): Promise<Run> {
  const before = Object.entries(processes).map(([role, pid]) => [role, pid, cpuMicros(pid)] as const);
  const result = await run(client, tool, calls, concurrency);
  for (const [role, pid, start] of before) cpu.set(role, (cpu.get(role) ?? 0) + cpuMicros(pid) - start);
  return result;
}

function cpuRow(cpu: Map<string, number>, calls: number): string {
  return [...cpu].map(([role, micros]) => `${role} ${(micros / calls).toFixed(0)}`).join(', ');
}

async function compare(label: string, direct: Caller, gateway: Caller, calls = CALLS, sides?: Sides): Promise<void> {
  await measure(direct, 'echo', 200, 4);
  await measure(gateway, 'up__echo', 200, 4);
  for (const concurrency of [1, 16]) {
    // Interleaved rounds so drift on a shared machine hits both sides alike.
    const rounds = 4;
    const share = Math.floor(calls / rounds);
    const directRuns: Run[] = [];
    const gatewayRuns: Run[] = [];
    const directCpu = new Map<string, number>();
    const gatewayCpu = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      directRuns.push(await runCpu(direct, 'echo', share, concurrency, sides?.direct ?? {}, directCpu));
      gatewayRuns.push(await runCpu(gateway, 'up__echo', share, concurrency, sides?.gateway ?? {}, gatewayCpu));
    }
    console.log(row(`${label}, concurrency ${concurrency}`, summarize(directRuns), summarize(gatewayRuns)));
    if (sides) {
      const total = share * rounds;
      console.log(`  cpu µs per call: direct ${cpuRow(directCpu, total)} | gateway ${cpuRow(gatewayCpu, total)}`);
    }
  }
}

const dir = await mkdtemp(join(tmpdir(), 'r2-bench-'));
const children: ChildProcess[] = [];
try {
  const { child: echoHttp, match } = await startChild([ECHO, 'http'], 'stdout', /(http:\S+)\n/);
  children.push(echoHttp);
  const upstreamUrl = match[1] ?? '';
  // Memory stores for the transport comparisons; the store variants are measured in-process below.
  const base = {
    version: 1,
    pinning: 'off',
    store: { kind: 'memory' },
    policy: { version: 1, session: { input: 'trusted' } },
  };
  const tools = { echo: { output: 'A' } };
  const configs = async (name: string, store: StoreConfig | { kind: 'memory' }) => {
    const stdio = join(dir, `${name}-stdio.yaml`);
    await writeFile(
      stdio,
      stringify({ ...base, store, servers: { up: { command: NODE, args: [ECHO, 'stdio'], tools } } }),
    );
    const http = join(dir, `${name}-http.yaml`);
    await writeFile(http, stringify({ ...base, store, servers: { up: { url: upstreamUrl, tools } } }));
    return { stdio, http };
  };
  const memory = await configs('memory', { kind: 'memory' });
  // The product's default store: SQLite, every commit fsynced.
  const sqlite = await configs('sqlite', { kind: 'sqlite', path: join(dir, 'gateway.db'), synchronous: 'full' });
  const stdioConfig = memory.stdio;
  const httpConfig = memory.http;

  console.log(`ruleoftwo gateway benchmark: ${CALLS} calls per cell, Node ${process.version}`);
  // stdio: the client spawns the upstream directly, or the gateway that spawns the same upstream program.
  const viaStdio = async (label: string, config: string, calls: number) => {
    const directTransport = new StdioClientTransport({ command: NODE, args: [ECHO, 'stdio'], stderr: 'ignore' });
    const direct = await connect(directTransport);
    const gatewayTransport = new StdioClientTransport({
      command: NODE,
      args: [...PROFILE, CLI, 'gateway', '--config', config],
      stderr: 'ignore',
    });
    const gateway = await connect(gatewayTransport);
    const gatewayPid = gatewayTransport.pid ?? 0;
    const sides = {
      direct: { client: process.pid, upstream: directTransport.pid ?? 0 },
      gateway: { client: process.pid, gateway: gatewayPid, upstream: childOf(gatewayPid) },
    };
    await compare(label, direct, gateway, calls, sides);
    await direct.close();
    await gateway.close();
  };
  // Streamable HTTP: the same upstream process, reached directly or through a gateway process.
  const startGateway = async (config = httpConfig) => {
    const started = await startChild(
      [...PROFILE, CLI, 'gateway', '--config', config, '--http', '--port', '0'],
      'stderr',
      /listening on (http:\S+)/,
    );
    children.push(started.child);
    return { pid: started.child.pid ?? 0, url: started.match[1] ?? '' };
  };
  const viaHttp = async (label: string, config: string, calls: number) => {
    const { pid, url } = await startGateway(config);
    const direct = await connect(new StreamableHTTPClientTransport(new URL(upstreamUrl)));
    const gateway = await connect(new StreamableHTTPClientTransport(new URL(url)));
    const upstream = echoHttp.pid ?? 0;
    const sides = {
      direct: { client: process.pid, upstream },
      gateway: { client: process.pid, gateway: pid, upstream },
    };
    await compare(label, direct, gateway, calls, sides);
    await direct.close();
    await gateway.close();
  };
  if (part('stdio')) await viaStdio('stdio, memory store', memory.stdio, CALLS);
  if (part('http')) await viaHttp('streamable http, memory store', memory.http, CALLS);
  // Each call commits its decision and its result with their audit records before it is released.
  if (part('sqlite')) {
    await viaStdio('stdio, sqlite full', sqlite.stdio, Math.ceil(CALLS / 4));
    await viaHttp('streamable http, sqlite full', sqlite.http, Math.ceil(CALLS / 4));
  }

  // The gateway's own work per call, without the extra process hop: in-process Gateway.callTool against the same
  // upstream connection called directly.
  // With SQLite every decision and result is committed (fsynced with `full`), so those runs are shorter.
  const variants: [string, StoreConfig, number][] = [
    ['memory', { kind: 'memory' }, CALLS],
    ['sqlite normal', { kind: 'sqlite', path: join(dir, 'normal.db'), synchronous: 'normal' }, Math.ceil(CALLS / 4)],
    ['sqlite full', { kind: 'sqlite', path: join(dir, 'full.db'), synchronous: 'full' }, Math.ceil(CALLS / 10)],
  ];
  for (const [name, store, calls] of part('in-process') ? variants : []) {
    const config = { ...(await loadGatewayConfig(stdioConfig)), store };
    const stages = new Map<string, number>();
    const stores = timed((await openGatewayStores(config)).stores, stages);
    const inProcess = await Gateway.start(config, { stores });
    const upstream = inProcess.upstreams[0];
    if (!upstream) throw new Error('no upstream');
    const viaUpstream: Caller = { callTool: (p) => upstream.callTool('echo', p.arguments) };
    const viaGuard: Caller = {
      callTool: async (p) => {
        const outcome = await inProcess.callTool('bench', 'up__echo', p.arguments);
        if (outcome.kind !== 'result') throw new Error('unexpected ask');
        return outcome.result;
      },
    };
    await compare(`in-process, ${name}`, viaUpstream, viaGuard, calls);
    // Where a call's time goes: wall time inside each store method per gateway call, concurrency 1.
    const forward = upstream.callTool.bind(upstream);
    upstream.callTool = async (...args) => {
      const started = performance.now();
      try {
        return await forward(...args);
      } finally {
        stages.set('upstream', (stages.get('upstream') ?? 0) + performance.now() - started);
      }
    };
    stages.clear();
    const stagedCalls = Math.min(calls, 500);
    const started = performance.now();
    await measure(viaGuard, 'up__echo', stagedCalls, 1);
    stages.set('whole call', performance.now() - started);
    const perCall = [...stages].map(([stage, ms]) => `${stage} ${((ms / stagedCalls) * 1000).toFixed(0)} µs`);
    console.log(`  stages per call (${name}, concurrency 1): ${perCall.join(', ')}`);
    await inProcess.close();
  }

  if (part('memory')) {
    // Memory: a fresh gateway process, before and after 1,000 sessions that each made one call.
    const { pid, url: freshUrl } = await startGateway();
    await openSession(freshUrl, -1);
    const before = await rssKiB(pid);
    for (let i = 0; i < SESSIONS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => openSession(freshUrl, i + j)));
    }
    const after = await rssKiB(pid);
    console.log(
      `memory: fresh gateway RSS ${(before / 1024).toFixed(1)} MiB with 1 session, ${(after / 1024).toFixed(1)} MiB with ${SESSIONS + 1} open sessions (one call each) = ${((after - before) / SESSIONS).toFixed(1)} KiB per session`,
    );

    // RSS counts garbage not yet collected; the live heap after a full collection is what sessions really hold.
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const local = await runGateway(await loadGatewayConfig(httpConfig), { transport: 'http', port: 0 });
    const localUrl = local.http?.url ?? '';
    await openSession(localUrl, -1);
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < SESSIONS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => openSession(localUrl, i + j)));
    }
    collect();
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(
      `memory: live heap after GC grows by ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB for ${SESSIONS} open sessions = ${((heapAfter - heapBefore) / 1024 / SESSIONS).toFixed(1)} KiB per session (in-process gateway, memory stores incl. audit events)`,
    );
    await local.close();
  }

  if (part('list')) {
    // Listings with pinning on (every definition approved): the gateway checks pins when an upstream's lists change
    // (rebuild) and answers list requests from what that check left listed.
    const config = join(dir, 'list.yaml');
    const upstream = { command: NODE, args: [EVERYTHING, 'stdio'] };
    await writeFile(
      config,
      stringify({ ...base, pinning: 'approve', pins: './list-pins.json', servers: { ev: upstream } }),
    );
    await approveDefinitions(await loadGatewayConfig(config), []);
    const direct = await connect(new StdioClientTransport({ ...upstream, stderr: 'ignore' }));
    const gateway = await connect(
      new StdioClientTransport({ command: NODE, args: [CLI, 'gateway', '--config', config], stderr: 'ignore' }),
    );
    const lists: [string, (client: Client) => Promise<unknown[]>][] = [
      ['tools/list', async (c) => (await c.listTools()).tools],
      ['resources/list', async (c) => (await c.listResources()).resources],
      ['resources/templates/list', async (c) => (await c.listResourceTemplates()).resourceTemplates],
      ['prompts/list', async (c) => (await c.listPrompts()).prompts],
    ];
    const requests = Math.ceil(CALLS / 4);
    for (const [method, list] of lists) {
      const sizes = [(await list(direct)).length, (await list(gateway)).length];
      // A list request is not a tool call: the same interleaved rounds as `compare`, one request in flight.
      const rounds: [Run[], Run[]] = [[], []];
      for (let round = 0; round < 4; round++) {
        for (const [side, client] of [direct, gateway].entries()) {
          const latencies: number[] = [];
          const started = performance.now();
          for (let i = 0; i < requests / 4; i++) {
            const t0 = performance.now();
            await list(client);
            latencies.push(performance.now() - t0);
          }
          rounds[side]?.push({ latencies, seconds: (performance.now() - started) / 1000 });
        }
      }
      console.log(
        `${row(`stdio ${method} (${sizes.join(' vs ')} items)`, summarize(rounds[0]), summarize(rounds[1]))}`,
      );
    }
    await direct.close();
    await gateway.close();
    // In-process: what a list request costs the gateway itself, and what re-checking every pin costs (on start, on
    // an upstream's list change, on a pin file change).
    const inProcess = await Gateway.start(await loadGatewayConfig(config), { stores: memoryStores() });
    const perCall = (n: number, fn: () => unknown) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) fn();
      return `${(((performance.now() - started) / n) * 1000).toFixed(1)} µs`;
    };
    const figures = [
      `listTools ${perCall(20_000, () => inProcess.listTools())}`,
      `listResources ${perCall(20_000, () => inProcess.listResources())}`,
      `listResourceTemplates ${perCall(20_000, () => inProcess.listResourceTemplates())}`,
      `listPrompts ${perCall(20_000, () => inProcess.listPrompts())}`,
      `rebuild ${perCall(2_000, () => inProcess.rebuild())}`,
    ];
    console.log(`in-process listing per call (server-everything, pins approved): ${figures.join(', ')}`);
    await inProcess.close();
  }
} finally {
  for (const child of children) child.kill();
  await rm(dir, { recursive: true, force: true });
}
