import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { stringify } from 'yaml';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** The Node that runs the tests (24, with type stripping), used to spawn TypeScript entry points. */
export const NODE = process.execPath;
/** The CLI entry point. */
export const CLI = join(ROOT, 'src/cli/main.ts');

/** Path of an npm MCP server's entry point. */
export function npmServer(name: 'server-filesystem' | 'server-everything' | 'server-memory'): string {
  return join(ROOT, 'node_modules/@modelcontextprotocol', name, 'dist/index.js');
}

/** Upstream config for a fixture server in test/mcp/fixtures, spawned with the Node that runs the tests. */
export function fixtureServer(name: 'flaky-server' | 'counter-server', env?: Record<string, string>) {
  return { command: NODE, args: [join(ROOT, 'test/mcp/fixtures', `${name}.ts`)], ...(env ? { env } : {}) };
}

/** A running test/mcp/fixtures/flaky-server.ts over Streamable HTTP: its process, URL and stderr lines so far. */
export interface FlakyHttpServer {
  process: ChildProcess;
  url: string;
  log: string[];
}

/** Starts test/mcp/fixtures/flaky-server.ts over `http` or `https` and waits for the URL it prints. */
export async function startFlakyHttp(mode: 'http' | 'https'): Promise<FlakyHttpServer> {
  const child = spawn(NODE, [join(ROOT, 'test/mcp/fixtures/flaky-server.ts'), mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => log.push(...chunk.toString().split('\n').filter(Boolean)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`flaky-server exited with ${code}`)));
  });
  return { process: child, url, log };
}

/** A fresh temporary folder and its removal. */
export async function tempDir(prefix = 'r2-mcp-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a gateway config as YAML and returns its path. */
export async function writeConfig(dir: string, config: unknown, name = 'gateway.yaml'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, stringify(config), 'utf8');
  return file;
}

/**
 * A gateway config for transport tests: one trusted upstream `flaky` whose tools bring no legs, memory stores, no
 * pinning, so every call is allowed and what is tested is how it travels.
 */
export function plainFlakyConfig(server: Record<string, unknown>, timeout: string): unknown {
  return {
    version: 1,
    pinning: 'off',
    store: { kind: 'memory' },
    policy: { version: 1, session: { input: 'trusted' } },
    servers: { flaky: { ...server, timeout, trusted: true, tools: { '*': { legs: 'none' } } } },
  };
}

/** How a test client answers elicitation: a queue of answers, or no elicitation capability at all. */
export type Answers = ('accept' | 'decline' | 'cancel')[] | undefined;

/** What every test client can do, whichever SDK it comes from. */
export interface TestClient {
  sdk: 'v1' | 'v2';
  era: string;
  callTool(name: string, args: Record<string, unknown>): Promise<ToolResult>;
  listTools(): Promise<{ name: string; _meta?: Record<string, unknown> | undefined }[]>;
  readResource(uri: string): Promise<{ _meta?: Record<string, unknown> | undefined }>;
  getPrompt(name: string): Promise<{ _meta?: Record<string, unknown> | undefined }>;
  /** Elicitation messages received so far. */
  elicited: string[];
  close(): Promise<void>;
}

/** A tool result as tests read it. */
export interface ToolResult {
  isError?: boolean;
  content?: { type: string; text?: string }[];
  _meta?: Record<string, unknown>;
}

/** The text of a tool result. */
export function textOf(result: { content?: unknown }): string {
  return ((result.content ?? []) as { text?: string }[]).map((c) => c.text ?? '').join('\n');
}

function answer(answers: string[], elicited: string[], message: string) {
  elicited.push(message);
  const next = answers.shift();
  if (next === 'accept') return { action: 'accept' as const, content: { approve: true } };
  return { action: (next ?? 'decline') as 'decline' | 'cancel' };
}

/** Where a test client connects: a gateway spawned over stdio, or a gateway URL. */
export type Target =
  | { stdio: string[]; env?: Record<string, string> }
  | { url: string; headers?: Record<string, string> };

