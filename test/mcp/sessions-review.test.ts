import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { memoryStores, type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import {
  modernCallHeaders,
  npmServer,
  rawModernCall,
  type ToolResult,
  tempDir,
  textOf,
  v1Client,
  writeConfig,
} from './harness.ts';

// Review of sessions and approvals against a compromised agent: one that drives its own MCP client can also answer
// that client's elicitation requests, and two channels may answer one request. Upstreams: the real
// server-filesystem and server-everything from npm.

let dir: string;
let remove: () => Promise<void>;

const fsServer = () => ({
  command: process.execPath,
  args: [npmServer('server-filesystem'), join(dir, 'box')],
  tools: { read_text_file: { output: 'B' }, 'write_*': { call: 'C' } },
});

const gatewayConfig = (extra: Record<string, unknown>) => ({
  version: 1,
  policy: { version: 1, session: { input: 'untrusted' } },
  pinning: 'off',
  store: { kind: 'memory' },
  servers: { fs: fsServer() },
  ...extra,
});

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  await mkdir(join(dir, 'box'));
  await writeFile(join(dir, 'box', 'private.txt'), 'secret');
});

afterAll(async () => {
  await remove?.();
});

/** A gateway over HTTP for `config`, with memory stores. */
async function startGateway(config: unknown, name: string): Promise<{ running: RunningGateway; url: string }> {
  const file = await writeConfig(dir, config, name);
  const running = await runGateway(await loadGatewayConfig(file), {
    transport: 'http',
    port: 0,
    stores: memoryStores(),
  });
  return { running, url: running.http?.url ?? '' };
}

/** A fresh named session holding A (untrusted input) and B (a private read). */
async function taintedSession(url: string, prefix: string): Promise<string> {
  const session = `${prefix}-${crypto.randomUUID()}`;
  const path = join(dir, 'box', 'private.txt');
  const read = await rawModernCall(url, { id: 1, session, name: 'fs__read_text_file', args: { path } });
  expect((read.body.result as ToolResult).isError).not.toBe(true);
  return session;
}

function decisionOf(result: ToolResult): Record<string, unknown> {
  return (result._meta?.['dev.ruleoftwo/decision'] ?? {}) as Record<string, unknown>;
}

const ACCEPT = { ruleoftwo_approval: { action: 'accept', content: { approve: true } } };

describe('`elicitation: false`', () => {
  let running: RunningGateway;
  let url: string;

  beforeAll(async () => {
    ({ running, url } = await startGateway(gatewayConfig({ elicitation: false }), 'no-elicitation.yaml'));
  }, 30_000);

  afterAll(async () => {
    await running?.close();
  });

  it('a 2026-07-28 client that declares elicitation gets no question it could answer itself', async () => {
    const session = await taintedSession(url, 'self');
    const target = join(dir, 'box', 'self.txt');
    const args = { path: target, content: 'x' };
    const asked = (await rawModernCall(url, { id: 2, session, name: 'fs__write_file', args })).body
      .result as ToolResult & Record<string, unknown>;
    expect(asked.resultType).not.toBe('input_required');
    expect(asked.requestState).toBeUndefined();
    expect(asked.isError).toBe(true);
    expect(decisionOf(asked)).toMatchObject({ effect: 'ask', reason: 'approval_required' });
    // The request waits for the out-of-band channel, which still works.
    await running.gateway.guard.answer(String(decisionOf(asked).requestId), { approved: true, by: 'operator' });
    const ran = (await rawModernCall(url, { id: 3, session, name: 'fs__write_file', args })).body.result as ToolResult;
    expect(ran.isError).not.toBe(true);
    expect(await readFile(target, 'utf8')).toBe('x');
    // The same through the SDK server rather than the fast path (a params key the fast path does not serve).
    const sdk = (
      await rawModernCall(url, {
        id: 4,
        session,
        name: 'fs__write_file',
        args: { ...args, content: 'y' },
        extra: { 'dev.example/unknown': true },
      })
    ).body.result as ToolResult & Record<string, unknown>;
    expect(sdk.requestState).toBeUndefined();
    expect(decisionOf(sdk)).toMatchObject({ effect: 'ask', reason: 'approval_required' });
  });

  it('a 2025-11-25 client that would accept is never asked', async () => {
    const client = await v1Client({ url }, ['accept', 'accept']);
    try {
      await client.callTool('fs__read_text_file', { path: join(dir, 'box', 'private.txt') });
      const target = join(dir, 'box', 'legacy-self.txt');
      const write = await client.callTool('fs__write_file', { path: target, content: 'x' });
      expect(write.isError).toBe(true);
      expect(textOf(write)).toContain("needs a person's approval");
      expect(client.elicited).toHaveLength(0);
      await expect(readFile(target, 'utf8')).rejects.toThrow(/ENOENT/);
    } finally {
      await client.close();
    }
  });
});

