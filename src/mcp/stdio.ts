import type { Readable, Writable } from 'node:stream';
import { type JSONRPCMessage, parseJSONRPCMessage, type Server } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import type { ElicitationApprovals } from './elicitation.ts';
import { type FastToolCall, fastToolCall, HandedAsks, serveToolCall } from './fastpath.ts';
import type { Gateway } from './gateway.ts';
import { errorLine, LineScreen, turnWriter } from './lines.ts';
import { createDownstreamServer, sendListsChanged } from './server.ts';
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
  const handed = new HandedAsks();
  const inFlight = new Map<string | number, AbortController>();
  // The era the SDK pinned the connection to, and its server: the fast path serves only calls of that era.
  let pinned: { era: string; server: Server } | undefined;
  const write = turnWriter(stdout);

  // A message the fast path does not serve goes to the SDK server as its transport would deliver it, parsed once by
  // the screen and checked by `validated`: the transport reading the line again cost a second JSON.parse and schema
  // pass (bench/stdio.ts).
  const toSdk = (message: unknown) => {
    const valid = validated(message, write);
    if (valid) transport.onmessage?.(valid);
  };
  const serveFast = async (call: FastToolCall, message: unknown) => {
    const controller = new AbortController();
    inFlight.set(call.id, controller);
    const outcome = await serveToolCall(gateway, call, {
      sessionId: options.sessionId,
      approvals: options.approvals,
      connectionCaps: pinned?.server.getClientCapabilities(),
      signal: controller.signal,
    });
    inFlight.delete(call.id);
    if (controller.signal.aborted) return;
    if (outcome.kind === 'response') write(`${JSON.stringify(outcome.response)}\n`);
    else {
      handed.hand(call.id, call.name, outcome.request);
      toSdk(message);
    }
  };
  const take = (message: unknown): boolean => {
    const cancelled = cancelledId(message);
    // The SDK sees the cancellation too (it may be for one of its requests).
    if (cancelled !== undefined) inFlight.get(cancelled)?.abort();
    const call = fastToolCall(message);
    if (!call || inFlight.has(call.id) || !pinned) return false;
    const ready = call.modern ? pinned.era === 'modern' : pinned.era === 'legacy' && !!pinned.server.getClientVersion();
    if (!ready) return false;
    serveFast(call, message).catch((error: Error) => options.log(`stdio: ${error.message}`));
    return true;
  };
  const screen = new LineScreen(options.maxMessageBytes, write, (message) => {
    if (!take(message)) toSdk(message);
  });
  const screened = stdin.pipe(screen);
  const transport = new StdioServerTransport(screened, stdout);
  let onClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  const handle = serveStdio(
    ({ era }) => {
      const server = createDownstreamServer(gateway, () => options.sessionId, options.approvals, handed.take);
      pinned = { era, server };
      servers.add(server);
      server.onclose = () => {
        servers.delete(server);
        if (pinned?.server === server) pinned = undefined;
        onClosed();
      };
      return server;
    },
    { transport, onerror: (error) => options.log(`stdio: ${error.message}`) },
  );
  stdin.once('end', onClosed);
  const unsubscribe = gateway.onListChanged(() => {
    for (const server of servers) sendListsChanged(server);
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

/** The request id a `notifications/cancelled` names. */
function cancelledId(message: unknown): string | number | undefined {
  const m = message as { method?: unknown; params?: { requestId?: unknown } } | null;
  if (m === null || typeof m !== 'object' || m.method !== 'notifications/cancelled') return undefined;
  const id = m.params?.requestId;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/**
 * The message as the SDK's schema reads it; a message that is not JSON-RPC (which the SDK drops silently) is answered
 * with -32600 instead, and undefined returned.
 */
function validated(message: unknown, write: (line: string) => void): JSONRPCMessage | undefined {
  let problem: string;
  if (Array.isArray(message)) problem = 'batches are not supported';
  else {
    try {
      return parseJSONRPCMessage(message);
    } catch {
      // A schema mismatch, or a stack overflow on a deeply nested value.
      problem = 'not a JSON-RPC 2.0 request, notification or response';
    }
  }
  // INVARIANT: a message the SDK would drop with only a log line is answered with -32600, so its client does not wait
  // for an answer forever (test/mcp/bad-input.test.ts).
  const id = (message as { id?: unknown } | null)?.id;
  write(
    errorLine(
      -32600,
      `invalid request: ${problem}`,
      typeof id === 'string' || Number.isSafeInteger(id) ? (id as string | number) : null,
    ),
  );
  return undefined;
}
