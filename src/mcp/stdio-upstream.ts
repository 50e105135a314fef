import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import {
  type CallToolResult,
  type JSONRPCMessage,
  parseJSONRPCMessage,
  STDIO_DEFAULT_MAX_BUFFER_SIZE,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import spawn from 'cross-spawn';
import { toolResult } from './http-call.ts';
import { turnWriter } from './lines.ts';

/** How to start a stdio upstream: the program, its arguments and its whole environment. */
export interface StdioUpstreamParams {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

/** A tools/call sent by {@link StdioUpstreamTransport.callTool}, waiting for its answer. */
interface PendingCall {
  resolve: (result: CallToolResult) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A spawn failure in words. Node says `spawn npx ENOENT` both when the command is missing and when the working
 * directory is, so a missing `cwd` would be reported as a missing command.
 */
function spawnProblem(error: NodeJS.ErrnoException, command: string, cwd: string | undefined): Error {
  if (error.code !== 'ENOENT') return error;
  if (cwd !== undefined && !existsSync(cwd)) return new Error(`its working directory \`${cwd}\` does not exist`);
  return new Error(`command \`${command}\` not found on its PATH`);
}

/** Closing: how long to wait for the server to exit after its stdin ends, and again after SIGTERM. */
const EXIT_GRACE_MS = 2000;

/**
 * The client side of a stdio upstream, for the SDK client on top of it: spawns the server as the SDK does
 * (cross-spawn, shell off, the given environment only) and speaks newline-delimited JSON-RPC with it like the SDK's
 * StdioClientTransport, validating every message it hands the SDK. Plain tool calls go through
 * {@link StdioUpstreamTransport.callTool} instead, which skips the SDK's request machinery and schema pass for its own
 * answers, and writes are batched per event-loop turn (bench/gateway.ts counts the CPU this saves per call).
 */
export class StdioUpstreamTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** The server's stderr. */
  readonly stderr = new PassThrough();
  readonly #params: StdioUpstreamParams;
  #process: ChildProcess | undefined;
  #write: (line: string) => void = () => {};
  readonly #pending = new Map<string, PendingCall>();
  #nextId = 0;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #exit: string | undefined;

  constructor(params: StdioUpstreamParams) {
    this.#params = params;
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** How the server's process ended (`status 3`, `signal SIGKILL`), once it has. */
  get exit(): string | undefined {
    return this.#exit;
  }

  start(): Promise<void> {
    if (this.#process) throw new Error('the stdio upstream transport is already started');
    const { command, args, env, cwd } = this.#params;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        windowsHide: process.platform === 'win32',
        ...(cwd === undefined ? {} : { cwd }),
      });
      const { stdin, stdout, stderr } = child;
      // Piped, so present; the check is for the types.
      if (!stdin || !stdout || !stderr) throw new Error('the stdio upstream has no pipes');
      this.#process = child;
      this.#write = turnWriter(stdin);
      child.on('error', (error) => {
        const failed = spawnProblem(error, command, cwd);
        reject(failed);
        this.onerror?.(failed);
      });
      child.on('spawn', () => resolve());
      child.on('close', (code, signal) => {
        // A process that never started has no status of its own (Node passes the spawn errno).
        if (child.pid !== undefined) this.#exit = signal === null ? `status ${code}` : `signal ${signal}`;
        this.#process = undefined;
        this.#failPending(new Error('the upstream connection closed'));
        this.onclose?.();
      });
      stdin.on('error', (error) => this.onerror?.(error));
      stdout.on('data', (chunk: Buffer) => this.#read(chunk));
      stdout.on('error', (error) => this.onerror?.(error));
      stderr.pipe(this.stderr);
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (!this.#process) return Promise.reject(new Error('the stdio upstream is not connected'));
    this.#write(serializeMessage(message));
    return Promise.resolve();
  }

  /**
   * Calls a tool with a request id of the gateway's own (the SDK numbers its requests), bounded by `timeout`; a
   * timeout or abort tells the server with notifications/cancelled. Rejects on a JSON-RPC error or a malformed answer.
   */
  callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    options: { timeout: number; signal?: AbortSignal },
  ): Promise<CallToolResult> {
    return new Promise((resolve, reject) => {
      if (!this.#process) return reject(new Error('the stdio upstream is not connected'));
      const { signal, timeout } = options;
      if (signal?.aborted) return reject(signal.reason as Error);
      const id = `ruleoftwo-${++this.#nextId}`;
      const cancel = (error: Error) => {
        const pending = this.#settle(id);
        if (!pending) return;
        pending.reject(error);
        this.#write(serializeMessage({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id } }));
      };
      const onAbort = () => cancel(signal?.reason as Error);
      const timer = setTimeout(() => cancel(new Error(`request timed out after ${timeout} ms`)), timeout);
      this.#pending.set(id, { resolve, reject, timer, signal, onAbort });
      signal?.addEventListener('abort', onAbort, { once: true });
      const params = args === undefined ? { name } : { name, arguments: args };
      this.#write(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params })}\n`);
    });
  }

  /** Ends the server's stdin, then escalates to SIGTERM and SIGKILL if it does not exit (as the SDK's transport). */
  async close(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#process = undefined;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    const wait = () =>
      Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, EXIT_GRACE_MS).unref())]);
    child.stdin?.end();
    await wait();
    if (!exited()) {
      child.kill('SIGTERM');
      await wait();
    }
    if (!exited()) child.kill('SIGKILL');
  }

  #settle(id: string): PendingCall | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.signal?.removeEventListener('abort', pending.onAbort);
    return pending;
  }

  #failPending(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
  }

  #read(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.#partialBytes === 0) {
        this.#line(piece);
        continue;
      }
      this.#partial.push(piece);
      const line = Buffer.concat(this.#partial);
      this.#partial = [];
      this.#partialBytes = 0;
      this.#line(line);
    }
    if (start === chunk.length) return;
    this.#partial.push(chunk.subarray(start));
    this.#partialBytes += chunk.length - start;
    if (this.#partialBytes > STDIO_DEFAULT_MAX_BUFFER_SIZE) {
      this.#partial = [];
      this.#partialBytes = 0;
      this.onerror?.(new Error(`the upstream sent a message larger than ${STDIO_DEFAULT_MAX_BUFFER_SIZE} bytes`));
      void this.close().catch(() => {});
    }
  }

  #line(line: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(line.toString('utf8'));
    } catch {
      // As the SDK's transport: a line that is not JSON (a stray log line, say) is skipped.
      return;
    }
    const id = (message as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && this.#pending.has(id) && (message as { method?: unknown }).method === undefined) {
      const pending = this.#settle(id);
      try {
        pending?.resolve(toolResult(message as Record<string, unknown>));
      } catch (error) {
        pending?.reject(error as Error);
      }
      return;
    }
    try {
      this.onmessage?.(parseJSONRPCMessage(message));
    } catch (error) {
      this.onerror?.(error as Error);
    }
  }
}
