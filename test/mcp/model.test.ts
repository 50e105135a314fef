import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { Gateway } from '../../src/mcp/gateway.ts';
import { memoryStores } from '../../src/mcp/run.ts';
import { fixtureServer, tempDir, textOf, writeConfig } from './harness.ts';

// The gateway against an obviously correct model of the Rule of Two, on generated call sequences: a call reaches the
// upstream exactly when the model allows it. The upstream is a real MCP server that counts the calls it runs.

const LABELS: Record<string, { call?: string; output?: string }> = {
  a: { output: 'A' },
  b: { output: 'B' },
  ab: { output: 'AB' },
  c: { call: 'C' },
  bc: { call: 'BC' },
  plain: {},
};

let gateway: Gateway;
let remove: () => Promise<void>;
let upstreamCalls = 0;

beforeAll(async () => {
  const temp = await tempDir();
  remove = temp.remove;
  const file = await writeConfig(temp.dir, {
    version: 1,
    pinning: 'off',
    policy: { version: 1, session: { input: 'trusted' } },
    servers: {
      up: {
        ...fixtureServer('counter-server'),
        env: { COUNTER_TOOLS: Object.keys(LABELS).join(',') },
        tools: LABELS,
      },
    },
  });
  gateway = await Gateway.start(await loadGatewayConfig(file), { stores: memoryStores() });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await remove?.();
});

/** The reference: C is refused while A and B are held or conferred by the call; otherwise legs accumulate. */
function modelAllows(held: Set<string>, tool: string): boolean {
  const label = LABELS[tool] ?? {};
  const pre = new Set(label.call ?? '');
  const consequential = pre.has('C');
  const a = held.has('A') || pre.has('A');
  const b = held.has('B') || pre.has('B');
  if (consequential && a && b) return false;
  for (const leg of `${label.call ?? ''}${label.output ?? ''}`) held.add(leg);
  return true;
}

describe('gateway vs the Rule-of-Two model', () => {
  it('forwards a call exactly when the model allows it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...Object.keys(LABELS)), { minLength: 1, maxLength: 8 }),
        async (tools) => {
          const session = crypto.randomUUID();
          const held = new Set<string>();
          for (const tool of tools) {
            const allowed = modelAllows(held, tool);
            const outcome = await gateway.callTool(session, `up__${tool}`, {});
            if (allowed) {
              expect(outcome.kind).toBe('result');
              const result = outcome.kind === 'result' ? outcome.result : undefined;
              expect(result?.isError).not.toBe(true);
              expect(Number(textOf(result ?? {}))).toBe(++upstreamCalls);
            } else {
              // No elicitation here: the ask is returned to the caller and nothing reaches the upstream.
              expect(outcome.kind).toBe('ask');
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('gateway output that cannot be recorded', () => {
  it('an output that cannot be recorded is withheld', async () => {
    const temp = await tempDir();
    const file = await writeConfig(temp.dir, {
      version: 1,
      pinning: 'off',
      policy: { version: 1, session: { input: 'trusted' } },
      servers: {
        up: { ...fixtureServer('counter-server'), env: { COUNTER_TOOLS: 'b' }, tools: { b: { output: 'B' } } },
      },
    });
    const stores = memoryStores();
    // The audit log refuses result records: the output reached the gateway, but the session cannot hold it.
    const failing = {
      append: async (event: Parameters<typeof stores.audit.append>[0]) => {
        if (event.type === 'result') throw new Error('disk full');
        await stores.audit.append(event);
      },
      close: async () => {},
    };
    const local = await Gateway.start(await loadGatewayConfig(file), { stores: { ...stores, audit: failing } });
    try {
      const outcome = await local.callTool('s', 'up__b', {});
      expect(outcome.kind).toBe('result');
      const result = outcome.kind === 'result' ? outcome.result : undefined;
      expect(result?.isError).toBe(true);
      expect(textOf(result ?? {})).toContain('could not record its output');
      expect(textOf(result ?? {})).not.toMatch(/^\d+$/);
    } finally {
      await local.close();
      await temp.remove();
    }
  }, 30_000);
});
