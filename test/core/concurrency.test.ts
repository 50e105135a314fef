import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/decision.ts';
import type { PolicyDocument } from '../../src/core/document.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import type { SessionState } from '../../src/core/state.ts';
import { createGuard, type Guard } from '../../src/guard/guard.ts';
import { MemorySessionStore } from '../../src/store/memory.ts';
import type { SessionStore, SessionUpdate } from '../../src/store/types.ts';
import { counterIds } from '../helpers.ts';
import type { ModelPolicyDoc } from '../model/reference.ts';
import { argsArb, CALL_TOOLS, policyArb, type TraceEvent, traceArb } from './trace.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A store that yields between reading and writing, like a networked store: the update may run on a state that is
 * stale by the time it is written. With `atomic`, it detects that (a version check, as a SQL `UPDATE ... WHERE
 * version = ?` would) and runs the update again; without, it is a broken store that loses updates.
 */
class YieldingStore implements SessionStore {
  #data = new Map<string, { state: SessionState; version: number }>();
  #yields: readonly number[];
  #next = 0;
  readonly #atomic: boolean;
  /** How often an update ran on a stale state and was run again. */
  retries = 0;
  constructor(yields: readonly number[], atomic: boolean) {
    this.#yields = yields;
    this.#atomic = atomic;
  }
  async #pause(): Promise<void> {
    const count = this.#yields[this.#next++ % this.#yields.length] ?? 0;
    for (let i = 0; i < count; i++) await tick();
  }
  async transact<T>(sessionId: string, update: SessionUpdate<T>): Promise<T> {
    for (;;) {
      const read = this.#data.get(sessionId);
      await this.#pause();
      const { state, result } = update(read?.state);
      await this.#pause();
      const current = this.#data.get(sessionId);
      if (this.#atomic && current?.version !== read?.version) {
        this.retries++;
        continue;
      }
      if (state !== undefined) this.#data.set(sessionId, { state, version: (current?.version ?? 0) + 1 });
      return result;
    }
  }
  async get(sessionId: string): Promise<SessionState | undefined> {
    await this.#pause();
    return this.#data.get(sessionId)?.state;
  }
  async close(): Promise<void> {}
}

function guardWith(doc: ModelPolicyDoc, sessions: SessionStore): Guard {
  return createGuard({
    policy: compilePolicy(doc as unknown as PolicyDocument),
    sessions,
    now: () => 1_000_000,
    newId: counterIds('r'),
  });
}

/** Plays the serial part of a trace (sessions, calls, results, drops) on one session. */
async function playPrefix(guard: Guard, prefix: readonly TraceEvent[]): Promise<void> {
  for (const event of prefix) {
    if (event.t === 'open') await guard.session(event.s, event.input ? { input: event.input } : {}).catch(() => {});
    if (event.t === 'call') await guard.check('s1', { id: event.id, tool: event.tool, args: event.args });
    if (event.t === 'result') await guard.record('s1', event.id === 'last' ? 'c1' : event.id, event.output);
    if (event.t === 'drop') await guard.drop('s1', event.leg);
  }
}

/** A decision without what depends on the order ids were minted in. */
function summary(decision: Decision) {
  const { approval, ...rest } = decision;
  return { ...rest, approval: approval ? { seq: approval.seq, hash: approval.hash } : undefined };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

const batchArb = fc.array(
  fc.record({ id: fc.constantFrom('d1', 'd2', 'd3', 'd4'), tool: fc.constantFrom(...CALL_TOOLS), args: argsArb }),
  { minLength: 2, maxLength: 4 },
);
const yieldsArb = fc.array(fc.nat(2), { minLength: 1, maxLength: 12 });

/**
 * Runs a batch of checks concurrently after a serial prefix, and looks for a serial order of the same checks that
 * yields the same decisions and the same final state. Returns a description of the mismatch, or undefined.
 */
async function concurrentMatchesSomeSerialOrder(
  doc: ModelPolicyDoc,
  prefix: readonly TraceEvent[],
  batch: readonly { id: string; tool: string; args: unknown }[],
  store: SessionStore,
): Promise<string | undefined> {
  const guard = guardWith(doc, store);
  await guard.session('s1', { input: 'trusted' });
  await playPrefix(guard, prefix);
  const concurrent = (await Promise.all(batch.map((call) => guard.check('s1', call)))).map(summary);
  const finalView = await guard.view('s1');
  for (const order of permutations(batch.map((_, i) => i))) {
    const serial = guardWith(doc, new MemorySessionStore());
    await serial.session('s1', { input: 'trusted' });
    await playPrefix(serial, prefix);
    const decisions: ReturnType<typeof summary>[] = [];
    for (const i of order) decisions[i] = summary(await serial.check('s1', batch[i] as (typeof batch)[number]));
    if (
      JSON.stringify(decisions) === JSON.stringify(concurrent) &&
      JSON.stringify(await serial.view('s1')) === JSON.stringify(finalView)
    ) {
      return undefined;
    }
  }
  return `no serial order explains ${JSON.stringify(concurrent.map((d) => [d.callId, d.effect, d.legsBefore]))}`;
}

describe('concurrent checks in one session', () => {
  it('match some serial order with the memory store', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, batchArb, async (doc, trace, batch) => {
        expect(
          await concurrentMatchesSomeSerialOrder(doc, trace.slice(2, 10), batch, new MemorySessionStore()),
        ).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('match some serial order with a store that yields between read and write', async () => {
    let retries = 0;
    await fc.assert(
      fc.asyncProperty(policyArb, traceArb, batchArb, yieldsArb, async (doc, trace, batch, yields) => {
        const store = new YieldingStore(yields, true);
        expect(await concurrentMatchesSomeSerialOrder(doc, trace.slice(2, 10), batch, store)).toBeUndefined();
        retries += store.retries;
      }),
      { numRuns: 300 },
    );
    // Updates really ran on stale states and were retried: the races were provoked.
    expect(retries).toBeGreaterThan(50);
  });

  it('catch a store that loses updates (the property can fail)', async () => {
    const result = await fc.check(
      fc.asyncProperty(policyArb, traceArb, batchArb, yieldsArb, async (doc, trace, batch, yields) => {
        const store = new YieldingStore(
          yields.map((n) => n + 1),
          false,
        );
        return (await concurrentMatchesSomeSerialOrder(doc, trace.slice(2, 10), batch, store)) === undefined;
      }),
      { numRuns: 300 },
    );
    expect(result.failed).toBe(true);
  });
});
