import { createServer as createHttpServer, type Server as HttpServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig, type UpstreamConfig } from '../../src/mcp/config.ts';
import { Http1Pool } from '../../src/mcp/http1.ts';
import { type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import { StdioUpstreamTransport } from '../../src/mcp/stdio-upstream.ts';
import { Upstream } from '../../src/mcp/upstream.ts';
import {
  fixtureServer,
  plainFlakyConfig,
  rawModernCall,
  type ToolResult,
  tempDir,
  textOf,
  writeConfig,
} from './harness.ts';

// An adversary on the gateway's network transports: a hostile HTTP upstream played by raw sockets and node:http
// servers on 127.0.0.1, against the real upstream client code (the lean HTTP/1.1 pool, the SDK's transport).

const servers: (Server | HttpServer)[] = [];
const closers: (() => unknown)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const server of servers.splice(0)) {
    (server as HttpServer).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const MiB = 1024 * 1024;

describe('a hostile HTTP upstream against the lean HTTP/1.1 client', () => {
  it('a chunk that declares more than the body bound is refused at its size line, not buffered', async () => {
    let sent = 0;
    const port = await listen(
      createNetServer((socket: Socket) => {
        socket.on('error', () => {});
        socket.once('data', async () => {
          socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffff\r\n');
          // The chunk's data keeps coming and never completes: without the bound, all of it sits in memory.
          const piece = Buffer.alloc(MiB, 0x61);
          while (!socket.destroyed && sent < 64 * MiB) {
            sent += piece.length;
            if (!socket.write(piece))
              await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
          }
        });
      }),
    );
    const pool = new Http1Pool({ https: false, hostname: '127.0.0.1', port });
    closers.push(() => pool.close());
    const head = 'POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n';
    await expect(pool.request(head, '{}', { timeout: 3000 })).rejects.toThrow(
      /response body larger than 10485760 bytes/,
    );
    expect(sent).toBeLessThan(64 * MiB);
  });

  it('a response that answers one request with two never answers the next request on that socket', async () => {
    const stray = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled';
    let connections = 0;
    const port = await listen(
      createNetServer((socket: Socket) => {
        const n = ++connections;
        let requests = 0;
        socket.on('error', () => {});
        socket.on('data', () => {
          const answer = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
          if (++requests > 1) return void socket.write(answer(`c${n}r${requests}`));
          // The first connection sends the stray answer with its own, the second one a moment after its own.
          if (n === 1) socket.write(answer(`c${n}`) + stray);
          else {
            socket.write(answer(`c${n}`));
            setTimeout(() => socket.writable && socket.write(stray), 20);
          }
        });
      }),
    );
    const pool = new Http1Pool({ https: false, hostname: '127.0.0.1', port });
    closers.push(() => pool.close());
    const send = async () =>
      (await pool.request('POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n', '{}', { timeout: 2000 })).body.toString();
    expect(await send()).toBe('c1');
    expect(await send()).toBe('c2');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await send()).toBe('c3');
    expect(connections).toBe(3);
  });
});

describe('a redirecting HTTP upstream against the SDK transport', () => {
  it('a redirect to another origin is not followed: the configured credentials stay with the configured upstream', async () => {
    const elsewhere: IncomingHttpHeaders[] = [];
    const otherPort = await listen(
      createHttpServer((req, res) => {
        elsewhere.push(req.headers);
        res.writeHead(500).end();
      }),
    );
    let redirected = 0;
    const port = await listen(
      createHttpServer((req, res) => {
        redirected++;
        req.resume();
        res.writeHead(307, { location: `http://localhost:${otherPort}/mcp` }).end();
      }),
    );
    const config: UpstreamConfig = {
      name: 'r',
      transport: {
        kind: 'http',
        url: `http://127.0.0.1:${port}/mcp`,
        headers: { 'x-api-key': 'sekrit-key', authorization: 'Bearer sekrit-token' },
      },
      trusted: true,
      tools: {},
      resources: {},
      prompts: {},
      timeoutMs: 2000,
    };
    const upstream = new Upstream(config, () => {});
    closers.push(() => upstream.close());
    await expect(upstream.connect()).rejects.toThrow(/did not start/);
    expect(redirected).toBeGreaterThan(0);
    expect(elsewhere).toEqual([]);
  });
});

