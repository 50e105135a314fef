import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { Gateway } from '../../src/mcp/gateway.ts';
import { approveDefinitions } from '../../src/mcp/review.ts';
import { memoryStores, type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import { NODE, ROOT, tempDir, textOf, writeConfig } from './harness.ts';

// Attacks on the gateway from a hostile upstream (test/mcp/fixtures/hostile-server.ts, hand-written because the SDK
// will not misbehave) and from a client that sends what the SDK would not, each checking that nothing reaches the
// other side undecided or unlabelled.

const HOSTILE = { command: NODE, args: [join(ROOT, 'test/mcp/fixtures/hostile-server.ts')] };

let dir: string;
let remove: () => Promise<void>;
let running: RunningGateway;
const log: string[] = [];

/** Writes and loads gateway config `name`: the hostile server with `server`'s fields, memory stores, and `top`. */
async function hostileConfig(name: string, server: Record<string, unknown>, top: Record<string, unknown> = {}) {
  const config = {
    version: 1,
    policy: { version: 1, session: { input: 'trusted' } },
    store: { kind: 'memory' },
    servers: { hostile: { ...HOSTILE, ...server } },
    ...top,
  };
  return loadGatewayConfig(await writeConfig(dir, config, name));
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  const config = await hostileConfig('gateway.yaml', {}, { pinning: 'off' });
  running = await runGateway(config, { transport: 'http', port: 0, log: (m) => log.push(m) });
}, 30_000);

afterAll(async () => {
  await running?.close();
  await remove?.();
});

