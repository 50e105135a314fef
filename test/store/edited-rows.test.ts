import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRecord } from '../../src/audit/record.ts';
import { readRecords } from '../../src/audit/sqlite-log.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { openStores } from '../../src/store/open.ts';
import type { AuditEvent } from '../../src/store/types.ts';
import { emailBotDocument } from '../helpers.ts';
import { tempDir } from './stores.ts';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function events(path: string): AuditEvent[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return [...readRecords(db)].map((stored) => {
      const parsed = parseRecord(stored.text);
      if (!parsed.ok) throw new Error(parsed.problem.message);
      return parsed.record.event;
    });
  } finally {
    db.close();
  }
}

/**
 * The database is inside the trust boundary (docs/stores.md): whoever can write it can change what the guard
 * enforces. These tests pin down what the guard does with such an edit, and that the audit log shows it.
 */
describe('rows edited in the database by another process', () => {
  it('legs lowered in a session row: the guard trusts them, and the next decision contradicts the log', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const path = join(dir, 'g.db');
    const stores = await openStores({ path, env: {} });
    const guard = createGuard({ policy: emailBotDocument, ...stores });
    try {
      const session = await guard.session('s1');
      await session.check({ id: 'c1', tool: 'read_inbox', args: {} });
      await session.record('c1', 'mail');
      const db = new DatabaseSync(path);
      const row = db.prepare("SELECT state FROM sessions WHERE id = 's1'").get() as { state: string };
      const state = { ...JSON.parse(row.state), held: 0, evidence: [] };
      db.prepare("UPDATE sessions SET state = ? WHERE id = 's1'").run(JSON.stringify(state));
      db.close();
      const send = await session.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
      expect(send.effect).toBe('allow');
    } finally {
      await stores.close();
    }
    const log = events(path);
    const result = log.find((e) => e.type === 'result');
    const last = log.at(-1);
    expect(result).toMatchObject({ legsAfter: 'AB' });
    // Nothing between them dropped a leg: a decision that starts from fewer legs than the last record left is an edit.
    expect(last).toMatchObject({ type: 'decision', decision: { effect: 'allow', legsBefore: '' } });
    expect(log.filter((e) => e.type === 'transition')).toEqual([]);
  });

  it('an approval row set to `approved`: its receipt is accepted, and the log holds no answer for it', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const path = join(dir, 'g.db');
    const stores = await openStores({ path, env: {} });
    const guard = createGuard({ policy: emailBotDocument, ...stores });
    let id = '';
    try {
      const session = await guard.session('s1');
      await session.check({ id: 'c1', tool: 'read_inbox', args: {} });
      await session.record('c1', 'mail');
      const call = { id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } };
      const asked = await session.check(call);
      expect(asked.effect).toBe('ask');
      id = asked.approval?.id as string;
      const db = new DatabaseSync(path);
      const row = db.prepare('SELECT record FROM approvals WHERE id = ?').get(id) as { record: string };
      const record = { ...JSON.parse(row.record), status: 'approved', by: 'nobody' };
      db.prepare('UPDATE approvals SET status = ?, record = ? WHERE id = ?').run(
        'approved',
        JSON.stringify(record),
        id,
      );
      db.close();
      const receipt = { requestId: id, hash: asked.approval?.hash as string };
      expect((await session.check(call, { receipt })).effect).toBe('allow');
    } finally {
      await stores.close();
    }
    const log = events(path);
    expect(log.some((e) => e.type === 'approval.request' && e.request.id === id)).toBe(true);
    expect(log.some((e) => e.type === 'approval.answer' && e.requestId === id)).toBe(false);
    const allowed = log.at(-1);
    expect(allowed).toMatchObject({ type: 'decision', decision: { effect: 'allow' } });
    expect(JSON.stringify(allowed)).toContain(id);
  });
});
