import { resolve } from 'node:path';
import { loadGatewayConfig } from '../../mcp/config.ts';
import { runGateway } from '../../mcp/run.ts';
import { type Command, UsageError } from '../io.ts';

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`\`${name}\` needs a value`);
  return value;
}

/**
 * Whether audit checkpoints will be signed. An MCP client starts the gateway with only the environment its own config
 * names, so a key set in the operator's shell is easily missing, and unsigned checkpoints are otherwise silent.
 */
function signing(env: Record<string, string | undefined>): string {
  if (env.RULEOFTWO_AUDIT_KEY !== undefined || env.RULEOFTWO_AUDIT_KEY_FILE !== undefined)
    return ', checkpoints signed';
  return ", checkpoints unsigned (RULEOFTWO_AUDIT_KEY_FILE is not in the gateway's environment; see docs/audit.md)";
}

/** `ruleoftwo gateway --config <file>`: serves upstream MCP servers behind the Rule of Two. */
export const gateway: Command = {
  name: 'gateway',
  summary: 'run the MCP gateway (stdio or Streamable HTTP)',
  usage: [
    'usage: ruleoftwo gateway --config <gateway.yaml> [--http [--port N]] [--session ID]',
    '',
    'Serves the upstream MCP servers of the config to one client over stdio (default), or to many over',
    'Streamable HTTP (--http, 127.0.0.1 by default). Every tool call is decided by the Rule of Two in its session.',
    '--session names the Rule-of-Two session of a stdio connection (default: a fresh one per process).',
    'Logs go to stderr.',
  ].join('\n'),
  async run(args, io) {
    const known = new Set(['--config', '--http', '--port', '--session']);
    for (const [i, arg] of args.entries()) {
      if (arg.startsWith('--') && !known.has(arg)) throw new UsageError(`unknown option \`${arg}\``);
      if (!arg.startsWith('--') && !['--config', '--port', '--session'].includes(args[i - 1] ?? '')) {
        throw new UsageError(`unexpected argument \`${arg}\``);
      }
    }
    const file = option(args, '--config');
    if (file === undefined) throw new UsageError('`--config <file>` is required');
    const portText = option(args, '--port');
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new UsageError(`invalid port \`${portText}\``);
    }
    const sessionId = option(args, '--session');
    const config = await loadGatewayConfig(resolve(io.cwd, file));
    const log = (message: string) => io.stderr.write(`ruleoftwo gateway: ${message}\n`);
    const running = await runGateway(config, {
      transport: args.includes('--http') ? 'http' : 'stdio',
      log,
      env: io.env,
      ...(sessionId === undefined ? {} : { sessionId }),
      ...(port === undefined ? {} : { port }),
    });
    const tools = running.gateway.listTools().length;
    const quarantined = [...running.gateway.catalog.values()].filter((t) => t.quarantine).length;
    log(`${tools} tool(s) served, ${quarantined} quarantined${quarantined ? ' (see `ruleoftwo tools diff`)' : ''}`);
    const store = config.store;
    log(
      store.kind === 'sqlite'
        ? `sessions, approvals and audit in \`${store.path}\`${signing(io.env)}`
        : 'memory stores: nothing survives a restart',
    );
    if (running.http) log(`listening on ${running.http.url}`);
    await new Promise<void>((done) => {
      const stop = () => {
        running.close().finally(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      running.stdio?.closed.then(stop);
    });
    return 0;
  },
};
