import {
  type CallToolResult,
  Client,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType,
  type StandardSchemaV1,
  StreamableHTTPClientTransport,
  type Tool,
} from '@modelcontextprotocol/client';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { messageWithCauses } from '../errors.ts';
import { isRecord } from '../is-record.ts';
import type { UpstreamConfig } from './config.ts';
import { ConnectionLost, HttpToolCaller, plainHeaderValue } from './http-call.ts';
import { StdioUpstreamTransport } from './stdio-upstream.ts';

/** What an upstream offers right now. */
export interface UpstreamOffer {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplateType[];
  prompts: Prompt[];
  instructions: string | undefined;
}

/** Reports what happens to upstreams (spawns, crashes, list changes), for the operator's log. */
export type GatewayLog = (message: string) => void;

/** Accepts any object as a tool result, without a schema pass over a possibly large output. */
const OPAQUE_RESULT: StandardSchemaV1<unknown, CallToolResult> = {
  '~standard': {
    version: 1,
    vendor: 'ruleoftwo',
    validate: (value) =>
      isRecord(value)
        ? { value: value as CallToolResult }
        : { issues: [{ message: 'a tool result must be an object' }] },
  },
};

const CLIENT_INFO = { name: 'ruleoftwo-gateway', version: '0.1.0' };
const CONNECT_TIMEOUT_MS = 30_000;

/**
 * One upstream MCP server: a single client connection shared by every downstream session. It declares no client
 * capabilities upstream, so an upstream cannot push elicitation or sampling that would bypass the gateway.
 */
export class Upstream {
  readonly config: UpstreamConfig;
  offer: UpstreamOffer = { tools: [], resources: [], resourceTemplates: [], prompts: [], instructions: undefined };
  /** Called after the offer changed (list-changed notification, reconnect). */
  onChange: () => void = () => {};
  readonly #log: GatewayLog;
  #client: Client | undefined;
  #httpTransport: StreamableHTTPClientTransport | undefined;
  #stdioTransport: StdioUpstreamTransport | undefined;
  readonly #httpCaller: HttpToolCaller | undefined;
  #connecting: Promise<Client> | undefined;
  /** {@link Upstream.#mirrored} of the offer it was computed for. */
  #mirroredOf: { offer: UpstreamOffer | undefined; names: Set<string> } = { offer: undefined, names: new Set() };
  #closed = false;
  #connections = 0;

  constructor(config: UpstreamConfig, log: GatewayLog) {
    this.config = config;
    this.#log = log;
    const t = config.transport;
    if (t.kind === 'http') this.#httpCaller = new HttpToolCaller(new URL(t.url), t.headers);
  }

  get name(): string {
    return this.config.name;
  }

  /**
   * Whether a connection is open and what it offers is listed and checked (a request need not wait for
   * {@link Upstream.connect}).
   */
  get connected(): boolean {
    // INVARIANT: while a new connection is being listed, requests wait for the listing and the pin check that follows
    // it; they never reach definitions nobody checked (test/mcp/attacks.test.ts "still being listed").
    return this.#client !== undefined && this.#connecting === undefined;
  }

