// The stdio endpoint's own cost per message: a 3.5 KB tools/call that the fast path takes, and the same call with a
// parameter the fast path leaves to the SDK server, in-process over PassThrough streams (no client process), to an
// unknown tool (refused before any upstream) and to the echo upstream (test/mcp/fixtures/echo-server.ts). The fast
// path is the baseline in the same run. Run: node_modules/.bin/node bench/stdio.ts
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { parseGatewayConfig } from '../src/mcp/config.ts';
import { ElicitationApprovals } from '../src/mcp/elicitation.ts';
import { Gateway } from '../src/mcp/gateway.ts';
import { memoryStores } from '../src/mcp/run.ts';
import { serveGatewayStdio } from '../src/mcp/stdio.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const ROUNDS = 4;

const config = await parseGatewayConfig(
  JSON.stringify({
    version: 1,
    pinning: 'off',
    store: { kind: 'memory' },
    policy: { version: 1, session: { input: 'trusted' } },
    servers: {
      echo: {
        command: process.execPath,
        args: [join(ROOT, 'test/mcp/fixtures/echo-server.ts'), 'stdio'],
        trusted: true,
        tools: { '*': { legs: 'none' } },
      },
    },
  }),
  ROOT,
);
const gateway = await Gateway.start(config, { stores: memoryStores() });
const stdin = new PassThrough();
const stdout = new PassThrough();
const stdio = serveGatewayStdio(gateway, {
  sessionId: 'bench',
  approvals: new ElicitationApprovals({ ttlSeconds: 60, enabled: false }),
  maxMessageBytes: 4 << 20,
  log: () => {},
  stdin,
  stdout,
});
const waiting = new Map<string, () => void>();
createInterface({ input: stdout }).on('line', (line) => waiting.get(JSON.parse(line).id)?.());
const send = (id: string, message: unknown) =>
  new Promise<void>((done) => {
    waiting.set(id, done);
    stdin.write(`${JSON.stringify(message)}\n`);
  });

await send('init', {
  jsonrpc: '2.0',
  id: 'init',
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
});
await new Promise<void>((done) => {
  stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  setImmediate(done);
});

const args = {
  items: Array.from({ length: 48 }, (_, i) => ({
    id: i,
    name: `item-${i}`,
    note: 'lorem ipsum dolor',
    tags: ['a', 'b'],
  })),
};
let next = 0;
const call = (tool: string, sdk: boolean) => {
  const id = `c${++next}`;
  const params = { name: tool, arguments: args, ...(sdk ? { extra: true } : {}) };
  return { id, message: { jsonrpc: '2.0', id, method: 'tools/call', params } };
};
const { message } = call('echo__echo', true);
console.log(`ruleoftwo bench/stdio.ts  node ${process.version}  ${JSON.stringify(message).length} B per call`);

const quantile = (sorted: number[], q: number) => (sorted[Math.floor(sorted.length * q)] ?? 0).toFixed(1);
for (const [label, tool, count] of [
  ['unknown tool', 'nope', CALLS],
  ['echo upstream', 'echo__echo', CALLS / 2],
] as const) {
  const samples = { fast: [] as number[], sdk: [] as number[] };
  // Rounds alternate which path goes first; the first is a warm-up.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const path of round % 2 ? (['sdk', 'fast'] as const) : (['fast', 'sdk'] as const)) {
      for (let i = 0; i < count; i++) {
        const { id, message } = call(tool, path === 'sdk');
        const started = process.hrtime.bigint();
        await send(id, message);
        if (round > 0) samples[path].push(Number(process.hrtime.bigint() - started) / 1000);
      }
    }
  }
  for (const sorted of Object.values(samples)) sorted.sort((a, b) => a - b);
  const line = (path: 'fast' | 'sdk') =>
    `p50 ${quantile(samples[path], 0.5)} µs  p99 ${quantile(samples[path], 0.99)} µs`;
  const ratio = (samples.sdk[samples.sdk.length >> 1] ?? 0) / (samples.fast[samples.fast.length >> 1] ?? 1);
  console.log(`${label}, fast path:        ${line('fast')}`);
  console.log(`${label}, via the SDK server: ${line('sdk')}  (p50 ${ratio.toFixed(2)}x the fast path)`);
}
console.log(`load average during the run: ${loadavg()[0]?.toFixed(2)}`);
await stdio.close();
await gateway.close();
