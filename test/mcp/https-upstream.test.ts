import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, plainFlakyConfig, ROOT, type TestClient, tempDir, textOf, v2Client, writeConfig } from './harness.ts';

// A Streamable HTTP upstream over https (test/mcp/fixtures/flaky-server.ts `https`, a real SDK v2 server with the
// test-only certificate of test/mcp/fixtures/tls), behind the `ruleoftwo gateway` CLI over stdio. The gateway trusts
// the upstream's certificate only through NODE_EXTRA_CA_CERTS, as a user with a private CA would set it up; without
// it, the handshake fails, the gateway does not start, and no request reaches the upstream.

const CERT = join(ROOT, 'test/mcp/fixtures/tls/localhost-cert.pem');

let upstream: ChildProcess;
const upstreamLog: string[] = [];
let configFile: string;
let remove: () => Promise<void>;
const clients: TestClient[] = [];

beforeAll(async () => {
  upstream = spawn(process.execPath, [join(ROOT, 'test/mcp/fixtures/flaky-server.ts'), 'https'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  upstream.stderr?.on('data', (chunk: Buffer) => upstreamLog.push(...chunk.toString().split('\n').filter(Boolean)));
  const url = await new Promise<string>((resolve, reject) => {
    upstream.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    upstream.once('exit', (code) => reject(new Error(`flaky-server exited with ${code}`)));
  });
  expect(url).toMatch(/^https:\/\/localhost:\d+\/mcp$/);
  const temp = await tempDir();
  remove = temp.remove;
  configFile = await writeConfig(temp.dir, plainFlakyConfig({ url }, '5s'));
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  upstream?.kill();
  await remove?.();
});

async function gatewayClient(env: Record<string, string>): Promise<TestClient> {
  const client = await v2Client({ stdio: [CLI, 'gateway', '--config', configFile], env }, 'modern', undefined);
  clients.push(client);
  return client;
}

const requests = () => upstreamLog.filter((line) => line === 'request').length;

describe('https upstream', () => {
  it('lists and calls its tools through TLS when the gateway trusts its certificate', async () => {
    const before = requests();
    const client = await gatewayClient({ NODE_EXTRA_CA_CERTS: CERT });
    expect((await client.listTools()).map((tool) => tool.name)).toContain('flaky__ok');
    for (let i = 0; i < 3; i++) {
      expect(textOf(await client.callTool('flaky__ok', {}))).toBe(`ok from ${upstream.pid}`);
    }
    // The SDK client's connection and the gateway's own kept-alive client (src/mcp/http1.ts) both went through TLS.
    expect(requests()).toBeGreaterThan(before + 3);
  }, 30_000);

  it('refuses to start when the certificate is not trusted, says why, and sends the upstream no request', async () => {
    const before = requests();
    const gateway = spawn(process.execPath, [CLI, 'gateway', '--config', configFile], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    gateway.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => gateway.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/upstream `flaky` did not start: .*self-signed certificate/);
    expect(requests()).toBe(before);
  }, 30_000);
});
