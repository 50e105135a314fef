import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionLost, HttpToolCaller } from '../../src/mcp/http-call.ts';
import { ConnectionClosed, Http1Pool } from '../../src/mcp/http1.ts';

// The gateway's HTTP/1.1 client for upstream tool calls (src/mcp/http1.ts) against real node:http servers, and raw
// TCP servers for what node:http never sends (responses cut byte by byte, trailers, malformed heads).

const servers: (Server | HttpServer)[] = [];
const pools: Http1Pool[] = [];

afterEach(async () => {
  for (const pool of pools.splice(0)) pool.close();
  for (const server of servers.splice(0)) {
    (server as HttpServer).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Listens on 127.0.0.1 and counts the connections accepted. */
async function listen<T extends Server | HttpServer>(server: T): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** A node:http server that answers each POST with its body echoed back, and the pool for it. */
async function echoServer(
  answer: (body: string, res: import('node:http').ServerResponse) => void = (body, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  },
) {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(Buffer.concat(chunks).toString(), res));
  });
  const listening = await listen(server);
  const pool = new Http1Pool({ https: false, hostname: '127.0.0.1', port: listening.port });
  pools.push(pool);
  return { server, pool, ...listening };
}

/** A raw TCP server that answers the first request on each connection with `reply` bytes, one write per piece. */
async function rawServer(reply: (string | Buffer)[], options: { close?: boolean } = {}) {
  const received: string[] = [];
  const server = createNetServer((socket: Socket) => {
    // The client may reset the socket while the reply is still being written (a refused answer).
    socket.on('error', () => {});
    socket.once('data', async (chunk: Buffer) => {
      received.push(chunk.toString());
      for (const piece of reply) {
        socket.write(piece);
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (options.close) socket.end();
    });
  });
  const listening = await listen(server);
  const pool = new Http1Pool({ https: false, hostname: '127.0.0.1', port: listening.port });
  pools.push(pool);
  return { pool, received, ...listening };
}

const HEAD = 'POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n';
const call = (pool: Http1Pool, body = '{"n":1}', options: { timeout?: number; signal?: AbortSignal } = {}) =>
  pool.request(HEAD, body, { timeout: options.timeout ?? 5000, ...(options.signal ? { signal: options.signal } : {}) });

describe('Http1Pool', () => {
  it('reads content-length and chunked answers, and reuses one socket for calls in sequence', async () => {
    const fixed = await echoServer();
    for (let i = 0; i < 5; i++) {
      const response = await call(fixed.pool, `{"i":${i}}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(response.body.toString()).toBe(`{"i":${i}}`);
    }
    expect(fixed.connections()).toBe(1);
    const chunked = await echoServer((body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${body}\n\n`);
      res.end('data: é\n\n');
    });
    const response = await call(chunked.pool, '{"x":"ü"}');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(response.body.toString()).toBe('data: {"x":"ü"}\n\ndata: é\n\n');
  });

  it('keeps as many sockets as calls in flight, and reuses them in later rounds', async () => {
    const { pool, connections } = await echoServer();
    for (let round = 0; round < 3; round++) {
      const bodies = await Promise.all(Array.from({ length: 4 }, (_, i) => call(pool, `{"i":${i}}`)));
      expect(bodies.map((b) => b.body.toString())).toEqual([0, 1, 2, 3].map((i) => `{"i":${i}}`));
    }
    expect(connections()).toBe(4);
  });

  it('opens a new socket after `connection: close`, and after the server closed an idle one', async () => {
    const closing = await echoServer((body, res) => {
      res.setHeader('connection', 'close');
      res.end(body);
    });
    await call(closing.pool);
    await call(closing.pool);
    expect(closing.connections()).toBe(2);
    // No keep-alive hint: the pool learns of the close from the socket itself.
    const idle = await rawServer(['HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'], { close: true });
    await call(idle.pool);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await call(idle.pool)).body.toString()).toBe('ok');
    expect(idle.connections()).toBe(2);
  });

  it('reads an answer that arrives byte by byte, with chunk extensions and trailers', async () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx: y\r\n\r\n';
    const { pool, received } = await rawServer([...Buffer.from(text)].map((b) => Buffer.from([b])));
    const response = await call(pool, '{"q":1}');
    expect(response.body.toString()).toBe('abcde');
    expect(received[0]).toBe(`${HEAD}content-length: 7\r\n\r\n{"q":1}`);
  });

  it('skips an interim 100 head, and reads a body that runs until the server closes', async () => {
    const { pool } = await rawServer(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil', ' close'], {
      close: true,
    });
    const response = await call(pool);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('until close');
  });

  it('refuses malformed answers with an error naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['HTTP/2 200\r\n\r\n'], /malformed status line `HTTP\/2 200`/],
      [['HTTP/1.1 200 OK\r\nno colon\r\n\r\n'], /malformed header line `no colon`/],
      [['HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n'], /invalid content length `-1`/],
      [['HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n'], /unsupported transfer encoding `gzip`/],
      [['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'], /invalid chunk size `zz`/],
      [['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nabc\r\n'], /chunk without its closing CRLF/],
      [[`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(70_000)}`], /oversized response head/],
    ];
    for (const [reply, error] of cases) {
      const { pool } = await rawServer(reply);
      await expect(call(pool)).rejects.toThrow(error);
    }
  });

  it('refuses a body past 10 MiB, however it is framed', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x61);
    const framings: (string | Buffer)[][] = [
      [`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`, big],
      [`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n`, big, '\r\n0\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n', big],
    ];
    for (const reply of framings) {
      const { pool } = await rawServer(reply, { close: true });
      await expect(call(pool)).rejects.toThrow(/response body larger than 10485760 bytes/);
    }
    // Exactly at the bound is an answer.
    const { pool } = await rawServer([`HTTP/1.1 200 OK\r\ncontent-length: ${big.length - 1}\r\n\r\n`, big.subarray(1)]);
    expect((await call(pool)).body.length).toBe(big.length - 1);
  });

  it('a server that closes before it answers fails the call as a lost connection', async () => {
    const { pool } = await rawServer(['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort'], { close: true });
    const failed = call(pool);
    await expect(failed).rejects.toBeInstanceOf(ConnectionClosed);
    await expect(failed).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('a timeout or an abort fails the call and closes its socket', async () => {
    const closed: string[] = [];
    const server = createHttpServer((req) => req.socket.once('close', () => closed.push(req.url ?? '')));
    const { port } = await listen(server);
    const pool = new Http1Pool({ https: false, hostname: '127.0.0.1', port });
    pools.push(pool);
    await expect(call(pool, '{}', { timeout: 100 })).rejects.toThrow('request timed out after 100 ms');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('gone')), 50);
    await expect(call(pool, '{}', { signal: controller.signal })).rejects.toThrow('gone');
    const deadline = Date.now() + 5000;
    while (closed.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toHaveLength(2);
  });
  it('speaks TLS to an https upstream, naming the host for SNI, and fails the call when the handshake fails', async () => {
    const hello: Buffer[] = [];
    const server = createNetServer((socket: Socket) => {
      socket.once('data', (chunk: Buffer) => {
        hello.push(chunk);
        socket.destroy();
      });
    });
    const { port } = await listen(server);
    const pool = new Http1Pool({ https: true, hostname: 'localhost', port });
    pools.push(pool);
    await expect(call(pool)).rejects.toThrow();
    expect(hello[0]?.[0]).toBe(0x16); // a TLS handshake record, not plain HTTP
    expect(hello[0]?.includes('localhost')).toBe(true);
    expect(hello[0]?.includes('POST')).toBe(false);
  });
});

