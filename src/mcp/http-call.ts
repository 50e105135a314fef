import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/client';
import { Http1Pool, type Http1Response } from './http1.ts';

/** The upstream no longer knows the session (HTTP 404) or cannot be reached: its connection must be made again. */
export class ConnectionLost extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Socket errors that mean the upstream is not there (as opposed to a call that failed). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/** A header name (an RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value with no control characters (no CR or LF to smuggle a header or a request in). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A value sent as is in a header on every call: visible ASCII, as tool names (SEP-986) and protocol versions are. */
const PLAIN_VALUE = /^[\x21-\x7e]+$/;
/** Headers the caller writes itself; a configured one of these names would contradict them. */
const OWN_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'content-type',
  'accept',
  'mcp-protocol-version',
  'mcp-session-id',
  'mcp-method',
  'mcp-name',
]);

/** Whether a tool name can go in the `Mcp-Name` header as is (else the SDK, which encodes it, calls the tool). */
export function plainHeaderValue(value: string): boolean {
  return PLAIN_VALUE.test(value);
}

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
 * times the CPU of a plain `node:http` request per call, and node:http about 1.5 times that of {@link Http1Pool}
 * (bench/gateway.ts); everything else stays on the SDK client.
 */
export class HttpToolCaller {
  readonly #pool: Http1Pool;
  /** The request line and the headers every call sends, written once. */
  readonly #head: string;
  /** Why no call can be sent (a configured header that is not a valid header), if so. */
  readonly #invalid: Error | undefined;
  #nextId = 0;

  constructor(url: URL, headers: Record<string, string>) {
    const https = url.protocol === 'https:';
    this.#pool = new Http1Pool({
      https,
      // `[::1]` names a host in a URL; a socket wants it bare.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || (https ? 443 : 80)),
    });
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\n`;
    const named = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
    if (!named.has('host')) head += `host: ${url.host}\r\n`;
    for (const [name, value] of named) {
      if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) {
        this.#invalid ??= new Error(`invalid header \`${name}\` for the upstream`);
      } else if (!OWN_HEADERS.has(name)) head += `${name}: ${value}\r\n`;
    }
    this.#head = `${head}content-type: application/json\r\naccept: application/json, text/event-stream\r\n`;
  }

  /** Sends one tools/call; rejects on an HTTP error, a JSON-RPC error, a timeout, an abort or a malformed answer. */
  async call(
    connection: HttpConnection,
    name: string,
    args: Record<string, unknown> | undefined,
    options: { timeout: number; signal?: AbortSignal },
  ): Promise<CallToolResult> {
    if (this.#invalid) throw this.#invalid;
    const { protocolVersion, sessionId } = connection;
    if (!PLAIN_VALUE.test(protocolVersion) || !(sessionId === undefined || PLAIN_VALUE.test(sessionId))) {
      throw new Error('the upstream negotiated a protocol version or session id that cannot be sent in a header');
    }
    const id = `ruleoftwo-${++this.#nextId}`;
    const params: Record<string, unknown> = args === undefined ? { name } : { name, arguments: args };
    let head = `${this.#head}mcp-protocol-version: ${protocolVersion}\r\n`;
    if (sessionId !== undefined) head += `mcp-session-id: ${sessionId}\r\n`;
    if (connection.modern) {
      if (!PLAIN_VALUE.test(name)) throw new Error(`tool name \`${name}\` cannot be sent in the \`Mcp-Name\` header`);
      head += `mcp-method: tools/call\r\nmcp-name: ${name}\r\n`;
      params._meta = {
        [PROTOCOL_VERSION_META_KEY]: protocolVersion,
        [CLIENT_CAPABILITIES_META_KEY]: {},
        [CLIENT_INFO_META_KEY]: connection.clientInfo,
      };
    }
    const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params });
    let response: Http1Response;
    try {
      response = await this.#pool.request(head, body, options);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      throw UNREACHABLE.has(code) ? new ConnectionLost((error as Error).message, { cause: error }) : error;
    }
    return toolResult(answerOf(response, id));
  }

  close(): void {
    this.#pool.close();
  }
}

/** The JSON-RPC answer to request `id` in a JSON body or an SSE stream (whose other events are notifications). */
function answerIn(response: Http1Response, text: string, id: string): Record<string, unknown> | undefined {
  const type = response.headers.get('content-type') ?? '';
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

function answerOf(response: Http1Response, id: string): Record<string, unknown> {
  const text = response.body.toString('utf8');
  if (response.status === 404) throw new ConnectionLost(`HTTP 404: ${text.slice(0, 200)}`);
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  const answer = answerIn(response, text, id);
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
