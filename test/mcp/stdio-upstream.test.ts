import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import type { Gateway } from '../../src/mcp/gateway.ts';
import { type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import { fixtureServer, plainFlakyConfig, rawModernCall, tempDir, textOf, writeConfig } from './harness.ts';

// The gateway's own stdio upstream transport (src/mcp/stdio-upstream.ts) against a real SDK v2 server
// (test/mcp/fixtures/flaky-server.ts): cancellation, a server that dies mid-call, stray output, JSON-RPC errors.

let remove: () => Promise<void>;
let running: RunningGateway;
let gateway: Gateway;
const log: string[] = [];

beforeAll(async () => {
  const temp = await tempDir();
  remove = temp.remove;
  const file = await writeConfig(temp.dir, plainFlakyConfig(fixtureServer('flaky-server'), '60s'));
  running = await runGateway(await loadGatewayConfig(file), { transport: 'http', port: 0, log: (m) => log.push(m) });
  gateway = running.gateway;
}, 30_000);

afterAll(async () => {
  await running?.close();
  await remove?.();
});

/** Waits until the gateway's log has a line matching `pattern`. */
async function logged(pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = log.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`nothing logged like ${pattern}: ${log.join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('stdio upstream transport', () => {
  it('an aborted call rejects at once and the server is told to cancel it', async () => {
    const controller = new AbortController();
    const call = gateway.callTool('s1', 'flaky__hang', {}, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('the client went away')), 100);
    const started = Date.now();
    await expect(call).rejects.toThrow(/upstream failed on `flaky__hang`: the client went away/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await logged(/\[flaky\] cancelled ruleoftwo-\d+/)).toBeDefined();
    const next = await gateway.callTool('s1', 'flaky__ok', {});
    expect(next.kind === 'result' && textOf(next.result)).toMatch(/^ok from \d+$/);
  });

  it('an HTTP client that goes away mid-call cancels the call upstream', async () => {
    const cancelled = () => log.filter((l) => /\[flaky\] cancelled/.test(l)).length;
    const before = cancelled();
    const url = running.http?.url ?? '';
    const call = rawModernCall(url, { id: 7, name: 'flaky__hang', args: {}, signal: AbortSignal.timeout(300) });
    await expect(call).rejects.toThrow();
    const deadline = Date.now() + 10_000;
    while (cancelled() === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cancelled()).toBe(before + 1);
  });

  it('a line that is not JSON is skipped and the answer after it still arrives', async () => {
    const outcome = await gateway.callTool('s2', 'flaky__noise', {});
    expect(outcome.kind === 'result' && textOf(outcome.result)).toBe('after the noise');
  });

  it('a JSON-RPC error from the server rejects the call with its code and message', async () => {
    const upstream = gateway.upstreams[0];
    if (!upstream) throw new Error('no upstream');
    await expect(upstream.callTool('no_such_tool', {})).rejects.toThrow(/MCP error -32602: .*no_such_tool/);
  });

  it('calls in flight when the server exits fail at once; the next call starts a new server', async () => {
    const hanging = gateway.callTool('s3', 'flaky__hang', {});
    const started = Date.now();
    await expect(gateway.callTool('s3', 'flaky__crash', {})).rejects.toThrow(/upstream failed on `flaky__crash`/);
    await expect(hanging).rejects.toThrow(/upstream failed on `flaky__hang`: the upstream connection closed/);
    // Well before the 60 s call timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
    const next = await gateway.callTool('s3', 'flaky__ok', {});
    expect(next.kind === 'result' && textOf(next.result)).toMatch(/^ok from \d+$/);
  });
});
