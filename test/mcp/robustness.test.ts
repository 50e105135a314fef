import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { Gateway } from '../../src/mcp/gateway.ts';
import { approveDefinitions } from '../../src/mcp/review.ts';
import { memoryStores, type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import {
  fixtureServer,
  ROOT,
  rawModernCall,
  type ToolResult,
  tempDir,
  textOf,
  v2Client,
  writeConfig,
} from './harness.ts';

// Bad input and misbehaving upstreams: a JSON-RPC error for the client, the gateway keeps serving, nothing reaches an
// upstream that was not decided. Upstream: a real SDK v2 server (test/mcp/fixtures/flaky-server.ts).

let remove: () => Promise<void>;
let running: RunningGateway;
let url: string;
const TOKEN = 'test-token-0123456789';

beforeAll(async () => {
  const temp = await tempDir();
  remove = temp.remove;
  const file = await writeConfig(temp.dir, {
    version: 1,
    policy: { version: 1, session: { input: 'trusted' } },
    pinning: 'off',
    maxMessageBytes: 4096,
    http: { tokenEnv: 'R2_TEST_TOKEN', allowedOrigins: ['http://localhost:6274'] },
    servers: {
      flaky: {
        ...fixtureServer('flaky-server'),
        timeout: '800ms',
        trusted: true,
        tools: { '*': { legs: 'none' } },
      },
    },
  });
  running = await runGateway(await loadGatewayConfig(file), {
    transport: 'http',
    port: 0,
    env: { R2_TEST_TOKEN: TOKEN },
  });
  url = running.http?.url ?? '';
}, 30_000);

afterAll(async () => {
  await running?.close();
  await remove?.();
});

const auth = { authorization: `Bearer ${TOKEN}` };
const ok = (id: number) => rawModernCall(url, { id, name: 'flaky__ok', args: {}, headers: auth });

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth, ...headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: number; message: string } } };
}

describe('HTTP front door', () => {
  it('refuses a missing or wrong bearer token with 401', async () => {
    const missing = await rawModernCall(url, { id: 1, name: 'flaky__ok', args: {} });
    expect(missing.status).toBe(401);
    const wrong = await rawModernCall(url, {
      id: 1,
      name: 'flaky__ok',
      args: {},
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    expect((await ok(1)).status).toBe(200);
  });

  it('refuses foreign browser origins and non-loopback Host names with 403', async () => {
    const evil = await rawModernCall(url, {
      id: 1,
      name: 'flaky__ok',
      args: {},
      headers: { ...auth, origin: 'https://evil.example' },
    });
    expect(evil.status).toBe(403);
    const allowed = await rawModernCall(url, {
      id: 1,
      name: 'flaky__ok',
      args: {},
      headers: { ...auth, origin: 'http://localhost:6274' },
    });
    expect(allowed.status).toBe(200);
    // fetch cannot set Host, so this one goes through node:http, as a DNS-rebound browser request would arrive.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const request = httpRequest(
        url,
        { method: 'POST', headers: { host: 'attacker.example', ...auth } },
        (response) => {
          response.resume();
          resolve(response.statusCode);
        },
      );
      request.on('error', reject);
      request.end('{}');
    });
    expect(status).toBe(403);
  });

  it('answers malformed JSON with -32700 and an oversized message with 413, then keeps serving', async () => {
    const malformed = await post('{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error?.code).toBe(-32700);
    const huge = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(10_000) } }),
    );
    expect(huge.status).toBe(413);
    expect(textOf((await ok(2)).body.result as ToolResult)).toMatch(/^ok from/);
  });

  it('answers an unknown tool with a JSON-RPC error naming it', async () => {
    const unknown = await rawModernCall(url, { id: 1, name: 'flaky__nope', args: {}, headers: auth });
    expect(unknown.body.error).toMatchObject({ code: -32602, message: 'unknown tool `flaky__nope`' });
    const notObject = await rawModernCall(url, { id: 1, name: 'flaky__ok', args: [1, 2], headers: auth });
    expect(notObject.body.error).toBeDefined();
  });
});

