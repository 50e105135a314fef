import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { STDIO_DEFAULT_MAX_BUFFER_SIZE } from '@modelcontextprotocol/client';

/** A whole HTTP response: status, headers by lowercase name (repeated ones joined with `, `), body. */
export interface Http1Response {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Where requests go: one origin, over TLS or not. */
export interface Http1Target {
  https: boolean;
  hostname: string;
  port: number;
}

/** The socket closed before the response was complete (or before it began): the exchange's outcome is unknown. */
export class ConnectionClosed extends Error {
  readonly code = 'ECONNRESET';
}

/** Response heads larger than this are refused (node:http's default limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Response bodies larger than this are refused: the same bound as a message from a stdio upstream. */
const MAX_BODY_BYTES = STDIO_DEFAULT_MAX_BUFFER_SIZE;
/** Idle sockets kept for reuse at most (node:http's agent keeps 256). */
const MAX_IDLE = 256;
/** How long an idle socket is reused when the server gave no `Keep-Alive: timeout` (Node's servers close at 5 s). */
const DEFAULT_IDLE_MS = 4000;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** One exchange in flight on a connection: how far its response is read, and where its outcome goes. */
interface Exchange {
  resolve: (response: Http1Response) => void;
  reject: (error: Error) => void;
  /** Bytes received and not yet consumed by the parser. */
  pending: Buffer;
  status: number;
  headers: Map<string, string>;
  /** Body bytes still expected: a count, `chunked`, or `close` (the body runs until the server closes). */
  framing: number | 'chunked' | 'close' | undefined;
  body: Buffer[];
  bodyBytes: number;
  reusable: boolean;
  idleMs: number;
}

/** A kept-alive socket and the exchange it serves; its listeners are added once, not per request. */
class Connection {
  readonly socket: Socket;
  exchange: Exchange | undefined;
  idleSince = 0;
  idleMs = DEFAULT_IDLE_MS;

  readonly pool: Http1Pool;