describe('HttpToolCaller', () => {
  const connection = {
    modern: true,
    protocolVersion: '2026-07-28',
    sessionId: undefined,
    clientInfo: { name: 'r', version: '1' },
  };

  it('sends the configured headers once each, with its own in place of configured ones of the same name', async () => {
    const answer = '{"jsonrpc":"2.0","id":"ruleoftwo-1","result":{"a":1}}';
    const { port, received } = await rawServer([
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${answer.length}\r\n\r\n`,
      answer,
    ]);
    const caller = new HttpToolCaller(new URL(`http://127.0.0.1:${port}/mcp?x=1`), {
      Authorization: 'Bearer t',
      Accept: 'text/html',
    });
    try {
      expect(await caller.call(connection, 'echo', { a: 1 }, { timeout: 5000 })).toEqual({ a: 1 });
    } finally {
      caller.close();
    }
    const head = (received[0] ?? '').split('\r\n\r\n')[0]?.split('\r\n') ?? [];
    expect(head[0]).toBe('POST /mcp?x=1 HTTP/1.1');
    expect(head).toContain('authorization: Bearer t');
    expect(head.filter((line) => line.startsWith('accept:'))).toEqual(['accept: application/json, text/event-stream']);
    expect(head).toContain('mcp-name: echo');
  });

  it('sends nothing when a configured header or the tool name could smuggle a header', async () => {
    const { port, connections } = await rawServer(['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n']);
    const url = new URL(`http://127.0.0.1:${port}/mcp`);
    const injected = new HttpToolCaller(url, { 'x-a': 'v\r\nx-b: w' });
    await expect(injected.call(connection, 'echo', {}, { timeout: 5000 })).rejects.toThrow('invalid header `x-a`');
    const caller = new HttpToolCaller(url, {});
    await expect(caller.call(connection, 'echo\r\nx-b: w', {}, { timeout: 5000 })).rejects.toThrow(/cannot be sent/);
    injected.close();
    caller.close();
    expect(connections()).toBe(0);
  });

  it('a refused connection is a lost connection (the upstream reconnects on the next request)', async () => {
    const { port } = await rawServer([]);
    const server = servers.pop();
    await new Promise((resolve) => server?.close(resolve));
    const caller = new HttpToolCaller(new URL(`http://127.0.0.1:${port}/mcp`), {});
    await expect(caller.call(connection, 'echo', {}, { timeout: 5000 })).rejects.toBeInstanceOf(ConnectionLost);
    caller.close();
  });
});
