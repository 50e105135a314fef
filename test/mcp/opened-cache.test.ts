import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/mcp/config.ts';
import { DECISION_META_KEY, Gateway, OPENED_MAX } from '../../src/mcp/gateway.ts';
import { memoryStores } from '../../src/mcp/run.ts';
import { MemorySessionStore } from '../../src/store/memory.ts';
import type { SessionUpdate } from '../../src/store/types.ts';
import { fixtureServer } from './harness.ts';

// The gateway remembers which sessions it opened, so a call does not reopen its session in the store each time. That
// cache is bounded: a client naming a new session per call cannot grow the gateway without limit. Real memory stores
// (the session store counts its transactions per session) and the real SDK flaky server upstream.

/** The memory session store, counting transactions per session. */
class CountingSessions extends MemorySessionStore {
  readonly counts = new Map<string, number>();
  override transact<T>(sessionId: string, update: SessionUpdate<T>): Promise<T> {
    this.counts.set(sessionId, (this.counts.get(sessionId) ?? 0) + 1);
    return super.transact(sessionId, update);
  }
}

let gateway: Gateway;
const sessions = new CountingSessions();

beforeAll(async () => {
  const config = await parseGatewayConfig(
    JSON.stringify({
      version: 1,
      pinning: 'off',
      store: { kind: 'memory' },
      policy: { version: 1, session: { input: 'trusted' }, approvals: { gate: 'deny' } },
      servers: { flaky: { ...fixtureServer('flaky-server'), tools: { ok: { output: 'AB' }, noise: { call: 'C' } } } },
    }),
    '/',
  );
  gateway = await Gateway.start(config, { stores: { ...memoryStores(), sessions } });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
});

/** The consequential call in session `held`: its decision, and how many store transactions it took. */
async function consequential(): Promise<{ decision: Record<string, unknown>; transactions: number }> {
  const before = sessions.counts.get('held') ?? 0;
  const outcome = await gateway.callTool('held', 'flaky__noise', {});
  if (outcome.kind !== 'result') throw new Error('asked instead of deciding');
  const decision = outcome.result._meta?.[DECISION_META_KEY] as Record<string, unknown>;
  return { decision, transactions: (sessions.counts.get('held') ?? 0) - before };
}

describe('the cache of opened sessions', () => {
  it(`forgets every session past ${OPENED_MAX}, and a forgotten session is reopened with the legs it held`, async () => {
    // `held` holds A and B, so a consequential call in it is denied: one transaction (the decision), no reopening.
    await gateway.callTool('held', 'flaky__ok', {});
    const denied = { effect: 'deny', legsBefore: 'AB', reasons: ['lethal_trifecta'] };
    expect(await consequential()).toEqual({ decision: expect.objectContaining(denied), transactions: 1 });
    // Filled to the bound, the cache still holds `held`.
    for (let i = 1; i < OPENED_MAX; i++) await gateway.openSession(`s${i}`);
    expect(await consequential()).toEqual({ decision: expect.objectContaining(denied), transactions: 1 });
    // One more session clears it: `held` is opened again (a second transaction), and the store still has its legs.
    await gateway.openSession('one-too-many');
    expect(await consequential()).toEqual({ decision: expect.objectContaining(denied), transactions: 2 });
    expect(await consequential()).toEqual({ decision: expect.objectContaining(denied), transactions: 1 });
  }, 60_000);
});
