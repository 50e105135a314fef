import { realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyDatabase } from '../../src/audit/inspect.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import type { Decision } from '../../src/core/decision.ts';
import { newSessionState } from '../../src/core/state.ts';
import { createGuard, type Guard } from '../../src/guard/guard.ts';
import { StoreError } from '../../src/store/errors.ts';
import { MemoryAuditLog, MemorySessionStore } from '../../src/store/memory.ts';
import { openStores } from '../../src/store/open.ts';
import { SqliteApprovalStore } from '../../src/store/sqlite/approvals.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { SqliteSessionStore } from '../../src/store/sqlite/sessions.ts';
import { counterIds, emailBot } from '../helpers.ts';
import { tempDir } from './stores.ts';

let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function dir(): string {
  const { dir, remove } = tempDir();
  cleanups.push(remove);
  return dir;
}

function track(guard: Guard): Guard {
  cleanups.push(() => guard.close().catch(() => undefined));
  return guard;
}

/** A guard whose failures are collected instead of printed. */
function guardOn(options: Partial<Parameters<typeof createGuard>[0]>) {
  const failures: string[] = [];
  const guard = track(
    createGuard({
      policy: emailBot(),
      newId: counterIds(),
      onError: (error, where) => failures.push(`${where}: ${(error as Error).message}`),
      ...options,
    }),
  );
  return { guard, failures };
}

function expectDenied(decision: Decision, code: string): void {
  expect(decision.effect).toBe('deny');
  expect(decision.reasons.map((r) => r.code)).toContain(code);
}

