import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type NodeIncomingMessageLike, toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  isInitializeRequest,
  isJsonContentType,
  isLegacyRequest,
  legacyStatelessFallback,
  type Server,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { HttpConfig } from './config.ts';
import type { ElicitationApprovals } from './elicitation.ts';
import { type FastToolCall, fastToolCall, HandedAsks, MODERN_REVISION, serveToolCall } from './fastpath.ts';
import type { Gateway } from './gateway.ts';
import { createDownstreamServer, sendListsChanged } from './server.ts';
import type { GatewayLog } from './upstream.ts';

/** Header a stateless (2026-07-28) client sends to name its Rule-of-Two session. */
export const SESSION_HEADER = 'ruleoftwo-session';
/** The session of stateless requests that name none: one shared session, so legs only accumulate. */
export const SHARED_HTTP_SESSION = 'http:shared';

const SESSION_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
/** The shape of the `Mcp-Session-Id`s this gateway mints (random UUIDs). */
const MINTED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A running downstream HTTP endpoint. */
export interface HttpGateway {
  url: string;
  /** Open 2025-era sessions (by `Mcp-Session-Id`). */
  readonly legacySessions: number;
  close(): Promise<void>;
}

/** A 2025-era HTTP session: its transport and SDK server, and asks the fast path handed to that server. */
interface LegacySession {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  handed: HandedAsks;
  lastSeen: number;
}

function rpcError(code: number, message: string): Record<string, unknown> {
  return { jsonrpc: '2.0', id: null, error: { code, message } };
}

