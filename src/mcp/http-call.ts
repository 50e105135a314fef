import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/client';

/** The upstream no longer knows the session (HTTP 404) or cannot be reached: its connection must be made again. */
export class ConnectionLost extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Socket errors that mean the upstream is not there (as opposed to a call that failed). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/** What a tools/call POST needs from the SDK client's connection: its era, version and session. */
export interface HttpConnection {
  modern: boolean;
  protocolVersion: string;
  sessionId: string | undefined;
  clientInfo: { name: string; version: string };
}

/**
 * Calls tools on a Streamable HTTP upstream with one POST on a kept-alive connection, after the SDK client has
 * connected (and negotiated the era and session this reuses). The SDK's fetch-based request path costs about four
 * times the CPU of a plain `node:http` request per call (bench/gateway.ts); everything else stays on the SDK client.
 */
export class HttpToolCaller {
  readonly #headers: Record<string, string>;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;
  /** Where requests go, as `node:http` options: built once rather than from a URL on every call. */
  readonly #target: { protocol: string; hostname: string; port: string; path: string };
  #nextId = 0;

  constructor(url: URL, headers: Record<string, string>) {
    this.#headers = { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const https = url.protocol === 'https:';
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#request = https ? httpsRequest : httpRequest;
    this.#target = {
      protocol: url.protocol,
      // `[::1]` names a host in a URL; node:http wants it bare.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port,
      path: `${url.pathname}${url.search}`,
    };
  }

  /** Sends one tools/call; rejects on an HTTP error, a JSON-RPC error, a timeout, an abort or a malformed answer. */
  call(
    connection: HttpConnection,
    name: string,
    args: Record<string, unknown> | undefined,
    options: { timeout: number; signal?: AbortSignal },
  ): Promise<CallToolResult> {
    const id = `ruleoftwo-${++this.#nextId}`;
    const params: Record<string, unknown> = args === undefined ? { name } : { name, arguments: args };
    const headers: Record<string, string> = { ...this.#headers, 'mcp-protocol-version': connection.protocolVersion };
    if (connection.sessionId !== undefined) headers['mcp-session-id'] = connection.sessionId;
    if (connection.modern) {
      headers['mcp-method'] = 'tools/call';
      headers['mcp-name'] = name;
      params._meta = {
        [PROTOCOL_VERSION_META_KEY]: connection.protocolVersion,
        [CLIENT_CAPABILITIES_META_KEY]: {},
        [CLIENT_INFO_META_KEY]: connection.clientInfo,
      };
    }
    const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params });
    headers['content-length'] = String(Buffer.byteLength(body));
    const { signal } = options;
    return new Promise<CallToolResult>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      // One plain listener, removed when the call settles: node:http's `signal` option costs several per request.
      const onAbort = () => req.destroy(signal?.reason as Error);
      const settle = (outcome: () => CallToolResult) => {
        signal?.removeEventListener('abort', onAbort);
        try {
          resolve(outcome());
        } catch (error) {
          reject(error);
        }
      };
      const req = this.#request(
        { ...this.#target, method: 'POST', headers, agent: this.#agent, timeout: options.timeout },
        (res) => {
          readAll(res, (text) => settle(() => toolResult(answerOf(res, text, id))));
          res.once('error', (error) =>
            settle(() => {
              throw error;
            }),
          );
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('timeout', () => req.destroy(new Error(`request timed out after ${options.timeout} ms`)));
      req.once('error', (error: NodeJS.ErrnoException) => {
        settle(() => {
          throw UNREACHABLE.has(error.code ?? '') ? new ConnectionLost(error.message, { cause: error }) : error;
        });
      });
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Reads a whole response body; listeners rather than an async iterator, which costs more per call. */
function readAll(res: IncomingMessage, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.once('end', () =>
    done(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')),
  );
}

/** The JSON-RPC answer to request `id` in a JSON body or an SSE stream (whose other events are notifications). */
function answerIn(res: IncomingMessage, text: string, id: string): Record<string, unknown> | undefined {
  const type = res.headers['content-type'] ?? '';
  if (type.startsWith('application/json')) return JSON.parse(text) as Record<string, unknown>;
  if (!type.startsWith('text/event-stream')) return undefined;
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data === '') continue;
    const message = JSON.parse(data) as Record<string, unknown>;
    if (message.id === id) return message;
  }
  return undefined;
}

function answerOf(res: IncomingMessage, text: string, id: string): Record<string, unknown> {
  if (res.statusCode === 404) throw new ConnectionLost(`HTTP 404: ${text.slice(0, 200)}`);
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  const answer = answerIn(res, text, id);
  if (answer === undefined || answer.id !== id) throw new Error('no JSON-RPC answer to the call');
  return answer;
}

/** The tool result in a JSON-RPC answer to a tools/call; throws its JSON-RPC error, or on a malformed result. */
export function toolResult(answer: Record<string, unknown>): CallToolResult {
  const error = answer.error as { code?: unknown; message?: unknown } | undefined;
  if (error !== undefined) throw new Error(`MCP error ${String(error.code)}: ${String(error.message)}`);
  const result = answer.result;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new Error('a tool result must be an object');
  }
  const { resultType, ...rest } = result as Record<string, unknown>;
  // The gateway declares no client capabilities upstream: an upstream that asks for input gets no answer.
  if (resultType !== undefined && resultType !== 'complete') {
    throw new Error(
      `the upstream answered with result type \`${String(resultType)}\`, which the gateway does not serve`,
    );
  }
  return rest as CallToolResult;
}