  /** Connects (once at a time) and lists what the upstream offers. */
  async connect(): Promise<Client> {
    if (this.connected && this.#client) return this.#client;
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<Client> {
    if (this.#closed) throw new Error(`upstream \`${this.name}\` is closed`);
    const client = new Client(CLIENT_INFO, {
      capabilities: {},
      // Over HTTP a `server/discover` probe finds 2026-07-28 servers (one request); over stdio the SDK would spawn a
      // second process to probe, and every stdio server on npm speaks 2025-11-25, so stdio stays on initialize.
      ...(this.config.transport.kind === 'http' ? { versionNegotiation: { mode: 'auto' as const } } : {}),
      listChanged: {
        tools: { onChanged: () => void this.#relist('tools list changed') },
        resources: { onChanged: () => void this.#relist('resources list changed') },
        prompts: { onChanged: () => void this.#relist('prompts list changed') },
      },
    });
    const transport = this.#transport();
    client.onclose = () => {
      // A client that never connected did not disconnect: its failure to start is reported once, below.
      if (this.#client !== client) return;
      this.#client = undefined;
      if (!this.#closed) this.#log(`upstream \`${this.name}\` disconnected; it reconnects on the next request`);
    };
    try {
      // Starting a process can take longer than a tool call may: the bound is the larger of the two.
      await withTimeout(client.connect(transport), Math.max(this.config.timeoutMs, CONNECT_TIMEOUT_MS), 'connecting');
    } catch (error) {
      await client.close().catch(() => {});
      const exit = transport instanceof StdioUpstreamTransport ? transport.exit : undefined;
      const exited = exit === undefined ? '' : ` (the server exited with ${exit})`;
      throw new Error(`upstream \`${this.name}\` did not start: ${messageWithCauses(error)}${exited}`);
    }
    this.#client = client;
    try {
      this.offer = await this.#list(client);
    } catch (error) {
      this.#client = undefined;
      await client.close().catch(() => {});
      throw error;
    }
    // A restarted server may offer other definitions: the gateway re-checks them against the pins.
    if (this.#connections++ > 0) this.onChange();
    return client;
  }

  #transport(): StdioUpstreamTransport | StreamableHTTPClientTransport {
    const t = this.config.transport;
    if (t.kind === 'http') {
      this.#httpTransport = new StreamableHTTPClientTransport(new URL(t.url), { requestInit: { headers: t.headers } });
      return this.#httpTransport;
    }
    // An explicit environment: the SDK's short safe list (PATH, HOME, ...) plus what the config names, never the
    // gateway's own secrets.
    const transport = new StdioUpstreamTransport({
      command: t.command,
      args: t.args,
      env: { ...getDefaultEnvironment(), ...t.env },
      ...(t.cwd === undefined ? {} : { cwd: t.cwd }),
    });
    this.#stdioTransport = transport;
    transport.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.#log(`[${this.name}] ${line}`);
    });
    this.#log(`spawning upstream \`${this.name}\`: ${t.command} ${t.args.join(' ')}`);
    return transport;
  }

  async #list(client: Client): Promise<UpstreamOffer> {
    const caps = client.getServerCapabilities() ?? {};
    const options = { timeout: Math.max(this.config.timeoutMs, CONNECT_TIMEOUT_MS) };
    const [tools, resources, resourceTemplates, prompts] = await Promise.all([
      caps.tools ? client.listTools(undefined, options).then((r) => r.tools) : [],
      caps.resources ? client.listResources(undefined, options).then((r) => r.resources) : [],
      // Templates are optional for a server with resources: one that does not answer simply offers none.
      caps.resources
        ? client
            .listResourceTemplates(undefined, options)
            .then((r) => r.resourceTemplates)
            .catch(() => [])
        : [],
      caps.prompts ? client.listPrompts(undefined, options).then((r) => r.prompts) : [],
    ]);
    return { tools, resources, resourceTemplates, prompts, instructions: client.getInstructions() };
  }

  async #relist(why: string): Promise<void> {
    const client = this.#client;
    if (!client) return;
    try {
      this.offer = await this.#list(client);
      this.#log(`upstream \`${this.name}\`: ${why}; ${this.offer.tools.length} tool(s)`);
      this.onChange();
    } catch (error) {
      this.#log(`upstream \`${this.name}\`: relisting failed: ${messageWithCauses(error)}`);
    }
  }

  /** Runs one request on the connection (connecting first), bounded by the upstream's timeout. */
  async #request<T>(
    send: (client: Client, options: { timeout: number; signal?: AbortSignal }) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const client = (this.connected && this.#client) || (await this.connect());
    return send(client, signal ? { timeout: this.config.timeoutMs, signal } : { timeout: this.config.timeoutMs });
  }

  /**
   * Calls a tool by its upstream name. The result is checked to be an object, not validated against the SDK's
   * schemas: the gateway records it as opaque output, and the downstream client validates what it receives.
   */
  callTool(name: string, args: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<CallToolResult> {
    const params = args === undefined ? { name } : { name, arguments: args };
    return this.#request((client, options) => {
      const modern = client.getProtocolEra() === 'modern';
      // A tool that declares arguments mirrored into HTTP headers (x-mcp-header), or whose name the `Mcp-Name` header
      // must carry encoded, goes through the SDK, which does both.
      const mirrored = modern && (this.#mirrored().has(name) || !plainHeaderValue(name));
      const version = client.getNegotiatedProtocolVersion();
      // Over stdio a 2025-era call skips the SDK's request path (stdio-upstream.ts); it is the same JSON-RPC request.
      if (this.#stdioTransport && !modern && version !== undefined) {
        return this.#stdioTransport.callTool(name, args, options);
      }
      if (this.#httpCaller && !mirrored && version !== undefined) {
        const connection = {
          modern,
          protocolVersion: version,
          sessionId: this.#httpTransport?.sessionId,
          clientInfo: CLIENT_INFO,
        };
        return this.#httpCaller.call(connection, name, args, options).catch((error: unknown) => {
          // The upstream lost the session or went away (restarted, say): drop the connection, so the next request
          // connects again and the definitions it then offers are checked against the pins before any call.
          if (error instanceof ConnectionLost && this.#client === client) {
            this.#log(`upstream \`${this.name}\`: ${error.message}; it reconnects on the next request`);
            void client.close().catch(() => {});
          }
          throw error;
        });
      }
      if (modern) return client.callTool(params, options);
      return client.request({ method: 'tools/call', params }, OPAQUE_RESULT, options);
    }, signal);
  }

  /** Tools of the current offer whose input schema mirrors arguments into headers (x-mcp-header). */
  #mirrored(): Set<string> {
    if (this.#mirroredOf.offer !== this.offer) {
      const names = this.offer.tools
        .filter((t) => JSON.stringify(t.inputSchema ?? {}).includes('x-mcp-header'))
        .map((t) => t.name);
      this.#mirroredOf = { offer: this.offer, names: new Set(names) };
    }
    return this.#mirroredOf.names;
  }

  /** Reads a resource. */
  readResource(uri: string, signal?: AbortSignal): Promise<ReadResourceResult> {
    return this.#request((client, options) => client.readResource({ uri }, options), signal);
  }

  /** Gets a prompt. */
  getPrompt(name: string, args: Record<string, string> | undefined, signal?: AbortSignal): Promise<GetPromptResult> {
    const params = args === undefined ? { name } : { name, arguments: args };
    return this.#request((client, options) => client.getPrompt(params, options), signal);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    this.#httpCaller?.close();
    await client?.close().catch(() => {});
  }
}

/** Rejects when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