function jsonRpcError(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify(rpcError(code, message)), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads a request body as UTF-8; undefined when it is larger than `maxBytes` (declared or actual), and then the rest
 * is read and dropped. Listeners rather than an async iterator, which costs more per request.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  if (Number(req.headers['content-length'] ?? '0') > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // INVARIANT: an oversized body is answered with 413, not a reset, and is never buffered past the bound
      // (test/mcp/transport-attacks.test.ts "oversized chunked body"); the 413 closes the connection.
      req.off('data', onData);
      chunks.length = 0;
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')));
    req.once('error', reject);
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

/** Whether a session header value names a session. */
function namesSession(named: string | null | undefined): named is string {
  return !!named && SESSION_NAME.test(named);
}

/** The session of a stateless request, by its session header: the named session, else the shared session. */
export function statelessSession(named: string | null | undefined): string {
  // A namespace of their own: a header cannot name a 2025-era session (`http:<id>`) or a stdio one.
  return namesSession(named) ? `named:${named}` : SHARED_HTTP_SESSION;
}

const SESSION_METHODS = new Set(['tools/call', 'resources/read', 'prompts/get']);

/** Whether a request body holds a request that acts in a session (a batch counts if any of it does). */
function touchesSession(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => SESSION_METHODS.has((m as { method?: unknown } | null)?.method as string));
}

/** Why a request is refused before anything else is read: a foreign Host or Origin, or a missing bearer token. */
interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** A failure to listen in words: a port in use is the usual one, and the operator chooses another. */
function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (error.code === 'EADDRINUSE') {
    return new Error(`cannot listen on ${where}: the port is in use; choose another with --port or \`http.port\``);
  }
  if (error.code === 'EACCES') return new Error(`cannot listen on ${where}: permission denied`);
  return new Error(`cannot listen on ${where}: ${error.message}`);
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
  const legacy = new Map<string, LegacySession>();
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
    (ctx) =>
      createDownstreamServer(gateway, () => statelessSession(ctx.requestInfo?.headers.get(SESSION_HEADER)), approvals),
    { legacy: 'reject', maxRequestBodySize: maxMessageBytes, onerror: (error) => log(`http: ${error.message}`) },
  );
  const unsubscribe = gateway.onListChanged(() => {
    modern.notify.toolsChanged();
    modern.notify.resourcesChanged();
    modern.notify.promptsChanged();
    for (const { server } of legacy.values()) sendListsChanged(server);
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
        legacy.set(id, { transport, server, handed, lastSeen: Date.now() });
      },
    });
    // Closed by DELETE, by the idle sweep or at shutdown; the session's legs stay in the store.
    transport.onclose = () => {
      if (transport.sessionId === undefined) return;
      legacy.delete(transport.sessionId);
      gateway.forgetSession(`http:${transport.sessionId}`);
    };
    const handed = new HandedAsks();
    const server = createDownstreamServer(gateway, () => `http:${transport.sessionId}`, approvals, handed.take);
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  }

  /** Host, Origin and bearer token checks, on headers read by name (lowercase). */
  function refusal(header: (name: string) => string | null | undefined): Refusal | undefined {
    const hostHeader = header('host') ?? '';
    // INVARIANT: a request with two Host headers is refused, whichever comes first: Node would keep the first, a
    // proxy in front may route by the last (test/mcp/transport-attacks.test.ts "two Host or two Authorization").
    if (hostHeader.includes(',')) return { status: 400, message: 'more than one `host` header' };
    // DNS rebinding: a loopback listener answers only loopback Host names and allowed browser origins.
    const host = hostHeader.replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.has(http.host) && !LOOPBACK_HOSTS.has(host)) {
      return { status: 403, message: `host \`${host}\` is not allowed` };
    }
    const origin = header('origin');
    if (origin != null && !http.allowedOrigins.includes(origin)) {
      return { status: 403, message: `origin \`${origin}\` is not allowed` };
    }
    if (token) {
      const given = /^Bearer (.+)$/.exec(header('authorization') ?? '')?.[1] ?? '';
      if (!timingSafeEqual(digest(given), token)) {
        return { status: 401, message: 'missing or wrong bearer token', headers: { 'www-authenticate': 'Bearer' } };
      }
    }
    return undefined;
  }

  // Sessions this process does not hold (opened before a restart, or closed by the idle sweep) whose Rule-of-Two
  // state is in the store: each request is served statelessly in that session, so legs carry over.
  const resumed = legacyStatelessFallback(
    (ctx) => createDownstreamServer(gateway, () => `http:${ctx.requestInfo?.headers.get('mcp-session-id')}`, approvals),
    (error) => log(`http: ${error.message}`),
    { maxRequestBodySize: maxMessageBytes },
  );

  /**
   * A 2025-era request naming a session id this process does not hold. Answering 404 would have the client
   * initialize again and start over in a fresh session with no legs, so an id whose session is in the store keeps
   * being served in it; an id the store does not know is refused, and a store failure refuses too.
   */
  async function resumeLegacy(request: Request, body: unknown, sessionId: string): Promise<Response> {
    let stored = false;
    try {
      stored = MINTED_ID.test(sessionId) && (await gateway.stores.sessions.get(`http:${sessionId}`)) !== undefined;
    } catch (error) {
      log(`http: session store failed: ${(error as Error).message}`);
      return jsonRpcError(503, -32000, 'session store unavailable; try again later');
    }
    // INVARIANT: a restart never resets a 2025-era session's legs (test/mcp/e2e.test.ts "a restart keeps enforcement").
    if (stored) return resumed(request, body === undefined ? {} : { parsedBody: body });
    return jsonRpcError(404, -32001, `unknown session \`${sessionId}\`; initialize again`);
  }

  async function fetch(request: Request, options: { parsedBody?: unknown } = {}): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== http.path) return jsonRpcError(404, -32601, `not found; the MCP endpoint is \`${http.path}\``);
    let body: unknown = options.parsedBody;
    if (request.method === 'POST' && !('parsedBody' in options)) {
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
        if (hit) {
          hit.lastSeen = Date.now();
          return hit.transport.handleRequest(request, { parsedBody: body });
        }
        return resumeLegacy(request, body, sessionId);
      }
      const initializing = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
      if (request.method === 'POST' && initializing) {
        if (legacy.size >= http.maxSessions)
          return jsonRpcError(503, -32000, 'too many open sessions; try again later');
        return openLegacy(request, body);
      }
      return jsonRpcError(400, -32600, 'a 2025-era request needs an `Mcp-Session-Id` from initialize');
    }
    if (http.requireSessionHeader && touchesSession(body) && !namesSession(request.headers.get(SESSION_HEADER))) {
      return jsonRpcError(400, -32600, `a 2026-07-28 call needs a \`${SESSION_HEADER}\` header naming its session`);
    }
    return modern.fetch(request, body === undefined ? {} : { parsedBody: body });
  }

  const handler = toNodeHandler(
    { fetch },
    { maxRequestBodySize: maxMessageBytes, onerror: (e) => log(`http: ${e.message}`) },
  );

  /** The fast path's view of a `tools/call` POST, or undefined when the SDK must see it (see fastpath.ts). */
  function fastCall(
    req: IncomingMessage,
    body: unknown,
  ): { call: FastToolCall; session: LegacySession | undefined } | undefined {
    const call = fastToolCall(body);
    if (!call) return undefined;
    const h = req.headers;
    const accept = h.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
    if (!isJsonContentType(h['content-type'] ?? '')) return undefined;
    if (call.modern) {
      const named = single(h[SESSION_HEADER]);
      if (http.requireSessionHeader && !namesSession(named)) return undefined;
      // The SEP-2243 headers must agree with the body; mirrored argument headers are checked by the SDK only.
      if (h['mcp-protocol-version'] !== MODERN_REVISION || h['mcp-method'] !== 'tools/call') return undefined;
      if (h['mcp-name'] !== call.name || Object.keys(h).some((k) => k.startsWith('mcp-param-'))) return undefined;
      return { call, session: undefined };
    }
    const id = h['mcp-session-id'];
    const session = typeof id === 'string' ? legacy.get(id) : undefined;
    if (!session?.server.getClientVersion()) return undefined;
    const version = h['mcp-protocol-version'];
    if (version !== undefined && version !== session.server.getNegotiatedProtocolVersion()) return undefined;
    return { call, session };
  }

  async function serveFast(
    req: IncomingMessage,
    res: ServerResponse,
    { call, session }: { call: FastToolCall; session: LegacySession | undefined },
    body: unknown,
  ): Promise<void> {
    const controller = new AbortController();
    // A client that goes away mid-call aborts it (creating the abort reason costs, so only then).
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const header = req.headers[SESSION_HEADER];
    const sessionId = session
      ? `http:${session.transport.sessionId}`
      : statelessSession(typeof header === 'string' ? header : undefined);
    if (session) session.lastSeen = Date.now();
    const outcome = await serveToolCall(gateway, call, {
      sessionId,
      approvals,
      connectionCaps: session?.server.getClientCapabilities(),
      signal: controller.signal,
    });
    if (outcome.kind === 'handoff') {
      // A 2025-era client that elicits: its session's SDK server sends the question (see HandedAsks).
      session?.handed.hand(call.id, call.name, outcome.request);
      return handler(req as NodeIncomingMessageLike, res, body);
    }
    if (res.destroyed) return;
    const extra: Record<string, string> = session?.transport.sessionId
      ? { 'mcp-session-id': session.transport.sessionId }
      : {};
    sendJson(res, 200, outcome.response, extra);
  }

  /**
   * Node entry: a request that fails the Host, Origin or token checks is refused at once; a POST to the endpoint is
   * read and parsed once, a plain `tools/call` takes the fast path, anything else goes to the SDK through `fetch`.
   */
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // INVARIANT: a request that fails the Host, Origin or token check is answered before any of its body is read, so
    // an unauthenticated client holds no buffer (test/mcp/transport-attacks.test.ts "before reading its body").
    const refused = refusal((name) => single(req.headers[name]));
    if (refused) {
      return sendJson(res, refused.status, rpcError(-32600, refused.message), {
        ...refused.headers,
        connection: 'close',
      });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== http.path) return handler(req as NodeIncomingMessageLike, res);
    const text = await readBody(req, maxMessageBytes);
    if (text === undefined) {
      return sendJson(res, 413, rpcError(-32600, `message larger than ${maxMessageBytes} bytes`), {
        connection: 'close',
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return sendJson(res, 400, rpcError(-32700, 'parse error: the body is not JSON'));
    }
    const fast = fastCall(req, body);
    if (fast) return serveFast(req, res, fast, body);
    return handler(req as NodeIncomingMessageLike, res, body);
  }

  // Repeated headers are joined rather than all but the first dropped, so a second Host or Authorization fails the
  // checks in `refusal` instead of passing unseen.
  const node: NodeServer = createServer({ joinDuplicateHeaders: true }, (req, res) => {
    serve(req, res).catch((error: Error) => {
      log(`http: ${error.message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(rpcError(-32603, 'internal error')));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      node.once('error', reject);
      node.listen(http.port, http.host, () => resolve());
    });
  } catch (error) {
    clearInterval(sweeper);
    unsubscribe();
    await modern.close();
    throw listenProblem(error as NodeJS.ErrnoException, http.host, http.port);
  }
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
