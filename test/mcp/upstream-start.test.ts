import { describe, expect, it } from 'vitest';
import type { UpstreamConfig } from '../../src/mcp/config.ts';
import { Upstream } from '../../src/mcp/upstream.ts';

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
