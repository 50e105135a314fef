import { Transform, type TransformCallback, type Writable } from 'node:stream';

/** A JSON-RPC error line for a message that could not be read (under its id when it has a valid one, else null). */
export function errorLine(code: number, message: string, id: string | number | null = null): string {
  return `${JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } })}\n`;
}

/**
 * Writes lines to `stream`, holding every write of one event-loop turn until the turn's I/O is done and then writing
 * them together (one writev): answers that complete together cost the reader one wake-up, not one each.
 */
export function turnWriter(stream: Writable): (line: string) => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  return (line) => {
    if (!stream.writable) return;
    if (!corked) {
      corked = true;
      stream.cork();
      setImmediate(uncork);
    }
    stream.write(line);
  };
}

/**
 * Screens newline-delimited JSON-RPC from a stdio client: a line that is not JSON, or longer than `maxBytes`, is
 * answered on `reply` with a JSON-RPC error and dropped, and the connection stays open. Each parsed message goes to
 * `hand` (the fast path for tools/call, else the SDK server), parsed once. The readable side carries no data; it ends
 * when the input does, which is what the SDK's transport listens for.
 */
export class LineScreen extends Transform {
  readonly #maxBytes: number;
  readonly #reply: (line: string) => void;
  readonly #hand: (message: unknown) => void;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false;

  constructor(maxBytes: number, reply: (line: string) => void, hand: (message: unknown) => void) {
    super();
    this.#maxBytes = maxBytes;
    this.#reply = reply;
    this.#hand = hand;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      this.#take(chunk.subarray(start, newline));
      this.#line();
      start = newline + 1;
    }
    this.#take(chunk.subarray(start));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#pendingBytes > 0 || this.#skipping) this.#line();
    done();
  }

  #take(part: Buffer): void {
    if (this.#skipping || part.length === 0) return;
    this.#pendingBytes += part.length;
    if (this.#pendingBytes > this.#maxBytes) {
      this.#skipping = true;
      this.#pending = [];
      return;
    }
    this.#pending.push(part);
  }

  #line(): void {
    if (this.#skipping) {
      this.#reply(errorLine(-32600, `message larger than ${this.#maxBytes} bytes`));
    } else if (this.#pendingBytes > 0) {
      const line = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
      const text = line.toString('utf8').trim();
      if (text !== '') {
        let message: unknown;
        try {
          message = JSON.parse(text);
        } catch {
          this.#reply(errorLine(-32700, 'parse error: the line is not JSON'));
        }
        if (message !== undefined) this.#hand(message);
      }
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#skipping = false;
  }
}