  constructor(target: Http1Target, pool: Http1Pool) {
    this.pool = pool;
    const options = { host: target.hostname, port: target.port };
    this.socket = target.https
      ? // SNI names a host, never an address (RFC 6066).
        tlsConnect({
          ...options,
          ...(isIP(target.hostname) ? {} : { servername: target.hostname }),
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect(options);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.socket.on('error', (error) => this.#fail(error));
    this.socket.on('close', () => this.#onClose());
  }

  #onData(chunk: Buffer): void {
    const exchange = this.exchange;
    // Bytes nobody asked for: the connection is out of step and cannot be trusted again.
    if (!exchange) return void this.socket.destroy();
    exchange.pending = exchange.pending.length === 0 ? chunk : Buffer.concat([exchange.pending, chunk]);
    try {
      if (parse(exchange)) this.#complete(exchange);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #complete(exchange: Exchange): void {
    this.exchange = undefined;
    const response = { status: exchange.status, headers: exchange.headers, body: Buffer.concat(exchange.body) };
    if (exchange.pending.length > 0 || !exchange.reusable) this.socket.destroy();
    else this.pool.release(this, exchange.idleMs);
    exchange.resolve(response);
  }

  #fail(error: Error): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.socket.destroy();
    exchange?.reject(error);
  }

  #onClose(): void {
    this.pool.forget(this);
    const exchange = this.exchange;
    if (!exchange) return;
    if (exchange.framing === 'close') this.#complete({ ...exchange, reusable: false });
    else this.#fail(new ConnectionClosed('socket hang up: the upstream closed the connection before it answered'));
  }
}

/**
 * A minimal HTTP/1.1 client for one origin: kept-alive sockets, one request at a time on each (no pipelining), each
 * request written in one piece, responses framed by `Content-Length`, chunked encoding or the connection's end. It
 * does a fraction of node:http's per-request work (no ClientRequest, IncomingMessage or agent bookkeeping), which
 * is most of the gateway's CPU per call to an HTTP upstream (bench/gateway.ts).
 */
export class Http1Pool {
  readonly #target: Http1Target;
  readonly #idle: Connection[] = [];
  #closed = false;

  constructor(target: Http1Target) {
    this.#target = target;
  }

  /**
   * Sends `head` (the request line and headers, each line ending in CRLF, without the blank line) and `body`;
   * resolves with the whole response. Rejects on a socket error, a malformed response, `timeout` ms passing or
   * `signal` aborting; the socket is then destroyed, so the server sees the request go away.
   */
  request(head: string, body: string, options: { timeout: number; signal?: AbortSignal }): Promise<Http1Response> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.#closed) return Promise.reject(new Error('the upstream connection pool is closed'));
    const connection = this.#take();
    return new Promise<Http1Response>((resolve, reject) => {
      const onAbort = () => connection.socket.destroy(signal?.reason as Error);
      const timer = setTimeout(
        () => connection.socket.destroy(new Error(`request timed out after ${options.timeout} ms`)),
        options.timeout,
      );
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      connection.exchange = {
        resolve: (response) => {
          settle();
          resolve(response);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        pending: EMPTY,
        status: 0,
        headers: new Map(),
        framing: undefined,
        body: [],
        bodyBytes: 0,
        reusable: true,
        idleMs: DEFAULT_IDLE_MS,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      connection.socket.write(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  /** A kept-alive socket that is still fresh enough to reuse, else a new one. */
  #take(): Connection {
    const now = Date.now();
    for (let connection = this.#idle.pop(); connection; connection = this.#idle.pop()) {
      // A server closes idle sockets at its keep-alive timeout; one about to close could lose the request.
      if (now - connection.idleSince < connection.idleMs && connection.socket.writable) {
        connection.socket.ref();
        return connection;
      }
      connection.socket.destroy();
    }
    return new Connection(this.#target, this);
  }

  /** Takes back a connection whose exchange completed. */
  release(connection: Connection, idleMs: number): void {
    if (this.#closed || this.#idle.length >= MAX_IDLE) return void connection.socket.destroy();
    connection.idleSince = Date.now();
    connection.idleMs = idleMs;
    connection.socket.unref();
    this.#idle.push(connection);
  }

  /** Drops a closed connection from the idle list. */
  forget(connection: Connection): void {
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
  }

  /** Closes the idle sockets and refuses further requests; a socket in use is closed when its exchange ends. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) connection.socket.destroy();
  }
}

const EMPTY = Buffer.alloc(0);

/** Advances the parse of `exchange` over its pending bytes; true when the response is complete. */
function parse(exchange: Exchange): boolean {
  while (exchange.framing === undefined) {
    const end = exchange.pending.indexOf(HEAD_END);
    if (end < 0) {
      if (exchange.pending.length > MAX_HEAD_BYTES) throw new Error('the upstream sent an oversized response head');
      return false;
    }
    readHead(exchange, exchange.pending.toString('latin1', 0, end));
    exchange.pending = exchange.pending.subarray(end + 4);
  }
  if (exchange.framing === 'close') {
    take(exchange, exchange.pending.length);
    return false;
  }
  if (typeof exchange.framing === 'number') {
    const n = Math.min(exchange.framing, exchange.pending.length);
    take(exchange, n);
    exchange.framing -= n;
    return exchange.framing === 0;
  }
  return readChunks(exchange);
}

/** Moves `n` pending bytes to the body. */
function take(exchange: Exchange, n: number): void {
  if (n === 0) return;
  addBody(exchange, exchange.pending.subarray(0, n));
  exchange.pending = exchange.pending.subarray(n);
}

/** Adds bytes to the body, refusing a body past {@link MAX_BODY_BYTES} (an upstream cannot exhaust memory). */
function addBody(exchange: Exchange, piece: Buffer): void {
  exchange.bodyBytes += piece.length;
  if (exchange.bodyBytes > MAX_BODY_BYTES) {
    throw new Error(`the upstream sent a response body larger than ${MAX_BODY_BYTES} bytes`);
  }
  exchange.body.push(piece);
}

/** Reads a status line and headers; an interim (1xx) head is skipped and the parse waits for the final one. */
function readHead(exchange: Exchange, head: string): void {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!status) throw new Error(`the upstream sent a malformed status line \`${(lines[0] ?? '').slice(0, 80)}\``);
  const code = Number(status[2]);
  if (code >= 100 && code < 200) {
    if (code === 101) throw new Error('the upstream switched protocols');
    return;
  }
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`the upstream sent a malformed header line \`${line.slice(0, 80)}\``);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  }
  exchange.status = code;
  exchange.headers = headers;
  const connection = headers.get('connection')?.toLowerCase() ?? '';
  exchange.reusable = status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
  const hinted = /timeout=(\d+)/.exec(headers.get('keep-alive') ?? '');
  if (hinted) exchange.idleMs = Math.max(0, Number(hinted[1]) * 1000 - 1000);
  const encoding = headers.get('transfer-encoding');
  const length = headers.get('content-length');
  if (encoding !== undefined) {
    // RFC 9112 §6.3: chunked must be the final coding; with a Content-Length too, the message is suspect.
    if (!/(?:^|,)\s*chunked\s*$/i.test(encoding) || length !== undefined) {
      throw new Error(`the upstream sent an unsupported transfer encoding \`${encoding}\``);
    }
    exchange.framing = 'chunked';
  } else if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) throw new Error(`the upstream sent an invalid content length \`${length}\``);
    exchange.framing = Number(length);
  } else if (code === 204 || code === 304) {
    exchange.framing = 0;
  } else {
    exchange.framing = 'close';
    exchange.reusable = false;
  }
}

/** Reads complete chunks (size line, data, CRLF) and, after the last one, the trailers; true when done. */
function readChunks(exchange: Exchange): boolean {
  for (;;) {
    const { pending } = exchange;
    const eol = pending.indexOf(CRLF);
    if (eol < 0) {
      if (pending.length > MAX_HEAD_BYTES) throw new Error('the upstream sent an oversized chunk header');
      return false;
    }
    const sizeText = pending.toString('latin1', 0, eol).split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText))
      throw new Error(`the upstream sent an invalid chunk size \`${sizeText}\``);
    const size = Number.parseInt(sizeText, 16);
    // INVARIANT: a chunk is refused at its size line when it would pass the body bound, so its data is never
    // buffered (test/mcp/transport-attacks.test.ts "refused at its size line").
    if (exchange.bodyBytes + size > MAX_BODY_BYTES) {
      throw new Error(`the upstream sent a response body larger than ${MAX_BODY_BYTES} bytes`);
    }
    if (size === 0) {
      // Trailers, if any, end with an empty line; they carry nothing the gateway uses.
      if (pending.length < eol + 4) return false;
      const end = pending[eol + 2] === 13 && pending[eol + 3] === 10 ? eol : pending.indexOf(HEAD_END, eol + 2);
      if (end < 0) {
        if (pending.length > MAX_HEAD_BYTES) throw new Error('the upstream sent oversized trailers');
        return false;
      }
      exchange.pending = pending.subarray(end + 4);
      return true;
    }
    const start = eol + 2;
    if (pending.length < start + size + 2) return false;
    if (pending[start + size] !== 13 || pending[start + size + 1] !== 10) {
      throw new Error('the upstream sent a chunk without its closing CRLF');
    }
    addBody(exchange, pending.subarray(start, start + size));
    exchange.pending = pending.subarray(start + size + 2);
  }
}
