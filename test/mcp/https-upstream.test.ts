import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  type FlakyHttpServer,
  plainFlakyConfig,
  ROOT,
  startFlakyHttp,
  type TestClient,
  tempDir,
  textOf,
  v2Client,
  writeConfig,
} from './harness.ts';

// A Streamable HTTP upstream over https (test/mcp/fixtures/flaky-server.ts `https`, a real SDK v2 server with the
// test-only certificate of test/mcp/fixtures/tls), behind the `ruleoftwo gateway` CLI over stdio. The gateway trusts
// the upstream's certificate only through NODE_EXTRA_CA_CERTS, as a user with a private CA would set it up; without
// it, the handshake fails, the gateway does not start, and no request reaches the upstream.

const CERT = join(ROOT, 'test/mcp/fixtures/tls/localhost-cert.pem');

let upstream: FlakyHttpServer;
let configFile: string;
let remove: () => Promise<void>;
const clients: TestClient[] = [];

beforeAll(async () => {
  upstream = await startFlakyHttp('https');
  expect(upstream.url).toMatch(/^https:\/\/localhost:\d+\/mcp$/);
  const temp = await tempDir();
  remove = temp.remove;
  configFile = await writeConfig(temp.dir, plainFlakyConfig({ url: upstream.url }, '5s'));
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  upstream?.process.kill();
  await remove?.();
});

async function gatewayClient(env: Record<string, string>): Promise<TestClient> {
  const client = await v2Client({ stdio: [CLI, 'gateway', '--config', configFile], env }, 'modern', undefined);
  clients.push(client);
  return client;
}

const requests = () => upstream.log.filter((line) => line === 'request').length;

describe('https upstream', () => {
  it('lists and calls its tools through TLS when the gateway trusts its certificate', async () => {
    const before = requests();
    const client = await gatewayClient({ NODE_EXTRA_CA_CERTS: CERT });
    expect((await client.listTools()).map((tool) => tool.name)).toContain('flaky__ok');
    for (let i = 0; i < 3; i++) {
      expect(textOf(await client.callTool('flaky__ok', {}))).toBe(`ok from ${upstream.process.pid}`);
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