describe('fail closed', () => {
  it('store unavailable: a database that cannot be opened is a clear error, never an empty store', () => {
    const path = join(dir(), 'missing', 'dir', 'x.db');
    expect(() => new SqliteSessionStore(path)).toThrow(StoreError);
    expect(() => new SqliteSessionStore(path)).toThrow(/cannot open database `.*x\.db`/);
  });

  it('store unavailable: a session store locked by another process past the busy timeout denies, with an audit record', async () => {
    const base = dir();
    const sessions = new SqliteSessionStore(join(base, 'sessions.db'), { busyTimeoutMs: 50 });
    const audit = new MemoryAuditLog();
    const { guard, failures } = guardOn({ sessions, audit });
    await guard.session('s1');
    const locker = openDatabase(join(base, 'sessions.db'));
    locker.exec('BEGIN IMMEDIATE');
    try {
      const decision = await guard.check('s1', { id: 'c1', tool: 'get_time', args: {} });
      expectDenied(decision, 'store_error');
      expect(failures.join('\n')).toMatch(/session store: .*locked/);
      const logged = audit.events.at(-1);
      expect(logged).toMatchObject({ type: 'decision', decision: { effect: 'deny', callId: 'c1' } });
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect((await guard.check('s1', { id: 'c2', tool: 'get_time', args: {} })).effect).toBe('allow');
  });

  it('disk full: when the audit log cannot grow, the call is denied and the failure reported', async () => {
    const audit = new SqliteAuditLog(join(dir(), 'full.db'), { maxBytes: 64 * 1024 });
    const { guard, failures } = guardOn({ audit });
    await guard.session('s1');
    let decision: Decision | undefined;
    for (let i = 0; i < 2000; i++) {
      decision = await guard.check('s1', { id: `c${i}`, tool: 'get_time', args: { pad: 'x'.repeat(200) } });
      if (decision.effect !== 'allow') break;
      await guard.record('s1', `c${i}`, 'noon');
    }
    expectDenied(decision as Decision, 'audit_error');
    expect(failures.join('\n')).toMatch(/audit log: cannot write the audit log: database or disk is full/);
  });

  it('disk full inside a batch: SQLite drops the whole transaction, and nothing of the batch is written outside it', async () => {
    // An approval answered with `SqliteAuditLog.transact` (the approvals CLI) shares a batch with plain appends; the
    // disk fills up (another process, or `maxBytes` here) during its savepoint, which rolls back the transaction.
    const path = join(dir(), 'full-batch.db');
    const log = new SqliteAuditLog(path, { maxBytes: 128 * 1024 });
    cleanups.push(() => log.close().catch(() => undefined));
    const event = (i: number, reason: string) =>
      ({ type: 'result.ignored', at: i, sessionId: 's1', callId: `c${i}`, reason }) as const;
    let acknowledged = 0;
    let failed: PromiseSettledResult<unknown>[] | undefined;
    for (let i = 0; i < 1000 && !failed; i++) {
      const batch = await Promise.allSettled([
        log.append(event(i, 'before')),
        log.transact(() => ({ result: i, events: [event(i, 'x'.repeat(1000 + 50 * i))] })),
        log.append(event(i, 'after')),
      ]);
      acknowledged += batch.filter((r) => r.status === 'fulfilled').length;
      if (batch.some((r) => r.status === 'rejected')) failed = batch;
    }
    expect(failed?.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    // The log holds exactly what was acknowledged, and its chain has no hole.
    expect(log.size).toBe(acknowledged);
    const db = openDatabase(path, { readOnly: true });
    try {
      expect(verifyDatabase(db).issues).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('disk full inside a batch of session updates: nothing of the batch is written', async () => {
    const sessions = new SqliteSessionStore(join(dir(), 'full-sessions.db'), { maxBytes: 128 * 1024 });
    cleanups.push(() => sessions.close());
    const put = (id: string, pad: string) =>
      sessions.transact(id, () => ({
        state: { ...newSessionState({ id, configuration: 'dynamic', input: 'trusted', now: 0 }), parent: pad },
        result: id,
      }));
    let failed: { results: PromiseSettledResult<string>[]; ids: string[] } | undefined;
    for (let i = 0; i < 1000 && !failed; i++) {
      const ids = [`a${i}`, `b${i}`, `c${i}`];
      const results = await Promise.allSettled([
        put(ids[0] as string, ''),
        put(ids[1] as string, 'x'.repeat(1000 + 50 * i)),
        put(ids[2] as string, ''),
      ]);
      if (results.some((r) => r.status === 'rejected')) failed = { results, ids };
    }
    expect(failed?.results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const id of failed?.ids ?? []) expect(await sessions.get(id)).toBeUndefined();
  });

  it('write error: an injected write failure of the audit log denies; nothing is released unlogged', async () => {
    const path = join(dir(), 'inject.db');
    const audit = new SqliteAuditLog(path);
    const { guard, failures } = guardOn({ audit });
    await guard.session('s1');
    const db = openDatabase(path);
    db.exec(
      "CREATE TRIGGER fail BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'injected write error'); END",
    );
    db.close();
    const decision = await guard.check('s1', { id: 'c1', tool: 'get_time', args: {} });
    expectDenied(decision, 'audit_error');
    expect(failures).toEqual(['audit log: cannot write the audit log: injected write error']);
    expect((await guard.record('s1', 'c1', 'noon')).ok).toBe(false);
  });

  it('write error: an injected write failure of the session store denies', async () => {
    const path = join(dir(), 'inject-sessions.db');
    const sessions = new SqliteSessionStore(path);
    const audit = new MemoryAuditLog();
    const { guard } = guardOn({ sessions, audit });
    await guard.session('s1');
    const db = openDatabase(path);
    db.exec("CREATE TRIGGER fail BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'injected write error'); END");
    db.close();
    expectDenied(await guard.check('s1', { id: 'c1', tool: 'get_time', args: {} }), 'store_error');
    expect(audit.events.at(-1)).toMatchObject({ type: 'decision', decision: { effect: 'deny' } });
  });

  it('corrupted row: a session whose stored state is damaged denies instead of starting over', async () => {
    const path = join(dir(), 'corrupt.db');
    const sessions = new SqliteSessionStore(path);
    const audit = new MemoryAuditLog();
    const { guard } = guardOn({ sessions, audit });
    const s = await guard.session('s1', { input: 'untrusted' });
    const db = openDatabase(path);
    for (const state of ['{not json', '{"v":2,"id":"s1"}', '{"v":1,"id":"other","held":0}', 'null']) {
      db.prepare('UPDATE sessions SET state = ? WHERE id = ?').run(state, 's1');
      const decision = await s.check({ id: `c-${state.length}`, tool: 'get_time', args: {} });
      expectDenied(decision, 'store_error');
      expect(decision.reasons.find((r) => r.code === 'store_error')?.message).toMatch(/session `s1` is corrupt/);
      await expect(guard.session('s1')).rejects.toThrow(/corrupt/);
    }
    db.close();
    expect(
      audit.events
        .filter((e) => e.type === 'decision')
        .every((e) => e.type === 'decision' && e.decision.effect === 'deny'),
    ).toBe(true);
  });

  it('corrupted row: a damaged approval never yields a receipt', async () => {
    const path = join(dir(), 'corrupt-approval.db');
    const approvals = new SqliteApprovalStore(path);
    const audit = new MemoryAuditLog();
    const { guard } = guardOn({ approvals, audit });
    const s = await guard.session('s1', { input: 'untrusted' });
    await s.check({ id: 'c1', tool: 'search_contacts', args: {} });
    const asked = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
    const request = asked.approval as NonNullable<Decision['approval']>;
    await guard.answer(request.id, { approved: true });
    const db = openDatabase(path);
    db.prepare("UPDATE approvals SET record = json_set(record, '$.status', 'maybe') WHERE id = ?").run(request.id);
    db.close();
    const decision = await s.check(
      { id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } },
      { receipt: { requestId: request.id, hash: request.hash } },
    );
    expectDenied(decision, 'store_error');
    expect(audit.events.at(-1)).toMatchObject({ type: 'decision', decision: { effect: 'deny' } });
  });

  it('corrupted row: an audit log whose head disagrees with its records refuses appends, so calls are denied', async () => {
    const path = join(dir(), 'corrupt-audit.db');
    const first = new SqliteAuditLog(path);
    await first.append({ type: 'result.ignored', at: 1, sessionId: 's', callId: 'c', reason: 'x' });
    await first.close();
    const db = openDatabase(path);
    db.exec('DELETE FROM audit_records WHERE seq = 1');
    db.close();
    const audit = new SqliteAuditLog(path);
    const { guard, failures } = guardOn({ sessions: new MemorySessionStore(), audit });
    await expect(guard.session('s1')).rejects.toThrow(/head .* does not match/);
    expect(failures).toHaveLength(1);
  });

  for (const [what, change] of [
    ['the database deleted', (path: string) => rmSync(path)],
    ['the database moved away', (path: string) => renameSync(path, `${path}.old`)],
    ['its write-ahead log deleted', (path: string) => rmSync(`${path}-wal`)],
  ] as const) {
    it(`${what} while open: calls are denied, not logged to a file that is gone or no longer read`, async () => {
      const path = join(dir(), 'gone.db');
      const stores = await openStores({ path, env: {}, walCheckpointer: false });
      const { guard, failures } = guardOn(stores);
      const session = await guard.session('s1');
      expect((await session.check({ id: 'c1', tool: 'get_time', args: {} })).effect).toBe('allow');
      change(path);
      // Once the database is gone, a reopened store starts empty: a session that held A and B would hold nothing.
      const decision = await session.check({ id: 'c2', tool: 'get_time', args: {} });
      expectDenied(decision, 'audit_error');
      expect(decision.reasons.at(-1)?.message).toBe(
        `audit log failed: the database \`${realpathSync(dirname(path))}/gone.db\` was deleted, moved or replaced while open`,
      );
      expectDenied(await session.check({ id: 'c3', tool: 'get_time', args: {} }), 'audit_error');
      expect(failures.length).toBeGreaterThan(0);
    });
  }

  it('approval after expiry: a yes that arrives too late denies and the expiry is audited', async () => {
    let now = 1_700_000_000_000;
    const audit = new MemoryAuditLog();
    const { guard } = guardOn({
      audit,
      now: () => now,
      approvalTimeoutMs: 60_000,
      approver: async (request) => {
        now = request.expiresAt + 1;
        return true;
      },
    });
    const s = await guard.session('s1', { input: 'untrusted' });
    await s.check({ id: 'c1', tool: 'search_contacts', args: {} });
    await s.record('c1', []);
    const decision = await s.authorize({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
    expectDenied(decision, 'approval_denied');
    expect(audit.events.find((e) => e.type === 'approval.answer')).toMatchObject({ status: 'expired' });
    expect(audit.events.at(-1)).toMatchObject({ type: 'decision', decision: { effect: 'deny', callId: 'c2' } });
  });
});
