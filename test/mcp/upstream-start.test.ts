import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateAuditKey } from '../../src/audit/checkpoint.ts';
import type { UpstreamConfig } from '../../src/mcp/config.ts';
import { Upstream } from '../../src/mcp/upstream.ts';
import { CLI, fixtureServer, NODE, tempDir, writeConfig } from './harness.ts';

// What an operator reads when a stdio upstream of their config cannot start: the real cause, once, from real
// processes (a missing command, a missing working directory, a server that exits at once).

function stdio(command: string, args: string[], cwd?: string): UpstreamConfig {
  return {
    name: 'fs',
    transport: { kind: 'stdio', command, args, env: {}, ...(cwd === undefined ? {} : { cwd }) },
    trusted: false,
    tools: {},
    resources: {},
    prompts: {},
    timeoutMs: 10_000,
  };
}

async function startFailure(config: UpstreamConfig): Promise<{ error: string; log: string[] }> {
  const log: string[] = [];
  const upstream = new Upstream(config, (line) => log.push(line));
  try {
    await upstream.connect();
    throw new Error('the upstream started');
  } catch (error) {
    return { error: (error as Error).message, log };
  } finally {
    await upstream.close();
  }
}

describe('a stdio upstream that does not start', () => {
  it('names a command that is not found, and does not also report a disconnect', async () => {
    const { error, log } = await startFailure(stdio('ruleoftwo-no-such-command', []));
    expect(error).toBe('upstream `fs` did not start: command `ruleoftwo-no-such-command` not found on its PATH');
    expect(log.filter((l) => l.includes('disconnected'))).toEqual([]);
  });

  it('names a working directory that does not exist, not the command (Node says `spawn node ENOENT` for both)', async () => {
    const { error } = await startFailure(stdio(process.execPath, ['-e', ''], '/nonexistent/ruleoftwo-cwd'));
    expect(error).toBe(
      'upstream `fs` did not start: its working directory `/nonexistent/ruleoftwo-cwd` does not exist',
    );
  });

  it('gives the exit status of a server that exits at once', async () => {
    const { error, log } = await startFailure(stdio(process.execPath, ['-e', 'process.exit(3)']));
    expect(error).toMatch(/^upstream `fs` did not start: .* \(the server exited with status 3\)$/);
    expect(log.filter((l) => l.includes('disconnected'))).toEqual([]);
  });
});

/** A gateway config in `dir`: the counter fixture server, no pinning, a SQLite store in `dir`. */
function counterConfig(dir: string): Promise<string> {
  return writeConfig(dir, {
    version: 1,
    policy: { version: 1 },
    servers: { c: { ...fixtureServer('counter-server'), trusted: true } },
    pinning: 'off',
    store: { kind: 'sqlite', path: join(dir, 'r.db') },
  });
}

describe('the gateway start-up log', () => {
  /** Starts the gateway CLI over stdio with `env`, ends its stdin at once and returns what it logged. */
  async function startupLog(env: Record<string, string>): Promise<string> {
    const temp = await tempDir();
    try {
      const file = await counterConfig(temp.dir);
      const child = spawn(NODE, [CLI, 'gateway', '--config', file], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('sessions, approvals and audit')) child.stdin.end();
      });
      await new Promise((resolve) => child.once('close', resolve));
      return stderr;
    } finally {
      await temp.remove();
    }
  }

  it('says when audit checkpoints will be unsigned: an MCP client passes the gateway only the environment it names', async () => {
    expect(await startupLog({})).toMatch(
      /sessions, approvals and audit in `.*r\.db`, checkpoints unsigned \(RULEOFTWO_AUDIT_KEY_FILE is not in the gateway's environment; see docs\/audit\.md\)\n/,
    );
  }, 30_000);

  it('and when they will be signed', async () => {
    expect(await startupLog({ RULEOFTWO_AUDIT_KEY: generateAuditKey().privatePem })).toMatch(
      /sessions, approvals and audit in `.*r\.db`, checkpoints signed\n/,
    );
  }, 30_000);
});

describe('a gateway that cannot listen', () => {
  it('names the port in use and exits, instead of hanging on its upstream processes', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const temp = await tempDir();
    try {
      const file = await counterConfig(temp.dir);
      const child = spawn(NODE, [CLI, 'gateway', '--config', file, '--http', '--port', String(port)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const status = await new Promise((resolve) => child.once('close', resolve));
      clearTimeout(timer);
      expect(status).toBe(1);
      expect(stderr).toContain(
        `ruleoftwo gateway: cannot listen on 127.0.0.1:${port}: the port is in use; choose another with --port or \`http.port\`\n`,
      );
    } finally {
      blocker.close();
      await temp.remove();
    }
  }, 30_000);
});