describe("a hostile client against the gateway's HTTP endpoint", () => {
  const TOKEN = 'transport-token-0123456789';
  let running: RunningGateway;
  let remove: () => Promise<void>;
  let url: URL;

  beforeAll(async () => {
    const temp = await tempDir();
    remove = temp.remove;
    const file = await writeConfig(temp.dir, {
      ...(plainFlakyConfig(fixtureServer('flaky-server'), '5s') as object),
      maxMessageBytes: 4096,
      http: { tokenEnv: 'R2_TEST_TOKEN' },
    });
    running = await runGateway(await loadGatewayConfig(file), {
      transport: 'http',
      port: 0,
      env: { R2_TEST_TOKEN: TOKEN },
    });
    url = new URL(running.http?.url ?? '');
  }, 30_000);

  afterAll(async () => {
    await running?.close();
    await remove?.();
  });

  /** Writes `text` on a new socket; resolves with what came back once the server closed or `ms` passed. */
  function raw(text: string | string[], ms = 1500): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(Number(url.port), '127.0.0.1');
      let received = '';
      const done = () => {
        socket.destroy();
        resolve(received);
      };
      const timer = setTimeout(done, ms);
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(received);
      });
      for (const piece of [text].flat()) socket.write(piece);
    });
  }

  const status = (response: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);
  const call = (id: number) =>
    rawModernCall(url.href, { id, name: 'flaky__ok', args: {}, headers: { authorization: `Bearer ${TOKEN}` } });
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

  /** A request head that asks the server to close after answering (so `raw` returns at once). */
  const head = (line: string, headers: string[]) =>
    `${line}\r\n${[...headers, 'connection: close'].map((h) => `${h}\r\n`).join('')}\r\n`;
  const auth = `authorization: Bearer ${TOKEN}`;
  const json = ['content-type: application/json', 'accept: application/json, text/event-stream'];

  it('refuses DNS-rebinding Host variants and a token anywhere but the Authorization header, on every method', async () => {
    const post = (headers: string[]) =>
      head(`POST ${url.pathname} HTTP/1.1`, [...headers, ...json, `content-length: ${body.length}`]) + body;
    const refusals: [string, number][] = [
      // HTTP/1.0 needs no Host at all; an absent Host is not a loopback name.
      [head(`POST ${url.pathname} HTTP/1.0`, [auth, ...json, `content-length: ${body.length}`]) + body, 403],
      [post(['host: localhost.attacker.example', auth]), 403],
      [post([`host: 127.0.0.1.attacker.example:${url.port}`, auth]), 403],
      [post(['host: localhost.', auth]), 403],
      [head(`GET ${url.pathname} HTTP/1.1`, ['host: attacker.example', auth, 'accept: text/event-stream']), 403],
      [head(`DELETE ${url.pathname} HTTP/1.1`, ['host: attacker.example', auth, 'mcp-session-id: x']), 403],
      [post(['host: 127.0.0.1', auth, 'origin: null']), 403],
      [post(['host: 127.0.0.1']).replace(`POST ${url.pathname} `, `POST ${url.pathname}?access_token=${TOKEN} `), 401],
      [post(['host: 127.0.0.1', `cookie: token=${TOKEN}; access_token=${TOKEN}`]), 401],
      [post(['host: 127.0.0.1', `authorization: Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]), 401],
      [post(['host: 127.0.0.1', `authorization: Bearer ${TOKEN}x`]), 401],
      [
        head(`GET ${url.pathname}?access_token=${TOKEN} HTTP/1.1`, ['host: 127.0.0.1', 'accept: text/event-stream']),
        401,
      ],
    ];
    for (const [request, expected] of refusals)
      expect([request, status(await raw(request, 1000))]).toEqual([request, expected]);
    // The control: the same request from a loopback name with the token passes the front door (and is then refused
    // for want of a session, as a 2025-era request without one).
    expect(await raw(post([`host: [::1]:${url.port}`, auth]))).toMatch(/a 2025-era request needs an `Mcp-Session-Id`/);
  });

  it('refuses a request with two Host or two Authorization headers, whichever comes first', async () => {
    // Node keeps the first of a repeated Host or Authorization and drops the rest; a proxy in front may use the
    // last. RFC 9112 §3.2: a request with more than one Host is answered 400.
    const post = (headers: string[]) =>
      head(`POST ${url.pathname} HTTP/1.1`, [...headers, ...json, `content-length: ${body.length}`]) + body;
    const wrong = `authorization: Bearer ${TOKEN}x`;
    const cases: [string, number][] = [
      [post(['host: 127.0.0.1', 'host: attacker.example', auth]), 400],
      [post(['host: attacker.example', 'host: 127.0.0.1', auth]), 400],
      [post(['host: 127.0.0.1', 'host: 127.0.0.1', auth]), 400],
      [post(['host: 127.0.0.1', auth, wrong]), 401],
      [post(['host: 127.0.0.1', wrong, auth]), 401],
    ];
    for (const [request, expected] of cases) {
      const answer = await raw(request, 1000);
      expect([request, status(answer)]).toEqual([request, expected]);
      if (expected === 400) expect(answer).toMatch(/more than one `host` header/);
    }
    // The control: one of each passes the front door.
    expect(await raw(post(['host: 127.0.0.1', auth]))).toMatch(/a 2025-era request needs an `Mcp-Session-Id`/);
  });

  it('answers an oversized chunked body with 413 (no reset), and keeps serving', async () => {
    const chunk = 'a'.repeat(0x2000);
    const response = await raw(
      `${head(`POST ${url.pathname} HTTP/1.1`, ['host: 127.0.0.1', auth, ...json, 'transfer-encoding: chunked'])}2000\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(status(response)).toBe(413);
    expect(response).toMatch(/message larger than 4096 bytes/);
    // A body that never ends: the 413 still comes, and the server closes the connection rather than read forever.
    const endless = connect(Number(url.port), '127.0.0.1');
    endless.on('error', () => {});
    endless.write(
      head(`POST ${url.pathname} HTTP/1.1`, ['host: 127.0.0.1', auth, ...json, 'transfer-encoding: chunked']),
    );
    const pump = setInterval(() => endless.writable && endless.write(`2000\r\n${chunk}\r\n`), 1);
    let answer = '';
    endless.on('data', (data) => {
      answer += data.toString('latin1');
    });
    const closed = await new Promise<boolean>((resolve) => {
      endless.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    clearInterval(pump);
    endless.destroy();
    expect([status(answer), closed]).toEqual([413, true]);
    expect(textOf((await call(2)).body.result as ToolResult)).toMatch(/^ok from/);
  });

  it('refuses a request without the token before reading its body, on any method', async () => {
    // The body never comes: a refusal that waited for it would leave the client (and its buffer) hanging.
    for (const method of ['POST', 'GET', 'DELETE']) {
      const request = head(`${method} ${url.pathname} HTTP/1.1`, ['host: 127.0.0.1', ...json, 'content-length: 4000']);
      expect([method, status(await raw(request, 1000))]).toEqual([method, 401]);
    }
  });

  it('a client that never finishes its head or its body holds up no other client', async () => {
    const sockets = [
      `POST ${url.pathname} HTTP/1.1\r\nhost: 127.0.0.1\r\n${auth}\r\n`,
      `${head(`POST ${url.pathname} HTTP/1.1`, ['host: 127.0.0.1', auth, ...json, 'content-length: 100'])}{"jsonrpc":`,
    ].map((text) => {
      const socket = connect(Number(url.port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(text);
      return socket;
    });
    try {
      const answers = await Promise.all([call(3), call(4)]);
      for (const answer of answers) expect(textOf(answer.body.result as ToolResult)).toMatch(/^ok from/);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

describe('a hostile stdio upstream', () => {
  it('output past the message bound without a newline fails the call and ends the server', async () => {
    // Writes 64 MiB with no newline; exits when its stdin ends (the transport's first step in closing it).
    const script = `
      process.stdin.on('data', () => {}).on('end', () => process.exit(0));
      const piece = 'a'.repeat(1 << 20);
      let n = 0;
      const pump = () => { while (n++ < 64) if (!process.stdout.write(piece)) return void process.stdout.once('drain', pump); };
      pump();`;
    const transport = new StdioUpstreamTransport({ command: process.execPath, args: ['-e', script], env: {} });
    const errors: string[] = [];
    transport.onerror = (error) => errors.push(error.message);
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
    });
    await transport.start();
    closers.push(() => transport.close());
    await expect(transport.callTool('x', {}, { timeout: 5000 })).rejects.toThrow(/the upstream connection closed/);
    await closed;
    expect(errors[0]).toBe('the upstream sent a message larger than 10485760 bytes');
    expect(transport.pid).toBeUndefined();
  });
});