describe('a hostile upstream', () => {
  it('cannot push notifications or requests to the client; every kind of content it returns is labelled', async () => {
    const pushed: string[] = [];
    const client = new Client(
      { name: 'victim', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } },
    );
    client.fallbackNotificationHandler = async (n) => void pushed.push(n.method);
    client.setRequestHandler('sampling/createMessage', async () => {
      pushed.push('sampling/createMessage');
      return { role: 'assistant', content: { type: 'text', text: 'yes' }, model: 'victim' };
    });
    client.setRequestHandler('elicitation/create', async () => {
      pushed.push('elicitation/create');
      return { action: 'accept', content: {} };
    });
    client.setRequestHandler('roots/list', async () => {
      pushed.push('roots/list');
      return { roots: [{ uri: 'file:///home/victim' }] };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(running.http?.url ?? '')));
    try {
      const result = await client.callTool({ name: 'hostile__poke', arguments: {} });
      const content = result.content as { type: string; text?: string }[];
      // The gateway declares no client capabilities upstream: the SDK refuses each request (-32601).
      expect(content[0]?.text).toBe('sampling=-32601 elicitation=-32601 roots=-32601');
      expect(content.map((c) => c.type)).toEqual(['text', 'image', 'resource_link', 'resource']);
      expect(result.structuredContent).toEqual({ injected: 'structured' });
      // The upstream's own decision `_meta` is replaced by the gateway's: the output made the session A.
      expect(result._meta?.['dev.ruleoftwo/decision']).toMatchObject({ effect: 'allow', legsAfter: 'AC' });
      expect(pushed).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe('tool pinning', () => {
  /** A gateway config for the hostile server whose `poke` carries the given `_meta` and icon, pinned in `pins.json`. */
  /** A config for the hostile server whose `poke` carries the given `_meta` and icon, pinned in `pins.json`. */
  const pinnedConfig = (meta: unknown, icon: string, name: string) =>
    hostileConfig(name, { env: { HOSTILE_META: JSON.stringify(meta), HOSTILE_ICON: icon } }, { pins: './pins.json' });

  it('a tool whose `_meta` or icons changed after approval is quarantined (both reach the client)', async () => {
    const icon = 'https://example.com/icon.png';
    const meta = { ui: { resourceUri: 'ui://hostile/app' } };
    await approveDefinitions(await pinnedConfig(meta, icon, 'approved.yaml'), []);
    const pulls: [string, unknown, string][] = [
      ['same', meta, icon],
      ['_meta', { ui: { resourceUri: 'ui://hostile/exfiltrate' } }, icon],
      ['icons', meta, 'https://evil.example/beacon.png'],
    ];
    for (const [what, pulledMeta, pulledIcon] of pulls) {
      const gateway = await Gateway.start(await pinnedConfig(pulledMeta, pulledIcon, `${what}.yaml`), {
        stores: memoryStores(),
      });
      try {
        const listed = gateway
          .listTools()
          .filter((t) => t.name === 'hostile__poke')
          .map((t) => [t.name, t._meta?.ui, t.icons?.[0]?.src]);
        if (what === 'same') {
          expect(listed).toEqual([['hostile__poke', meta.ui, icon]]);
          continue;
        }
        expect(listed, what).toEqual([]);
        const call = await gateway.callTool('s', 'hostile__poke', {});
        expect(call.kind === 'result' && textOf(call.result), what).toMatch(/changed since approval/);
      } finally {
        await gateway.close();
      }
    }
  }, 30_000);
});

describe('a rug pull across a restart', () => {
  it('a call or prompt get that arrives while the restarted upstream is still being listed is not sent to it', async () => {
    const marker = join(dir, 'crashed');
    const config = await hostileConfig(
      'restart.yaml',
      { env: { HOSTILE_MARKER: marker } },
      { pins: './restart-pins.json' },
    );
    await approveDefinitions(config, []);
    const upstreamLog: string[] = [];
    const gateway = await Gateway.start(config, { stores: memoryStores(), log: (m) => upstreamLog.push(m) });
    try {
      const ping = () => gateway.callTool('s', 'hostile__ping', {});
      const first = await ping();
      expect(first.kind === 'result' && textOf(first.result)).toBe('pong');
      const note = () => gateway.getPrompt('s', 'hostile__note', { text: 'x' });
      expect((await note()).kind).toBe('result');
      const gets = () => upstreamLog.filter((l) => l.includes('] prompt ')).length;
      // The server logs on stderr, which may arrive after its answer.
      for (const started = Date.now(); gets() === 0 && Date.now() - started < 5000; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(gets()).toBe(1);
      await expect(gateway.callTool('s', 'hostile__crash', {})).rejects.toThrow(/upstream failed/);
      // The first call after the crash starts the new server; it answers initialize at once and tools/list after a
      // second, with `ping` changed. A second call arrives while the listing is under way.
      const listings = () => upstreamLog.filter((l) => l.includes('got tools/list')).length;
      const reconnecting = ping().catch((error: Error) => error);
      const started = Date.now();
      while (listings() < 2 && Date.now() - started < 5000) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const [during, noteDuring] = await Promise.all([ping().catch((error: Error) => error), note().catch((e) => e)]);
      const after = await reconnecting;
      for (const outcome of [during, after]) {
        const text = outcome instanceof Error ? outcome.message : outcome.kind === 'result' && textOf(outcome.result);
        expect(text).not.toBe('pong');
      }
      // The restarted server describes `note` differently: the get that waited for its listing is refused.
      expect(noteDuring).toBeInstanceOf(Error);
      expect((noteDuring as Error).message).toContain('the definition of prompt `hostile__note` changed');
      const noteAfter = await note();
      expect(noteAfter.kind === 'result' && textOf(noteAfter.result as { content?: unknown })).toMatch(
        /`prompt hostile__note` is quarantined because its definition is changed since approval/,
      );
      // Only the first process ever ran `ping` or got `note`.
      expect(upstreamLog.filter((l) => l.includes('got tools/call'))).toHaveLength(2);
      expect(gets()).toBe(1);
    } finally {
      await gateway.close();
    }
  }, 30_000);
});

describe('reads that carry data to an untrusted server', () => {
  it('a resource read through a template or a prompt get with arguments is C, as a call of its tools would be', async () => {
    const config = await hostileConfig(
      'exfil.yaml',
      { tools: { secret: { output: 'B' } } },
      { pinning: 'off', policy: { version: 1, session: { input: 'untrusted' } } },
    );
    const upstreamLog: string[] = [];
    const gateway = await Gateway.start(config, { stores: memoryStores(), log: (m) => upstreamLog.push(m) });
    try {
      // Untrusted input (A), then a secret (B): anything that sends the secret out needs a person.
      const secret = await gateway.callTool('s', 'hostile__secret', {});
      expect(secret.kind === 'result' && textOf(secret.result)).toBe('salary: 123456');
      const read = await gateway.readResource('s', 'hostile://exfil/salary:123456');
      const prompt = await gateway.getPrompt('s', 'hostile__note', { text: 'salary: 123456' });
      expect([read.kind, prompt.kind]).toEqual(['ask', 'ask']);
      expect(upstreamLog.filter((l) => l.includes('123456'))).toEqual([]);
    } finally {
      await gateway.close();
    }
  });
});

describe('crafted requests from the client', () => {
  it('a tool name that only resembles an offered one reaches no upstream', async () => {
    const gateway = running.gateway;
    const calls = () => log.filter((l) => l.includes('got tools/call')).length;
    const before = calls();
    const crafted = [
      'hostile__POKE',
      'Hostile__poke',
      'hostile__poke ',
      ' hostile__poke',
      'hostile__poke\u0000',
      'hostile__pok\u0435', // Cyrillic e
      'hostile\uff3f\uff3fpoke', // fullwidth low lines
      'hostile___poke',
      'hostile__',
      'poke',
      'hostile/resources/read',
      '__proto__',
      'constructor',
    ];
    for (const name of crafted) {
      await expect(gateway.callTool('crafted', name, {}), JSON.stringify(name)).rejects.toThrow(/unknown tool/);
    }
    expect(calls()).toBe(before);
  });

  it('over stdio, a tools/call without a usable id (notification, null, object, fraction, batch) runs nothing', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const lines: string[] = [];
    stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const stdio = await runGateway(running.gateway.config, {
      transport: 'stdio',
      stores: memoryStores(),
      stdin,
      stdout,
      log: (m) => log.push(m),
    });
    try {
      const calls = () => log.filter((l) => l.includes('got tools/call')).length;
      const before = calls();
      const call = (id?: unknown) => ({
        jsonrpc: '2.0',
        ...(id === undefined ? {} : { id }),
        method: 'tools/call',
        params: { name: 'hostile__poke', arguments: {} },
      });
      const send = (message: unknown) => stdin.write(`${JSON.stringify(message)}\n`);
      send({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      });
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      for (const message of [call(), call(null), call({ id: 1 }), call(1.5), [call(2), call(3)]]) send(message);
      // A well-formed call after them: when it has answered, the ones before it have been handled.
      send(call(4));
      const deadline = Date.now() + 5000;
      while (!lines.some((l) => l.includes('"id":4')) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(calls() - before).toBe(1);
      expect(lines.filter((l) => l.includes('"result"')).map((l) => JSON.parse(l).id)).toEqual([0, 4]);
    } finally {
      await stdio.close();
    }
  });
});
