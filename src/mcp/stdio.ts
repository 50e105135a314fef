import type { Readable, Writable } from 'node:stream';
import type { Server } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import type { ElicitationApprovals } from './elicitation.ts';
import type { Gateway } from './gateway.ts';
import { LineScreen } from './lines.ts';
import { createDownstreamServer } from './server.ts';
import type { GatewayLog } from './upstream.ts';

/** A running stdio endpoint. */
export interface StdioGateway {
  /** Resolves when the client closed the connection. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * Serves the gateway over stdio, in either era. One stdio connection is one Rule-of-Two session: a client that
 * spawns the gateway once per conversation gets one session per conversation.
 */
export function serveGatewayStdio(
  gateway: Gateway,
  options: {
    sessionId: string;
    approvals: ElicitationApprovals;
    maxMessageBytes: number;
    log: GatewayLog;
    stdin?: Readable;
    stdout?: Writable;
  },
): StdioGateway {
  const servers = new Set<Server>();
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const screened = stdin.pipe(new LineScreen(options.maxMessageBytes, (line) => stdout.write(line)));
  // The screen already bounds lines; the SDK's own bound (which closes the connection) sits above it.
  const transport = new StdioServerTransport(screened, stdout, { maxBufferSize: options.maxMessageBytes * 2 });
  let onClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  const handle = serveStdio(
    () => {
      const server = createDownstreamServer(gateway, () => options.sessionId, options.approvals);
      servers.add(server);
      server.onclose = () => {
        servers.delete(server);
        onClosed();
      };
      return server;
    },
    { transport, onerror: (error) => options.log(`stdio: ${error.message}`) },
  );
  stdin.once('end', onClosed);
  const unsubscribe = gateway.onListChanged(() => {
    for (const server of servers) server.sendToolListChanged().catch(() => {});
  });
  return {
    closed,
    async close() {
      unsubscribe();
      await handle.close();
      onClosed();
    },
  };
}
