import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import { fixtureServer, rawModernCall, tempDir, writeConfig } from './harness.ts';

// A web page in the user's browser and a second MCP client against the gateway's HTTP endpoint (no bearer token, so
// only the Host/Origin checks and the session handling stand in the way). Upstream: the real SDK v2 flaky server,
// whose `ok` brings A, so a session's legs show which session a call landed in.

const ALLOWED = 'http://localhost:6274';
let running: RunningGateway;
let remove: () => Promise<void>;
let url: string;

beforeAll(async () => {
  const temp = await tempDir();
  remove = temp.remove;
  const file = await writeConfig(temp.dir, {
    version: 1,
    pinning: 'off',
    store: { kind: 'memory' },
    policy: { version: 1, session: { input: 'trusted' } },
    http: { allowedOrigins: [ALLOWED] },
    servers: {
      flaky: { ...fixtureServer('flaky-server'), timeout: '5s', trusted: true, tools: { ok: { output: 'A' } } },
    },
  });
  running = await runGateway(await loadGatewayConfig(file), { transport: 'http', port: 0 });
  url = running.http?.url ?? '';
}, 30_000);

afterAll(async () => {
  await running?.close();
  await remove?.();
});

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } },
});

/** Opens a 2025-era session by hand; its `Mcp-Session-Id`. */
async function initialize(): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: JSON_HEADERS, body: INITIALIZE });
  await response.text();
  const id = response.headers.get('mcp-session-id') ?? '';
  const initialized = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
  await (
    await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, 'mcp-session-id': id }, body: initialized })
  ).text();
  return id;
}

/** A 2025-era `flaky__ok` call under `sessionId`: its status and the legs the session held before it. */
async function legacyCall(sessionId: string): Promise<{ status: number; legsBefore?: string }> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'flaky__ok', arguments: {} },
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...JSON_HEADERS, 'mcp-session-id': sessionId },
    body,
  });
  const text = await response.text();
  const json = JSON.parse(text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}'));
  return { status: response.status, legsBefore: json.result?._meta?.['dev.ruleoftwo/decision']?.legsBefore };
}

describe('a web page in the browser', () => {
  it('reaches nothing with requests a browser sends without a preflight, even from an allowed origin', async () => {
    const modern = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'flaky__ok',
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'page', version: '1' },
        },
      },
    });
    const before = running.http?.legacySessions;
    // The content types (and the Accept header) a page may send cross-origin without asking first.
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      for (const body of [modern, INITIALIZE]) {
        const headers = { 'content-type': type, accept: JSON_HEADERS.accept, origin: ALLOWED };
        const response = await fetch(url, { method: 'POST', headers, body });
        expect([type, response.status]).toEqual([type, 415]);
        expect(response.headers.get('access-control-allow-origin')).toBeNull();
      }
    }
    expect(running.http?.legacySessions).toBe(before);
    // Anything else needs a preflight, which is never approved: no CORS headers, not a 2xx.
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, mcp-session-id, mcp-protocol-version',
      },
    });
    expect(preflight.ok).toBe(false);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    // A sandboxed frame or data: URL of any site sends `Origin: null`; a foreign origin differs only in case or port.
    for (const origin of ['null', 'http://LOCALHOST:6274', 'http://localhost:6275', 'http://localhost']) {
      const response = await rawModernCall(url, { id: 3, name: 'flaky__ok', args: {}, headers: { origin } });
      expect([origin, response.status]).toEqual([origin, 403]);
    }
  });
});

describe('a second MCP client', () => {
  it("reaches no other client's 2025-era session: not by a guessed or altered id, not across eras", async () => {
    const victim = await initialize();
    expect(await legacyCall(victim)).toEqual({ status: 200, legsBefore: '' });
    // Guessed or altered ids: an id this process never minted and the store does not know is refused.
    for (const id of [randomUUID(), victim.toUpperCase(), `${victim}, ${victim}`, ` ${victim}x`, 'shared']) {
      expect([id, (await legacyCall(id)).status]).toEqual([id, 404]);
      const deleted = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
      expect([id, deleted.status]).toEqual([id, 404]);
      const stream = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': id } });
      expect([id, stream.status]).toEqual([id, 404]);
      await stream.body?.cancel();
    }
    // Across eras: a 2026-07-28 call naming the victim's id in any header lands in a session of its own.
    for (const headers of [
      { 'ruleoftwo-session': victim },
      { 'ruleoftwo-session': `http:${victim}` },
      { 'mcp-session-id': victim, 'ruleoftwo-session': 'other' },
    ]) {
      const modern = await rawModernCall(url, { id: 4, name: 'flaky__ok', args: {}, headers });
      const decision = (modern.body.result as { _meta?: Record<string, { legsBefore?: string }> })._meta;
      expect([headers, decision?.['dev.ruleoftwo/decision']?.legsBefore]).toEqual([headers, '']);
    }
    // The victim's session is untouched: still open, holding only what its own call brought.
    expect(await legacyCall(victim)).toEqual({ status: 200, legsBefore: 'A' });
  });
});
