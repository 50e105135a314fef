import { describe, expect, it } from 'vitest';
import { MemoryApprovalStore, MemoryAuditLog } from '../../src/store/memory.ts';
import { MAX_ON_TAPE, WRITE_AFTER } from '../../src/store/memory-audit.ts';
import type { AuditEvent } from '../../src/store/types.ts';

const T0 = 1_700_000_000_000;

function ignored(i: number, reason = `late ${i}`): AuditEvent {
  return { type: 'result.ignored', at: T0 + i, sessionId: 's1', callId: `c${i}`, reason };
}

describe('MemoryAuditLog', () => {
  it('keeps events across storage chunks, in order, with text outside ASCII and events larger than a chunk', async () => {
    const log = new MemoryAuditLog();
    const appended: AuditEvent[] = [];
    // About 1 KiB each: several 1 MiB chunks, so records meet chunk ends at arbitrary offsets.
    for (let i = 0; i < 3000; i++)
      appended.push(ignored(i, `${'é€😀 "quoted" \\ \n'.repeat(30)}${'x'.repeat(i % 97)}`));
    appended.push(ignored(3000, 'y'.repeat(3 << 20)));
    appended.push(ignored(3001, '\u2028\ud800 lone surrogate'));
    for (const event of appended) await log.append(event);
    expect(log.size).toBe(appended.length);
    const read = log.events;
    expect(read).toHaveLength(appended.length);
    expect(read).toEqual(appended);
  });

  it('writes events out while the event loop is free, in order with those appended after', async () => {
    const log = new MemoryAuditLog();
    const appended = Array.from({ length: 1500 }, (_, i) => ignored(i));
    for (const event of appended.slice(0, 1000)) await log.append(event);
    expect(log.onTape).toBe(1000);
    // Several turns of the event loop: the log writes its tapes out in batches meanwhile.
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(log.onTape).toBeLessThan(WRITE_AFTER);
    for (const event of appended.slice(1000)) await log.append(event);
    expect(log.size).toBe(1500);
    expect(log.events).toEqual(appended);
    await log.append(ignored(1500));
    expect(log.events).toEqual([...appended, ignored(1500)]);
  });

  it('keeps events in order, and at most MAX_ON_TAPE on tape, when the event loop never turns', async () => {
    const log = new MemoryAuditLog();
    const count = MAX_ON_TAPE + 5000;
    let most = 0;
    for (let i = 0; i < count; i++) {
      await log.append(ignored(i, 'r'));
      most = Math.max(most, log.onTape);
    }
    // It did keep events on tape, and wrote a batch out itself each time the bound was reached.
    expect(most).toBe(MAX_ON_TAPE - 1);
    expect(log.onTape).toBeLessThan(MAX_ON_TAPE);
    const read = log.events;
    expect(read).toHaveLength(count);
    expect(read.every((event, i) => event.type === 'result.ignored' && event.callId === `c${i}`)).toBe(true);
  });

  it('holds a copy: changing an event after appending it, or what was read, does not change the log', async () => {
    const log = new MemoryAuditLog();
    const detail = { leg: 'C', nested: { list: [1, 2] } };
    await log.append({ type: 'transition', at: T0, sessionId: 's1', kind: 'drop', detail });
    detail.nested.list.push(3);
    const first = log.events[0];
    if (first?.type === 'transition') first.detail.leg = 'A';
    expect(log.events[0]).toEqual({
      type: 'transition',
      at: T0,
      sessionId: 's1',
      kind: 'drop',
      detail: { leg: 'C', nested: { list: [1, 2] } },
    });
  });

  it.each([
    ['a cycle', () => ({ self: {} as Record<string, unknown> }), /cycle/],
    ['a non-finite number', () => ({ n: Number.NaN }), /non-finite number/],
    ['a function', () => ({ f: () => 1 }), /value of type function/],
    ['undefined in an array', () => ({ list: [1, undefined] }), /value of type undefined/],
    ['a class instance', () => ({ when: new Date(T0) }), /non-plain object/],
    ['a bigint', () => ({ n: 1n }), /value of type bigint/],
  ])('refuses %s with the canonical JSON message, and the log goes on', async (_name, detailOf, message) => {
    const log = new MemoryAuditLog();
    const detail = detailOf() as Record<string, unknown>;
    if ('self' in detail) (detail.self as Record<string, unknown>).self = detail.self;
    await expect(log.append({ type: 'transition', at: T0, sessionId: 's1', kind: 'fork', detail })).rejects.toThrow(
      message,
    );
    await log.append(ignored(1));
    expect(log.events).toEqual([ignored(1)]);
    expect(log.size).toBe(1);
  });

  it('accepts what canonical JSON accepts: shared (not cyclic) objects, null prototypes, undefined properties', async () => {
    const log = new MemoryAuditLog();
    const shared = { leg: 'B' };
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    await log.append({
      type: 'transition',
      at: T0,
      sessionId: 's1',
      kind: 'fork',
      detail: { one: shared, two: [shared, shared], bare, gone: undefined, n: -0, ['__proto__']: { own: true } },
    });
    expect(log.events[0]).toEqual({
      type: 'transition',
      at: T0,
      sessionId: 's1',
      kind: 'fork',
      detail: JSON.parse(
        '{"one":{"leg":"B"},"two":[{"leg":"B"},{"leg":"B"}],"bare":{"a":1},"n":0,"__proto__":{"own":true}}',
      ),
    });
    const detail = log.events[0]?.type === 'transition' ? log.events[0].detail : {};
    expect(Object.getPrototypeOf(detail)).toBe(Object.prototype);
    expect(Object.keys(detail)).toContain('__proto__');
  });
});

describe('MemoryApprovalStore', () => {
  it('lists a session through its index, with or without a status filter', async () => {
    const store = new MemoryApprovalStore();
    const request = (id: string, sessionId: string) => ({
      id,
      hash: `h-${id}`,
      sessionId,
      seq: 1,
      callId: `call-${id}`,
      tool: 'send_email',
      args: {},
      policyVersion: 'v',
      createdAt: T0,
      expiresAt: T0 + 1000,
      legsBefore: 'AB',
      legsIfApproved: 'ABC',
      reasons: [],
      evidence: [],
    });
    await store.create(request('r1', 's1'));
    await store.create(request('r2', 's2'));
    await store.create(request('r3', 's1'));
    await store.answer('r3', { approved: false }, T0);
    const ids = async (filter: Parameters<MemoryApprovalStore['list']>[0]) =>
      (await store.list(filter)).map((r) => r.request.id);
    expect(await ids({ sessionId: 's1' })).toEqual(['r1', 'r3']);
    expect(await ids({ sessionId: 's1', status: 'denied' })).toEqual(['r3']);
    expect(await ids({ sessionId: 's3' })).toEqual([]);
    expect(await ids({ status: 'pending' })).toEqual(['r1', 'r2']);
  });
});
