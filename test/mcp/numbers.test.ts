import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/decision.ts';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import { MemoryAuditLog } from '../../src/store/memory-audit.ts';
import { modernCallHeaders, NODE, ROOT, tempDir, textOf, writeConfig } from './harness.ts';

// Numbers JSON reads but cannot write back: `1e999` parses as Infinity, which the gateway re-serializes as `null` on
// its way upstream. Raw JSON-RPC text from a client (no SDK client can send it: they serialize Infinity as null
// themselves) against the real gateway in-process, over stdio and Streamable HTTP, on the fast path and through the
// SDK server, with the real SDK echo server (test/mcp/fixtures/echo-server.ts) upstream, which answers with the
// arguments it received.

// `pay` is a trifecta in an untrusted session (A) unless the amount is small; a bound -Infinity passes. A large
// amount leaves an approval request open in its session, so later calls also take the out-of-band receipt lookup.
const CONFIG = {
  version: 1,
  pinning: 'off',
  store: { kind: 'memory' },
  policy: { version: 1, session: { input: 'untrusted' }, approvals: { gate: 'ask' } },
  servers: {
    pay: {
      command: NODE,
      args: [join(ROOT, 'test/mcp/fixtures/echo-server.ts'), 'stdio'],
      tools: { echo: { call: 'BC', output: 'none', when: [{ match: { amount: { lte: 100 } }, call: 'none' }] } },
    },
  },
};

let remove: () => Promise<void>;
let http: RunningGateway;
let stdio: RunningGateway;
let url: string;
const stdin = new PassThrough();
const stdout = new PassThrough();
const lines: Record<string, unknown>[] = [];
let arrived: () => void = () => {};

beforeAll(async () => {
  const temp = await tempDir();
  remove = temp.remove;
  const config = await loadGatewayConfig(await writeConfig(temp.dir, CONFIG));
  [http, stdio] = await Promise.all([
    runGateway(config, { transport: 'http', port: 0 }),
    runGateway(config, { transport: 'stdio', stdin, stdout }),
  ]);
  url = http.http?.url ?? '';
  createInterface({ input: stdout }).on('line', (line) => {
    lines.push(JSON.parse(line));
    arrived();
  });
  send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } },
    }),
  );
  await answerTo('init');
  send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
}, 30_000);

afterAll(async () => {
  await Promise.all([http?.close(), stdio?.close()]);
  await remove?.();
});

function send(line: string): void {
  stdin.write(`${line}\n`);
}

async function answerTo(id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const hit = lines.find((line) => line.id === id);
    if (hit) return hit;
    await new Promise<void>((resolve) => {
      arrived = resolve;
    });
  }
}

let ids = 0;

/** A `tools/call` of `pay__echo` as JSON text with `args` written as they are (`{"amount":1e999}`). */
function callText(id: string, args: string, params = '', meta = ''): string {
  return `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"pay__echo","arguments":${args}${params}${meta}}}`;
}

const MODERN_META = `,"_meta":${JSON.stringify({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
})}`;

/** What the gateway answered to a call with `args` over `path`. */
async function call(path: string, args: string): Promise<Record<string, unknown>> {
  const id = `c${++ids}`;
  // An extra parameter the fast path does not take sends the call through the SDK server.
  const extra = path.endsWith('sdk') ? ',"extra":true' : '';
  if (path.startsWith('stdio')) {
    send(callText(id, args, extra));
    return (await answerTo(id)).result as Record<string, unknown>;
  }
  const response = await fetch(url, {
    method: 'POST',
    headers: modernCallHeaders('pay__echo', `numbers-${path}`),
    body: callText(id, args, extra, MODERN_META),
  });
  const text = await response.text();
  const body = JSON.parse(text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}'));
  return body.result;
}

/** The `invalid_call` denials in the audit log of the gateway serving `path`. */
function auditedInvalid(path: string): string[] {
  const audit = (path.startsWith('stdio') ? stdio : http).gateway.stores.audit;
  if (!(audit instanceof MemoryAuditLog)) throw new Error('not the memory audit log');
  return audit.events.flatMap((event) => {
    const decision = (event as { decision?: Decision }).decision;
    return decision?.reasons[0]?.code === 'invalid_call' ? [decision.reasons[0].message] : [];
  });
}

const PATHS = ['stdio fast', 'stdio sdk', 'http fast', 'http sdk'];

describe('a tool call whose arguments hold a number JSON cannot carry', () => {
  it.each(PATHS)('is denied on the %s path, naming the argument, and never reaches the upstream', async (path) => {
    // The bound holds for small amounts and is decided as it should be: the echo shows what the upstream ran with.
    expect(textOf(await call(path, '{"amount":50}'))).toBe('{"amount":50}');
    expect(textOf(await call(path, '{"amount":500}'))).toMatch(/^ruleoftwo needs a person's approval for `pay__echo`/);
    const audited = auditedInvalid(path).length;
    for (const [args, where, value] of [
      ['{"amount":-1e999}', '$.amount', '-Infinity'],
      ['{"amount":50,"memo":[1,{"x":1e400}]}', '$.memo[1].x', 'Infinity'],
      ['{"amount":50,"odd key":-9e999}', '$["odd key"]', '-Infinity'],
    ] as const) {
      const result = await call(path, args);
      // Before: -Infinity passed `lte: 100`, the call was allowed and the upstream ran it with `"amount":null`; with
      // an approval request open in the session, the receipt lookup threw instead, and the refusal went unaudited.
      expect(result.isError, args).toBe(true);
      expect(textOf(result)).toContain(`argument \`${where}\` is \`${value}\`, a number JSON cannot carry`);
      expect(textOf(result)).not.toContain('null');
      expect(result._meta).toMatchObject({ 'dev.ruleoftwo/decision': { effect: 'deny', reasons: ['invalid_call'] } });
    }
    expect(auditedInvalid(path).slice(audited)).toEqual([
      'argument `$.amount` is `-Infinity`, a number JSON cannot carry',
      'argument `$.memo[1].x` is `Infinity`, a number JSON cannot carry',
      'argument `$["odd key"]` is `-Infinity`, a number JSON cannot carry',
    ]);
  });

  it.each(PATHS)('on the %s path, -0 and integers past 2^53 reach the upstream as decided on', async (path) => {
    // JSON.parse reads them as -0 (equal to 0 in every comparison and string the engine makes) and the nearest double;
    // the gateway forwards exactly those values, so what ran is what was decided on.
    const result = await call(path, '{"amount":-0,"id":9007199254740993}');
    expect(textOf(result)).toBe('{"amount":0,"id":9007199254740992}');
  });
});