describe('two channels answering one request', () => {
  it("a person's decline through elicitation stands, though an operator approved the request out of band first", async () => {
    const { running, url } = await startGateway(gatewayConfig({}), 'both-channels.yaml');
    try {
      const session = await taintedSession(url, 'both');
      const target = join(dir, 'box', 'both.txt');
      const args = { path: target, content: 'x' };
      const asked = (await rawModernCall(url, { id: 2, session, name: 'fs__write_file', args })).body.result as Record<
        string,
        unknown
      >;
      const [record] = await running.gateway.stores.approvals.list({ sessionId: `named:${session}` });
      await running.gateway.guard.answer(record?.request.id ?? '', { approved: true, by: 'operator' });
      const decline = { ruleoftwo_approval: { action: 'decline' } };
      const extra = { requestState: String(asked.requestState), inputResponses: decline };
      const declined = (await rawModernCall(url, { id: 3, session, name: 'fs__write_file', args, extra })).body
        .result as ToolResult;
      expect(textOf(declined)).toContain('declined');
      // The model retries the same call without the state: the operator's approval must not run it now.
      const retried = (await rawModernCall(url, { id: 4, session, name: 'fs__write_file', args, elicitation: false }))
        .body.result as ToolResult;
      expect(retried.isError).toBe(true);
      await expect(readFile(target, 'utf8')).rejects.toThrow(/ENOENT/);
    } finally {
      await running.close();
    }
  });
});

describe('what the approval question shows is what runs', () => {
  it('arguments as the gateway parsed them: a repeated key keeps its last value, a huge integer is rounded', async () => {
    const everything = { command: process.execPath, args: [npmServer('server-everything'), 'stdio'] };
    const servers = { fs: fsServer(), ev: { ...everything, tools: { '*': { call: 'C' } } } };
    const { running, url } = await startGateway({ ...gatewayConfig({}), servers }, 'parsed.yaml');
    try {
      const session = await taintedSession(url, 'parsed');
      // The body as a client could write it: JSON.stringify cannot repeat a key or keep 2^53 + 1.
      const send = async (id: number, extra: string) => {
        const meta = JSON.stringify({
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
        });
        const args = '{"a":5,"b":9007199254740993,"a":1}';
        const response = await fetch(url, {
          method: 'POST',
          headers: modernCallHeaders('ev__get-sum', session),
          body: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"ev__get-sum","arguments":${args}${extra},"_meta":${meta}}}`,
        });
        const text = await response.text();
        return JSON.parse(text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}')).result;
      };
      const asked = await send(2, '');
      const message = String(asked.inputRequests?.ruleoftwo_approval?.params?.message);
      expect(message).toContain('{"a":1,"b":9007199254740992}');
      const answer = `,"requestState":${JSON.stringify(asked.requestState)},"inputResponses":${JSON.stringify(ACCEPT)}`;
      const ran = await send(3, answer);
      expect(textOf(ran)).toContain('The sum of 1 and 9007199254740992');
    } finally {
      await running.close();
    }
  });
});