/** The calls both SDK lines' clients share, as the tests use them. */
interface SdkClient {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  listTools(): Promise<{ tools: { name: string; _meta?: Record<string, unknown> | undefined }[] }>;
  readResource(params: { uri: string }): Promise<{ _meta?: Record<string, unknown> | undefined }>;
  getPrompt(params: { name: string }): Promise<{ _meta?: Record<string, unknown> | undefined }>;
  close(): Promise<void>;
}

function testClient(sdk: 'v1' | 'v2', era: string, client: SdkClient, elicited: string[]): TestClient {
  return {
    sdk,
    era,
    callTool: (name, args) => client.callTool({ name, arguments: args }) as Promise<ToolResult>,
    listTools: async () => (await client.listTools()).tools,
    readResource: (uri) => client.readResource({ uri }),
    getPrompt: (name) => client.getPrompt({ name }),
    elicited,
    close: () => client.close(),
  };
}

function stdioParams(target: { stdio: string[]; env?: Record<string, string> }) {
  return {
    command: NODE,
    args: target.stdio,
    stderr: 'ignore' as const,
    env: { PATH: process.env.PATH ?? '', ...target.env },
  };
}

/** An SDK v2 client pinned to an era. */
export async function v2Client(target: Target, era: 'modern' | 'legacy', answers: Answers): Promise<TestClient> {
  const elicited: string[] = [];
  const client = new ClientV2(
    { name: 'test-v2', version: '1.0.0' },
    {
      capabilities: answers ? { elicitation: { form: {} } } : {},
      ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
    },
  );
  if (answers) {
    client.setRequestHandler('elicitation/create', async (request) =>
      answer(answers, elicited, String((request.params as { message?: string }).message)),
    );
  }
  const transport =
    'stdio' in target
      ? new StdioV2(stdioParams(target))
      : new HttpV2(new URL(target.url), { requestInit: { headers: target.headers ?? {} } });
  await client.connect(transport);
  return testClient('v2', String(client.getNegotiatedProtocolVersion()), client, elicited);
}

/** An SDK v1 client (2025-11-25). */
export async function v1Client(target: Target, answers: Answers): Promise<TestClient> {
  const elicited: string[] = [];
  const client = new ClientV1(
    { name: 'test-v1', version: '1.0.0' },
    { capabilities: answers ? { elicitation: { form: {} } } : {} },
  );
  if (answers) {
    client.setRequestHandler(ElicitRequestSchema, async (request) =>
      answer(answers, elicited, String((request.params as { message?: string }).message)),
    );
  }
  const transport =
    'stdio' in target
      ? new StdioV1(stdioParams(target))
      : new HttpV1(new URL(target.url), { requestInit: { headers: target.headers ?? {} } });
  await client.connect(transport);
  const era = (transport as { protocolVersion?: string }).protocolVersion ?? '2025-11-25';
  return testClient('v1', era, client as unknown as SdkClient, elicited);
}

/** The HTTP headers of a 2026-07-28 `tools/call` of tool `name`, in a named session if given. */
export function modernCallHeaders(name: string, session?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': name,
    ...(session ? { 'ruleoftwo-session': session } : {}),
  };
}

/** Sends one 2026-07-28 `tools/call` over HTTP by hand (no SDK), to test what the wire allows. */
export async function rawModernCall(
  url: string,
  options: {
    id: number;
    name: string;
    args: unknown;
    session?: string;
    extra?: Record<string, unknown>;
    elicitation?: boolean;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': options.elicitation === false ? {} : { elicitation: { form: {} } },
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
  };
  const body = {
    jsonrpc: '2.0',
    id: options.id,
    method: 'tools/call',
    params: { name: options.name, arguments: options.args, ...options.extra, _meta: meta },
  };
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...modernCallHeaders(options.name, options.session), ...options.headers },
    body: JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
  return { status: response.status, body: JSON.parse(json) };
}
