import { dirname, isAbsolute, resolve } from 'node:path';
import type { PolicyDocument, ToolDocument } from '../core/document.ts';
import { durationProblem, parseDuration } from '../core/policy.ts';
import { ConfigError, type ConfigIssue, quotedUrl } from '../errors.ts';
import { isRecord } from '../is-record.ts';
import { formatPath, parseSource } from '../policy/source.ts';
import { validatePolicy } from '../policy/validate.ts';
import { readTextFile, unreadableReason } from '../text-file.ts';

/** Separates an upstream's name from its tool's name in the names clients see: `fs__read_file`. */
export const NAMESPACE_SEPARATOR = '__';

/** How the gateway reaches one upstream MCP server. */
export type UpstreamTransport =
  | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { kind: 'http'; url: string; headers: Record<string, string> };

/** One upstream server of the gateway. */
export interface UpstreamConfig {
  name: string;
  transport: UpstreamTransport;
  /** Whether its annotations may lower risk (`readOnlyHint`, `openWorldHint: false`). */
  trusted: boolean;
  /** Labels of its tools by name or glob, without the namespace. */
  tools: Record<string, ToolDocument>;
  /** Label of `resources/read`; defaults to untrusted output (A), and a consequential call (C) unless trusted. */
  resources: ToolDocument;
  /** Label of `prompts/get`; defaults to untrusted output (A), and a consequential call (C) unless trusted. */
  prompts: ToolDocument;
  /** Upper bound for one upstream request. */
  timeoutMs: number;
}

/** Downstream Streamable HTTP settings. */
export interface HttpConfig {
  host: string;
  port: number;
  path: string;
  /** Origins a browser may call from; requests with any other `Origin` get 403. */
  allowedOrigins: string[];
  /** Name of the environment variable holding the bearer token clients must send, if any. */
  tokenEnv?: string;
  /** A 2025-era session unused this long is closed. */
  sessionIdleMs: number;
  /** Most 2025-era sessions open at once; more initialize requests get 503. */
  maxSessions: number;
  /** Refuse 2026-07-28 calls without a `ruleoftwo-session` header instead of running them in the shared session. */
  requireSessionHeader: boolean;
}

/** Where sessions, approvals and audit events live. */
export type StoreConfig = { kind: 'memory' } | { kind: 'sqlite'; path: string; synchronous: 'full' | 'normal' };

/** A validated gateway configuration with paths resolved against the config file's folder. */
export interface GatewayConfig {
  /** The policy (inline or read from a file) before upstream labels are added. */
  policy: PolicyDocument;
  upstreams: UpstreamConfig[];
  http: HttpConfig;
  /** File holding approved tool definition hashes. */
  pinsFile: string;
  /** `approve`: new or changed definitions are quarantined until approved; `off`: no pinning. */
  pinning: 'approve' | 'off';
  store: StoreConfig;
  /** Largest JSON-RPC message accepted from a client, in bytes. */
  maxMessageBytes: number;
  /** Whether approvals may be asked through the client's elicitation; `false`: only out of band. */
  elicitation: boolean;
}

/** Default bound of one upstream request. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Default bound of one client message. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const UPSTREAM_NAME = /^[A-Za-z][A-Za-z0-9-]*(?:_[A-Za-z0-9-]+)*$/;

type Path = (string | number)[];

/** Collects every issue of a gateway config, then builds the config when there are none. */
class ConfigReader {
  readonly issues: ConfigIssue[] = [];
  readonly lineOf: (path: Path) => number | undefined;
  readonly #base: string;
  lists: Record<string, string[]> = {};

  constructor(lineOf: (path: Path) => number | undefined, base: string) {
    this.lineOf = lineOf;
    this.#base = base;
  }

  report(code: string, path: Path, message: string): void {
    const issue: ConfigIssue = { code, path: formatPath(path), message };
    const line = this.lineOf(path);
    if (line !== undefined) issue.line = line;
    this.issues.push(issue);
  }

