import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, fixtureServer, NODE, ROOT, tempDir, writeConfig } from './harness.ts';

// Malformed JSON-RPC from a client on stdio, against the real gateway process (the CLI) and a real SDK upstream
// (test/mcp/fixtures/flaky-server.ts), and a result no one can write from a hostile upstream
// (test/mcp/fixtures/deep-server.ts): every request gets an answer, a JSON-RPC error when it cannot be read or
// answered, and the connection keeps serving.

let remove: () => Promise<void>;
let gateway: ChildProcess;
const answers: Record<string, unknown>[] = [];
let arrived: () => void = () => {};

beforeAll(async () => {
  const temp = await tempDir();
  remove = temp.remove;
  const file = await writeConfig(temp.dir, {
    version: 1,
    policy: { version: 1, session: { input: 'trusted' } },
    pinning: 'off',
    store: { kind: 'memory' },
    servers: {
      flaky: { ...fixtureServer('flaky-server'), trusted: true, tools: { '*': { legs: 'none' } } },
      deep: { command: NODE, args: [join(ROOT, 'test/mcp/fixtures/deep-server.ts')], tools: { '*': { legs: 'A' } } },
    },
  });
  gateway = spawn(NODE, [CLI, 'gateway', '--config', file], { stdio: ['pipe', 'pipe', 'ignore'] });
  createInterface({ input: gateway.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    answers.push(JSON.parse(line));
    arrived();
  });
  send({
    jsonrpc: '2.0',
    id: 'init',
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } },
  });
  await answerTo('init');
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
}, 30_000);

afterAll(async () => {
  gateway?.kill();
  await remove?.();
});

function send(message: unknown): void {
  gateway.stdin?.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
}

/** Waits for the answer to request `id`; every answer that came before it is returned too, in order. */
async function answerTo(id: string | number): Promise<Record<string, unknown>[]> {
  for (;;) {
    const at = answers.findIndex((a) => a.id === id);
    if (at !== -1) return answers.splice(0, at + 1);
    await new Promise<void>((resolve) => {
      arrived = resolve;
    });
  }
}

let pings = 0;
/** What the gateway answered to `line`, up to the answer to a ping sent right after it (which it must answer). */
async function answersTo(line: string): Promise<Record<string, unknown>[]> {
  send(line);
  const ping = `ping-${++pings}`;
  send({ jsonrpc: '2.0', id: ping, method: 'ping' });
  const got = await answerTo(ping);
  expect(got.at(-1)).toMatchObject({ id: ping, result: {} });
  return got.slice(0, -1);
}

describe('a stdio client sending messages that are not JSON-RPC', () => {
  const invalid = (id: string | number | null) => ({
    jsonrpc: '2.0',
    id,
    error: { code: -32600, message: expect.stringMatching(/^invalid request: /) },
  });

  it('a request with a readable id but malformed params is answered with -32600 under its id', async () => {
    // The SDK dropped it with a log line; the client waited for id 9 forever.
    const bad = { jsonrpc: '2.0', id: 9, method: 'tools/call', params: 'x' };
    expect(await answersTo(JSON.stringify(bad))).toEqual([invalid(9)]);
    const strict = { jsonrpc: '2.0', id: 'extra', method: 'tools/list', params: {}, other: 1 };
    expect(await answersTo(JSON.stringify(strict))).toEqual([invalid('extra')]);
  });

  it('an id that is not a string or an integer, a batch, or a bare value is answered with -32600 and id null', async () => {
    for (const line of [
      '{"jsonrpc":"2.0","id":1e400,"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}',
      `{"jsonrpc":"2.0","id":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},"method":"tools/list"}`,
      '[{"jsonrpc":"2.0","id":6,"method":"tools/list"},{"jsonrpc":"2.0","id":7,"method":"tools/list"}]',
      '5',
      'null',
      '{"jsonrpc":"1.0","id":3,"method":"tools/list"}',
    ]) {
      expect(await answersTo(line), line.slice(0, 60)).toEqual([
        invalid(line.startsWith('{"jsonrpc":"1.0"') ? 3 : null),
      ]);
    }
  });

  it('a tool call with arguments nested 100 000 deep is denied by the guard, not allowed and then failed upstream', async () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    send(`{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"flaky__ok","arguments":${deep}}}`);
    const got = await answerTo('deep');
    expect(got.at(-1)).toMatchObject({
      id: 'deep',
      result: { isError: true, content: [{ text: expect.stringContaining('nest deeper than 64 levels') }] },
    });
  });

  it('keeps serving tool calls on the same connection', async () => {
    send({ jsonrpc: '2.0', id: 'call', method: 'tools/call', params: { name: 'flaky__ok', arguments: {} } });
    const got = await answerTo('call');
    expect(got.at(-1)).toMatchObject({ id: 'call', result: { content: [{ type: 'text' }] } });
  });
});

describe('an upstream answering with a result nested 100 000 levels deep', () => {
  it('is answered with an error, not left waiting forever, and the connection keeps serving', async () => {
    // The gateway failed to write the answer (`Maximum call stack size exceeded`, in its log only).
    send({ jsonrpc: '2.0', id: 'deep-result', method: 'tools/call', params: { name: 'deep__deep', arguments: {} } });
    const got = await answerTo('deep-result');
    expect(got.at(-1)).toMatchObject({
      id: 'deep-result',
      error: { message: expect.stringContaining('nests deeper than') },
    });
    send({ jsonrpc: '2.0', id: 'after', method: 'tools/call', params: { name: 'deep__ok', arguments: {} } });
    expect((await answerTo('after')).at(-1)).toMatchObject({ id: 'after', result: { content: [{ text: 'ok' }] } });
  }, 20_000);
});
