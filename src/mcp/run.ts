import { randomUUID } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { MemoryApprovalStore, MemoryAuditLog, MemorySessionStore } from '../store/memory.ts';
import { openStores } from '../store/open.ts';
import type { GatewayConfig } from './config.ts';
import { ElicitationApprovals } from './elicitation.ts';
import { Gateway, type GatewayStores } from './gateway.ts';
import { type HttpGateway, serveGatewayHttp } from './http.ts';
import { shellWord } from './shell.ts';
import { type StdioGateway, serveGatewayStdio } from './stdio.ts';
import type { GatewayLog } from './upstream.ts';

/** Options of {@link runGateway}. */
export interface RunGatewayOptions {
  transport: 'stdio' | 'http';
  /** The Rule-of-Two session of a stdio connection; a fresh id when absent. */
  sessionId?: string;
  /** Stores for sessions, approvals and audit; those the config names (SQLite by default) when absent. */
  stores?: GatewayStores;
  log?: GatewayLog;
  /** Environment to read the bearer token from (`http.tokenEnv`). */
  env?: Record<string, string | undefined>;
  stdin?: Readable;
  stdout?: Writable;
  /** Overrides `http.port` (0 picks a free port). */
  port?: number;
}

/** A running gateway. */
export interface RunningGateway {
  gateway: Gateway;
  http?: HttpGateway;
  stdio?: StdioGateway;
  close(): Promise<void>;
}

/** In-memory stores: enforcement lasts as long as the process. */
export function memoryStores(): GatewayStores {
  return { sessions: new MemorySessionStore(), approvals: new MemoryApprovalStore(), audit: new MemoryAuditLog() };
}

/** The stores the config names, and how an operator answers approvals in them from another process. */
export async function openGatewayStores(
  config: GatewayConfig,
  env: Record<string, string | undefined> = process.env,
): Promise<{ stores: GatewayStores; approveCommand?: (requestId: string) => string }> {
  const store = config.store;
  if (store.kind === 'memory') return { stores: memoryStores() };
  const stores = await openStores({ path: store.path, policy: config.policy, env, synchronous: store.synchronous });
  return { stores, approveCommand: (id) => `ruleoftwo approvals approve ${shellWord(store.path)} ${id}` };
}

/** Rereads the pin file when it changes (after `ruleoftwo tools approve`), so approved tools appear without a restart. */
function watchPins(gateway: Gateway, log: GatewayLog): () => void {
  if (gateway.config.pinning !== 'approve') return () => {};
  const file = gateway.config.pinsFile;
  const reload = () => {
    gateway.reloadPins().then(
      () => log(`pins reloaded from \`${file}\``),
      (error: Error) => log(`pins not reloaded: ${error.message}`),
    );
  };
  watchFile(file, { interval: 500, persistent: false }, reload);
  return () => unwatchFile(file, reload);
}

/** Starts the gateway: connects upstreams, then serves clients over stdio or Streamable HTTP. */
export async function runGateway(config: GatewayConfig, options: RunGatewayOptions): Promise<RunningGateway> {
  const log = options.log ?? (() => {});
  const opened = options.stores ? { stores: options.stores } : await openGatewayStores(config, options.env);
  const gateway = await Gateway.start(config, {
    stores: opened.stores,
    log,
    ...(opened.approveCommand ? { approveCommand: opened.approveCommand } : {}),
  });
  const stopWatching = watchPins(gateway, log);
  const approvals = new ElicitationApprovals({
    ttlSeconds: gateway.guard.policy.approvalTtlMs / 1000,
    enabled: config.elicitation,
  });
  if (options.transport === 'stdio') {
    const stdio = serveGatewayStdio(gateway, {
      sessionId: options.sessionId ?? `stdio:${randomUUID()}`,
      approvals,
      maxMessageBytes: config.maxMessageBytes,
      log,
      ...(options.stdin ? { stdin: options.stdin } : {}),
      ...(options.stdout ? { stdout: options.stdout } : {}),
    });
    return {
      gateway,
      stdio,
      async close() {
        stopWatching();
        await stdio.close();
        await gateway.close();
      },
    };
  }
  const tokenEnv = config.http.tokenEnv;
  const token = tokenEnv === undefined ? undefined : (options.env ?? process.env)[tokenEnv];
  if (tokenEnv !== undefined && !token) {
    stopWatching();
    await gateway.close();
    throw new Error(`http.tokenEnv names \`${tokenEnv}\`, which is not set`);
  }
  let http: HttpGateway;
  try {
    http = await serveGatewayHttp(gateway, {
      http: options.port === undefined ? config.http : { ...config.http, port: options.port },
      approvals,
      maxMessageBytes: config.maxMessageBytes,
      log,
      ...(token === undefined ? {} : { token }),
    });
  } catch (error) {
    // The upstreams' processes and the pin watcher would keep the process alive after the error was reported.
    stopWatching();
    await gateway.close();
    throw error;
  }
  return {
    gateway,
    http,
    async close() {
      stopWatching();
      await http.close();
      await gateway.close();
    },
  };
}