  mapping(value: unknown, path: Path, allowed: readonly string[]): Record<string, unknown> {
    if (!isRecord(value)) {
      this.report('expected_mapping', path, 'expected a mapping');
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.report('unknown_key', [...path, key], `unknown key \`${key}\`; expected one of ${allowed.join(', ')}`);
      }
    }
    return value;
  }

  string(value: unknown, path: Path, fallback: string): string {
    if (value === undefined) return fallback;
    if (typeof value === 'string' && value !== '') return value;
    this.report('expected_string', path, 'expected a non-empty string');
    return fallback;
  }

  strings(value: unknown, path: Path): string[] {
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    this.report('expected_strings', path, 'expected a list of strings');
    return [];
  }

  stringMap(value: unknown, path: Path): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    if (value === undefined) return out;
    if (!isRecord(value)) {
      this.report('expected_mapping', path, 'expected a mapping of names to strings');
      return out;
    }
    for (const [key, v] of Object.entries(value)) {
      if (typeof v === 'string') out[key] = v;
      else this.report('expected_string', [...path, key], 'expected a string');
    }
    return out;
  }

  duration(value: unknown, path: Path, fallback: number): number {
    if (value === undefined) return fallback;
    const ms = typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
    if (ms === undefined) this.report('invalid_duration', path, durationProblem(value, '`30s` or `500ms`'));
    return ms ?? fallback;
  }

  file(value: unknown, path: Path, fallback: string): string {
    const text = this.string(value, path, fallback);
    return isAbsolute(text) ? text : resolve(this.#base, text);
  }

  /** Validates tool labels with the policy validator, reporting issues at their place in this file. */
  toolLabels(value: unknown, path: Path): Record<string, ToolDocument> {
    if (value === undefined) return {};
    // The policy's named lists are visible to upstream labels too.
    const result = validatePolicy({ version: 1, lists: this.lists, tools: value }, (p) =>
      this.lineOf([...path, ...p.slice(1)]),
    );
    if (result.ok) return (result.document.tools ?? {}) as Record<string, ToolDocument>;
    for (const issue of result.issues) {
      this.issues.push({ ...issue, path: `${formatPath(path)}${issue.path.replace(/^tools/, '')}` });
    }
    return {};
  }

  toolLabel(value: unknown, path: Path, fallback: ToolDocument): ToolDocument {
    if (value === undefined) return fallback;
    return this.toolLabels({ entry: value }, path).entry ?? fallback;
  }

  upstream(name: string, value: unknown): UpstreamConfig | undefined {
    const path = ['servers', name];
    if (!UPSTREAM_NAME.test(name)) {
      this.report(
        'invalid_name',
        path,
        `server name \`${name}\` must be letters, digits, \`-\` or single \`_\` (\`${NAMESPACE_SEPARATOR}\` separates tool names)`,
      );
    }
    const raw = this.mapping(value, path, [
      'command',
      'args',
      'env',
      'cwd',
      'url',
      'headers',
      'trusted',
      'tools',
      'resources',
      'prompts',
      'timeout',
    ]);
    let transport: UpstreamTransport | undefined;
    if (raw.command !== undefined && raw.url !== undefined) {
      this.report('ambiguous_transport', path, 'give either `command` (stdio) or `url` (Streamable HTTP), not both');
    } else if (raw.command !== undefined) {
      const stdio: UpstreamTransport = {
        kind: 'stdio',
        command: this.string(raw.command, [...path, 'command'], ''),
        args: this.strings(raw.args, [...path, 'args']),
        env: this.stringMap(raw.env, [...path, 'env']),
      };
      if (raw.cwd !== undefined) stdio.cwd = this.file(raw.cwd, [...path, 'cwd'], '.');
      transport = stdio;
    } else if (raw.url !== undefined) {
      const url = this.string(raw.url, [...path, 'url'], '');
      // INVARIANT: a url is quoted without its userinfo or query, which may hold secrets; credentials in it are
      // refused, as fetch never sends them (test/mcp/config.test.ts "quotes a bad url").
      // URL.canParse, not URL.parse: the project runs on Node 22.0, which has only the former.
      const parsed = url !== '' && URL.canParse(url) ? new URL(url) : undefined;
      if (url !== '' && !parsed) {
        this.report('invalid_url', [...path, 'url'], `invalid url \`${quotedUrl(url)}\``);
      } else if (parsed && (parsed.username !== '' || parsed.password !== '')) {
        const why = 'holds credentials, which are never sent; put them in `headers`';
        this.report('invalid_url', [...path, 'url'], `url \`${quotedUrl(url)}\` ${why}`);
      }
      transport = { kind: 'http', url, headers: this.stringMap(raw.headers, [...path, 'headers']) };
    } else {
      this.report('missing_transport', path, 'a server needs `command` (stdio) or `url` (Streamable HTTP)');
    }
    if (raw.trusted !== undefined && typeof raw.trusted !== 'boolean') {
      this.report('expected_boolean', [...path, 'trusted'], 'expected true or false');
    }
    // A read sends its URI, a prompt get its arguments: to an untrusted server that is communication, as a call of
    // its unlabelled tools is (labels.ts).
    // INVARIANT: an untrusted server's resources and prompts are C unless configured (test/mcp/attacks.test.ts
    // "reads that carry data").
    const readLabel: ToolDocument = raw.trusted === true ? { output: 'A' } : { call: 'C', output: 'A' };
    const upstream: UpstreamConfig | undefined = transport && {
      name,
      transport,
      trusted: raw.trusted === true,
      tools: this.toolLabels(raw.tools, [...path, 'tools']),
      resources: this.toolLabel(raw.resources, [...path, 'resources'], readLabel),
      prompts: this.toolLabel(raw.prompts, [...path, 'prompts'], readLabel),
      timeoutMs: this.duration(raw.timeout, [...path, 'timeout'], DEFAULT_TIMEOUT_MS),
    };
    return upstream;
  }

  http(value: unknown): HttpConfig {
    const raw = this.mapping(
      value ?? {},
      ['http'],
      [
        'host',
        'port',
        'path',
        'allowedOrigins',
        'tokenEnv',
        'sessionIdleTimeout',
        'maxSessions',
        'requireSessionHeader',
      ],
    );
    const requireSessionHeader = raw.requireSessionHeader ?? false;
    if (typeof requireSessionHeader !== 'boolean') {
      this.report('invalid_value', ['http', 'requireSessionHeader'], 'expected true or false');
    }
    const maxSessions = raw.maxSessions ?? 10_000;
    if (typeof maxSessions !== 'number' || !Number.isInteger(maxSessions) || maxSessions < 1) {
      this.report('invalid_value', ['http', 'maxSessions'], 'expected a whole number, at least 1');
    }
    const port = raw.port ?? 8787;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
      this.report('invalid_port', ['http', 'port'], 'expected a port number from 0 to 65535');
    }
    const http: HttpConfig = {
      host: this.string(raw.host, ['http', 'host'], '127.0.0.1'),
      port: typeof port === 'number' ? port : 8787,
      path: this.string(raw.path, ['http', 'path'], '/mcp'),
      allowedOrigins: this.strings(raw.allowedOrigins, ['http', 'allowedOrigins']),
      sessionIdleMs: this.duration(raw.sessionIdleTimeout, ['http', 'sessionIdleTimeout'], 30 * 60_000),
      maxSessions: typeof maxSessions === 'number' ? maxSessions : 10_000,
      requireSessionHeader: requireSessionHeader === true,
    };
    if (raw.tokenEnv !== undefined) http.tokenEnv = this.string(raw.tokenEnv, ['http', 'tokenEnv'], '');
    return http;
  }

  store(value: unknown): StoreConfig {
    // SQLite by default, next to the config: a restart keeps every session's legs and pending approvals.
    const raw =
      value === undefined ? { kind: 'sqlite' } : this.mapping(value, ['store'], ['kind', 'path', 'synchronous']);
    if (raw.kind === 'memory') return { kind: 'memory' };
    if (raw.kind === 'sqlite') {
      const synchronous = raw.synchronous ?? 'full';
      if (synchronous !== 'full' && synchronous !== 'normal') {
        this.report('invalid_value', ['store', 'synchronous'], 'expected `full` or `normal`');
      }
      return {
        kind: 'sqlite',
        path: this.file(raw.path, ['store', 'path'], 'ruleoftwo.db'),
        synchronous: synchronous === 'normal' ? 'normal' : 'full',
      };
    }
    this.report('invalid_value', ['store', 'kind'], 'expected `memory` or `sqlite`');
    return { kind: 'memory' };
  }
}

