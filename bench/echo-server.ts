// Upstream for bench/gateway.ts: one `echo` tool, served over stdio (`stdio`) or Streamable HTTP on 127.0.0.1
// (`http`, prints its URL on stdout), with the same SDK code path either way.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

function echoServer(): Server {
  const server = new Server({ name: 'bench-echo', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler('tools/list', async () => ({
    tools: [{ name: 'echo', description: 'Echoes its input.', inputSchema: { type: 'object' } }],
  }));
  server.setRequestHandler('tools/call', async (request) => ({
    content: [{ type: 'text', text: JSON.stringify(request.params.arguments ?? {}) }],
  }));
  return server;
}

if (process.argv[2] === 'http') {
  const handler = toNodeHandler(createMcpHandler(() => echoServer()));
  const http = createServer((req, res) => void handler(req as Parameters<typeof handler>[0], res));
  http.listen(0, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp\n`);
  });
} else {
  serveStdio(() => echoServer());
}
