import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import { CLI, npmServer, ROOT, tempDir, writeConfig } from './harness.ts';

// Smoke tests with the MCP Inspector CLI (@modelcontextprotocol/inspector --cli) through the gateway.

const run = promisify(execFile);
const INSPECTOR = join(ROOT, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');

let dir: string;
let remove: () => Promise<void>;
let configFile: string;
let running: RunningGateway;

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  await mkdir(join(dir, 'home'));
  await mkdir(join(dir, 'box'));
  await writeFile(join(dir, 'box', 'hello.txt'), 'hello from the sandbox');
  configFile = await writeConfig(dir, {
    version: 1,
    pinning: 'off',
    servers: {
      fs: {
        command: process.execPath,
        args: [npmServer('server-filesystem'), join(dir, 'box')],
        tools: { read_text_file: { output: 'B' } },
      },
    },
  });
  running = await runGateway(await loadGatewayConfig(configFile), { transport: 'http', port: 0 });
}, 30_000);

afterAll(async () => {
  await running?.close();
  await remove?.();
});

async function inspector(args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [INSPECTOR, '--cli', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: join(dir, 'home') },
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

const readHello = ['--method', 'tools/call', '--tool-name', 'fs__read_text_file', '--tool-arg'];

describe('MCP Inspector CLI through the gateway', () => {
  it('over stdio: lists tools with their legs and calls one', async () => {
    const gateway = ['--', process.execPath, CLI, 'gateway', '--config', configFile];
    const listed = (await inspector(['--method', 'tools/list', ...gateway])) as {
      tools: { name: string; _meta?: Record<string, unknown> }[];
    };
    const read = listed.tools.find((t) => t.name === 'fs__read_text_file');
    expect(read?._meta?.['dev.ruleoftwo/legs']).toEqual({ call: '', output: 'B', source: 'policy' });
    const called = (await inspector([...readHello, `path=${join(dir, 'box', 'hello.txt')}`, ...gateway])) as {
      content: { text: string }[];
    };
    expect(called.content[0]?.text).toBe('hello from the sandbox');
  });

  it('over Streamable HTTP, in both protocol eras', async () => {
    const url = running.http?.url ?? '';
    const legacy = (await inspector([url, ...readHello, `path=${join(dir, 'box', 'hello.txt')}`])) as {
      _meta: Record<string, { legsAfter: string }>;
    };
    expect(legacy._meta['dev.ruleoftwo/decision']?.legsAfter).toMatch(/B/);
    const modern = (await inspector([url, '--protocol-era', 'modern', '--method', 'tools/list'])) as {
      tools: { name: string }[];
    };
    expect(modern.tools.map((t) => t.name)).toContain('fs__read_text_file');
  });
});
