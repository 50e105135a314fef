import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import {
  type FlakyHttpServer,
  plainFlakyConfig,
  rawModernCall,
  startFlakyHttp,
  type ToolResult,
  tempDir,
  textOf,
  writeConfig,
} from './harness.ts';

// Tool calls to a Streamable HTTP upstream that hangs (src/mcp/http-call.ts over src/mcp/http1.ts), against a real
// SDK v2 server over HTTP (test/mcp/fixtures/flaky-server.ts `http`): a timeout, a client that goes away and an
// abort each fail the call with a JSON-RPC error, close the upstream request, and the gateway keeps serving.

let remove: () => Promise<void>;
let running: RunningGateway;
let upstream: FlakyHttpServer;
let url: string;

beforeAll(async () => {
  upstream = await startFlakyHttp('http');
  const temp = await tempDir();
  remove = temp.remove;
  const file = await writeConfig(temp.dir, plainFlakyConfig({ url: upstream.url }, '800ms'));
  running = await runGateway(await loadGatewayConfig(file), { transport: 'http', port: 0, log: () => {} });
  url = running.http?.url ?? '';
}, 30_000);

afterAll(async () => {
  await running?.close();
  upstream?.process.kill();
  await remove?.();
});

/** Waits until the upstream has logged `count` cancelled requests. */
async function cancellations(count: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  const seen = () => upstream.log.filter((l) => l.startsWith('cancelled')).length;
  while (seen() < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return seen();
}

const ok = async (id: number) => {
  const answer = await rawModernCall(url, { id, name: 'flaky__ok', args: {} });
  return textOf(answer.body.result as ToolResult);
};

describe('HTTP upstream that hangs', () => {
  it('a call times out with a JSON-RPC error, the upstream request is closed, and the gateway keeps serving', async () => {
    const before = await cancellations(0);
    const started = Date.now();
    const hung = await rawModernCall(url, { id: 1, name: 'flaky__hang', args: {} });
    expect(hung.status).toBe(200);
    expect((hung.body.error as { code: number; message: string }).code).toBe(-32603);
    expect((hung.body.error as { message: string }).message).toMatch(
      /upstream failed on `flaky__hang`: request timed out after 800 ms/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await cancellations(before + 1)).toBe(before + 1);
    expect(await ok(2)).toMatch(/^ok from \d+$/);
  });

  it('an HTTP client that goes away mid-call closes the upstream request', async () => {
    const before = await cancellations(0);
    const call = rawModernCall(url, { id: 3, name: 'flaky__hang', args: {}, signal: AbortSignal.timeout(200) });
    await expect(call).rejects.toThrow();
    expect(await cancellations(before + 1)).toBe(before + 1);
    expect(await ok(4)).toMatch(/^ok from \d+$/);
  });

  it('an aborted call rejects at once with the reason; calls in flight beside it still answer', async () => {
    const before = await cancellations(0);
    const controller = new AbortController();
    const hung = running.gateway.callTool('s', 'flaky__hang', {}, { signal: controller.signal });
    const beside = running.gateway.callTool('s', 'flaky__ok', {});
    setTimeout(() => controller.abort(new Error('the client went away')), 50);
    const started = Date.now();
    await expect(hung).rejects.toThrow(/upstream failed on `flaky__hang`: the client went away/);
    expect(Date.now() - started).toBeLessThan(700);
    const answered = await beside;
    expect(answered.kind === 'result' && textOf(answered.result)).toMatch(/^ok from \d+$/);
    expect(await cancellations(before + 1)).toBe(before + 1);
  });
});