describe('2025-era HTTP sessions', () => {
  it('an idle session is closed and its id then refused with 404', async () => {
    const temp = await tempDir();
    const file = await writeConfig(temp.dir, {
      version: 1,
      pinning: 'off',
      http: { sessionIdleTimeout: '1s', maxSessions: 1 },
      servers: { flaky: fixtureServer('flaky-server') },
    });
    const idle = await runGateway(await loadGatewayConfig(file), { transport: 'http', port: 0 });
    try {
      const target = { url: idle.http?.url ?? '' };
      const client = await v2Client(target, 'legacy', undefined);
      expect(idle.http?.legacySessions).toBe(1);
      // At most one session: a second client is turned away while the first is open.
      await expect(v2Client(target, 'legacy', undefined)).rejects.toThrow(/503|too many open sessions/);
      const deadline = Date.now() + 5000;
      while ((idle.http?.legacySessions ?? 0) > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(idle.http?.legacySessions).toBe(0);
      await expect(client.callTool('flaky__ok', {})).rejects.toThrow(/404|unknown session|Session not found/i);
      await client.close().catch(() => {});
    } finally {
      await idle.close();
      await temp.remove();
    }
  });
});

describe('misbehaving upstream', () => {
  it('a hanging upstream call times out with a JSON-RPC error; other calls still work', async () => {
    const started = Date.now();
    const hung = await rawModernCall(url, { id: 1, name: 'flaky__hang', args: {}, headers: auth });
    expect((hung.body.error as { message: string }).message).toMatch(/upstream failed on `flaky__hang`.*timed out/i);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await ok(2)).status).toBe(200);
  });

  it('a crashed upstream gives a JSON-RPC error; the next call reconnects to a new process', async () => {
    let relisted = 0;
    const stop = running.gateway.onListChanged(() => relisted++);
    const before = textOf((await ok(1)).body.result as ToolResult);
    const crashed = await rawModernCall(url, { id: 2, name: 'flaky__crash', args: {}, headers: auth });
    expect((crashed.body.error as { message: string }).message).toMatch(/upstream failed on `flaky__crash`/);
    const after = textOf((await ok(3)).body.result as ToolResult);
    expect(after).toMatch(/^ok from \d+$/);
    expect(after).not.toBe(before);
    // The new process's definitions were listed and checked again.
    expect(relisted).toBe(1);
    stop();
  });

  it('definitions that changed across a crash and restart are not called', async () => {
    const temp = await tempDir();
    const file = await writeConfig(temp.dir, {
      version: 1,
      pins: './pins.json',
      servers: {
        flaky: fixtureServer('flaky-server', { FLAKY_MARKER: join(temp.dir, 'crashed') }),
      },
    });
    const config = await loadGatewayConfig(file);
    await approveDefinitions(config, []);
    const pinned = await runGateway(config, { transport: 'http', port: 0 });
    try {
      const client = await v2Client({ url: pinned.http?.url ?? '' }, 'legacy', undefined);
      expect(textOf(await client.callTool('flaky__ok', {}))).toMatch(/^ok from/);
      await expect(client.callTool('flaky__crash', {})).rejects.toThrow(/upstream failed/);
      // Decided on the old definition, then the reconnect shows a new one: the call is not sent.
      await expect(client.callTool('flaky__ok', {})).rejects.toThrow(/changed when its upstream reconnected/);
      const after = await client.callTool('flaky__ok', {});
      expect(textOf(after)).toMatch(/quarantined because its definition is changed since approval/);
      await client.close();
    } finally {
      await pinned.close();
      await temp.remove();
    }
  });

  it('an HTTP upstream that restarts and forgets the session: one call fails, the next reconnects', async () => {
    const start = (port: number) => {
      const child = spawn(
        process.execPath,
        [join(ROOT, 'test/mcp/fixtures/echo-server.ts'), 'http-legacy', `${port}`],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      const address = new Promise<string>((resolve) =>
        child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
      );
      return { child, address };
    };
    const first = start(0);
    const upstreamUrl = await first.address;
    let second: ReturnType<typeof start> | undefined;
    const temp = await tempDir();
    const config = await loadGatewayConfig(
      await writeConfig(temp.dir, {
        version: 1,
        pinning: 'off',
        store: { kind: 'memory' },
        servers: { web: { url: upstreamUrl } },
      }),
    );
    const gateway = await Gateway.start(config, { stores: memoryStores() });
    try {
      const call = () => gateway.callTool('s', 'web__echo', { n: 1 });
      await expect(call()).resolves.toMatchObject({ kind: 'result' });
      first.child.kill();
      await new Promise((resolve) => first.child.once('exit', resolve));
      second = start(Number(new URL(upstreamUrl).port));
      await second.address;
      await expect(call()).rejects.toThrow(/upstream failed on `web__echo`: HTTP 404/);
      const again = await call();
      expect(again.kind === 'result' && textOf(again.result)).toBe('{"n":1}');
    } finally {
      await gateway.close();
      first.child.kill();
      second?.child.kill();
      await temp.remove();
    }
  });

  it('an SDK client sees the same errors and keeps its connection', async () => {
    const client = await v2Client({ url, headers: auth }, 'legacy', undefined);
    try {
      await expect(client.callTool('flaky__hang', {})).rejects.toThrow(/timed out/);
      const result = await client.callTool('flaky__ok', {});
      expect(textOf(result)).toMatch(/^ok from/);
    } finally {
      await client.close();
    }
  });
});
