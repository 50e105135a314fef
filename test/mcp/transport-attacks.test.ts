import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamConfig } from '../../src/mcp/config.ts';
import { Http1Pool } from '../../src/mcp/http1.ts';
import { Upstream } from '../../src/mcp/upstream.ts';

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
            if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
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