/** Parses and validates gateway config text; `base` is the folder relative paths resolve against. */
export async function parseGatewayConfig(text: string, base: string): Promise<GatewayConfig> {
  const source = parseSource(text);
  if (source.issues.length > 0) throw new ConfigError('gateway config has syntax errors', source.issues);
  const reader = new ConfigReader(source.lineOf, base);
  const root = reader.mapping(
    source.value,
    [],
    ['$schema', 'version', 'policy', 'servers', 'http', 'pins', 'pinning', 'store', 'maxMessageBytes', 'elicitation'],
  );
  if (root.version !== 1) reader.report('invalid_version', ['version'], 'expected `version: 1`');
  const policy = await readPolicy(root.policy, base, reader);
  reader.lists = policy?.lists ?? {};
  const servers = reader.mapping(root.servers, ['servers'], Object.keys(isRecord(root.servers) ? root.servers : {}));
  const upstreams: UpstreamConfig[] = [];
  for (const [name, value] of Object.entries(servers)) {
    const upstream = reader.upstream(name, value);
    if (upstream) upstreams.push(upstream);
  }
  if (Object.keys(servers).length === 0 && isRecord(root.servers)) {
    reader.report('no_servers', ['servers'], 'name at least one upstream server');
  }
  const pinning = root.pinning ?? 'approve';
  if (pinning !== 'approve' && pinning !== 'off') {
    reader.report('invalid_value', ['pinning'], 'expected `approve` or `off`');
  }
  const maxMessageBytes = root.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (typeof maxMessageBytes !== 'number' || !Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024) {
    reader.report('invalid_value', ['maxMessageBytes'], 'expected a whole number of bytes, at least 1024');
  }
  const elicitation = root.elicitation ?? true;
  if (typeof elicitation !== 'boolean') reader.report('invalid_value', ['elicitation'], 'expected `true` or `false`');
  const config: GatewayConfig = {
    policy: policy ?? { version: 1 },
    upstreams,
    http: reader.http(root.http),
    pinsFile: reader.file(root.pins, ['pins'], 'ruleoftwo-pins.json'),
    pinning: pinning === 'off' ? 'off' : 'approve',
    store: reader.store(root.store),
    maxMessageBytes: typeof maxMessageBytes === 'number' ? maxMessageBytes : DEFAULT_MAX_MESSAGE_BYTES,
    elicitation: elicitation !== false,
  };
  if (reader.issues.length > 0) {
    throw new ConfigError(`gateway config has ${reader.issues.length} issue(s)`, reader.issues);
  }
  return config;
}

