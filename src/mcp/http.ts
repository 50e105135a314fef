import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type Server as NodeServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type NodeIncomingMessageLike, toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  type Server,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { HttpConfig } from './config.ts';
import type { ElicitationApprovals } from './elicitation.ts';
import type { Gateway } from './gateway.ts';
import { createDownstreamServer } from './server.ts';
import type { GatewayLog } from './upstream.ts';

/** Header a stateless (2026-07-28) client sends to name its Rule-of-Two session. */
export const SESSION_HEADER = 'ruleoftwo-session';
/** The session of stateless requests that name none: one shared session, so legs only accumulate. */
export const SHARED_HTTP_SESSION = 'http:shared';

const SESSION_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A running downstream HTTP endpoint. */
export interface HttpGateway {
  url: string;
  /** Open 2025-era sessions (by `Mcp-Session-Id`). */
  readonly legacySessions: number;
  close(): Promise<void>;
}

function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Whether a 2025-era initialize request declares elicitation. */
function declaresElicitation(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (m) => (m as { params?: { capabilities?: { elicitation?: unknown } } })?.params?.capabilities?.elicitation != null,
  );
}

/** The session a stateless request belongs to: its session header, else the shared session. */
export function statelessSession(request: Request | undefined): string {
  const named = request?.headers.get(SESSION_HEADER);
  // A namespace of their own: a header cannot name a 2025-era session (`http:<id>`) or a stdio one.
  return named && SESSION_NAME.test(named) ? `named:${named}` : SHARED_HTTP_SESSION;
}

/**
 * Serves the gateway over Streamable HTTP: 2025-era clients get a session per `Mcp-Session-Id` (and that is their
 * Rule-of-Two session); 2026-07-28 clients are served per request and name their session with a header.
 */
export async function serveGatewayHttp(
  gateway: Gateway,
  options: {
    http: HttpConfig;
    approvals: ElicitationApprovals;
    maxMessageBytes: number;
    log: GatewayLog;
    token?: string;
  },
): Promise<HttpGateway> {
  const { http, approvals, maxMessageBytes, log } = options;
  const legacy = new Map<
    string,
    { transport: WebStandardStreamableHTTPServerTransport; server: Server; lastSeen: number }
  >();
  // Clients that vanish without DELETE would otherwise hold their session forever.
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - http.sessionIdleMs;
      for (const entry of legacy.values()) if (entry.lastSeen < cutoff) void entry.transport.close().catch(() => {});
    },
    Math.min(60_000, http.sessionIdleMs),
  );
  sweeper.unref();
  const modern = createMcpHandler(
    (ctx) => createDownstreamServer(gateway, () => statelessSession(ctx.requestInfo), approvals),
    { legacy: 'reject', maxRequestBodySize: maxMessageBytes, onerror: (error) => log(`http: ${error.message}`) },
  );
  const unsubscribe = gateway.onListChanged(() => {
    modern.notify.toolsChanged();
    for (const { server } of legacy.values()) server.sendToolListChanged().catch(() => {});
  });
  const token = options.token === undefined ? undefined : digest(options.token);
  if (!LOOPBACK_HOSTS.has(http.host) && token === undefined) {
    log(
      `warning: listening on \`${http.host}\` without a bearer token (http.tokenEnv); anyone who can reach it can call tools`,
    );
  }

  async function openLegacy(request: Request, body: unknown): Promise<Response> {
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Only elicitation needs a stream per call (the approval question travels on it); without it, plain JSON.
      enableJsonResponse: !declaresElicitation(body),
      maxRequestBodySize: maxMessageBytes,
      onsessioninitialized: (id) => {
        legacy.set(id, { transport, server, lastSeen: Date.now() });
      },
    });
    // Closed by DELETE, by the idle sweep or at shutdown; the session's legs stay in the store.
    transport.onclose = () => {
      if (transport.sessionId === undefined) return;
      legacy.delete(transport.sessionId);
      gateway.forgetSession(`http:${transport.sessionId}`);
    };
    const server = createDownstreamServer(gateway, () => `http:${transport.sessionId}`, approvals);
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  }

  async function fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== http.path) return jsonRpcError(404, -32601, `not found; the MCP endpoint is \`${http.path}\``);
    // DNS rebinding: a loopback listener answers only loopback Host names and allowed browser origins.
    const host = (request.headers.get('host') ?? '').replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.has(http.host) && !LOOPBACK_HOSTS.has(host)) {
      return jsonRpcError(403, -32600, `host \`${host}\` is not allowed`);
    }
    const origin = request.headers.get('origin');
    if (origin !== null && !http.allowedOrigins.includes(origin)) {
      return jsonRpcError(403, -32600, `origin \`${origin}\` is not allowed`);
    }
    if (token) {
      const given = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? '';
      if (!timingSafeEqual(digest(given), token)) {
        return jsonRpcError(401, -32600, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
      }
    }
    let body: unknown;
    if (request.method === 'POST') {
      const declared = Number(request.headers.get('content-length') ?? '0');
      if (declared > maxMessageBytes) return jsonRpcError(413, -32600, `message larger than ${maxMessageBytes} bytes`);
      const text = await request.text();
      if (Buffer.byteLength(text) > maxMessageBytes) {
        return jsonRpcError(413, -32600, `message larger than ${maxMessageBytes} bytes`);
      }
      // Parsed once here; everything below reads `parsedBody`, never the consumed request body.
      try {
        body = JSON.parse(text);
      } catch {
        return jsonRpcError(400, -32700, 'parse error: the body is not JSON');
      }
    }
    if (await isLegacyRequest(request, body, { maxRequestBodySize: maxMessageBytes })) {
      const sessionId = request.headers.get('mcp-session-id');
      if (sessionId) {
        const hit = legacy.get(sessionId);
        if (!hit) return jsonRpcError(404, -32001, `unknown session \`${sessionId}\`; initialize again`);
        hit.lastSeen = Date.now();
        return hit.transport.handleRequest(request, { parsedBody: body });
      }
      const initializing = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
      if (request.method === 'POST' && initializing) {
        if (legacy.size >= http.maxSessions)
          return jsonRpcError(503, -32000, 'too many open sessions; try again later');
        return openLegacy(request, body);
      }
      return jsonRpcError(400, -32600, 'a 2025-era request needs an `Mcp-Session-Id` from initialize');
    }
    return modern.fetch(request, body === undefined ? {} : { parsedBody: body });
  }

  const handler = toNodeHandler(
    { fetch },
    { maxRequestBodySize: maxMessageBytes, onerror: (e) => log(`http: ${e.message}`) },
  );
  const node: NodeServer = createServer((req, res) => {
    handler(req as NodeIncomingMessageLike, res).catch((error: Error) => {
      log(`http: ${error.message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'internal error' } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    node.once('error', reject);
    node.listen(http.port, http.host, () => resolve());
  });
  const address = node.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}${http.path}`,
    get legacySessions() {
      return legacy.size;
    },
    async close() {
      clearInterval(sweeper);
      unsubscribe();
      await Promise.all([...legacy.values()].map(({ transport }) => transport.close().catch(() => {})));
      legacy.clear();
      await modern.close();
      const closed = new Promise<void>((resolve) => node.close(() => resolve()));
      node.closeAllConnections();
      await closed;
    },
  };
}