async function readPolicy(value: unknown, base: string, reader: ConfigReader): Promise<PolicyDocument | undefined> {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const file = isAbsolute(value) ? value : resolve(base, value);
    let text: string;
    try {
      text = await readTextFile(file);
    } catch (error) {
      reader.report(
        'unreadable_policy',
        ['policy'],
        `cannot read policy file \`${value}\`: ${unreadableReason(error)}`,
      );
      return undefined;
    }
    const source = parseSource(text);
    const validation = source.issues.length > 0 ? source : validatePolicy(source.value, source.lineOf);
    if (validation.issues.length > 0) {
      for (const issue of validation.issues) reader.issues.push({ ...issue, path: `${value}: ${issue.path}` });
      return undefined;
    }
    return source.value as PolicyDocument;
  }
  const validation = validatePolicy(value, (p) => reader.lineOf(['policy', ...p]));
  if (!validation.ok) {
    for (const issue of validation.issues) reader.issues.push({ ...issue, path: `policy.${issue.path}` });
    return undefined;
  }
  return validation.document;
}

/** Reads and validates a gateway config file; a {@link ConfigError} lists every issue. */
export async function loadGatewayConfig(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (error) {
    throw new ConfigError(`cannot read gateway config \`${file}\`: ${unreadableReason(error)}`);
  }
  return parseGatewayConfig(text, dirname(resolve(file)));
}
