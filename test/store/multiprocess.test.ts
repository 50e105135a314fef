import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyDatabase } from '../../src/audit/inspect.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { newSessionState } from '../../src/core/state.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { openStores } from '../../src/store/open.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { counterIds, emailBot } from '../helpers.ts';
import { tempDir } from './stores.ts';

const run = promisify(execFile);
const child = (script: string, ...args: string[]) =>
  run(process.execPath, [join(import.meta.dirname, 'children', script), ...args], { timeout: 60_000 });

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/** A fresh database with what `children/hammer.ts` works on: the session `shared` and a `counter` session at 0. */
async function hammerDatabase(): Promise<string> {
  const { dir, remove } = tempDir();
  cleanup = remove;
  const path = join(dir, 'shared.db');
  const stores = await openStores({ path });
  const guard = createGuard({ policy: emailBot(), ...stores });
  await guard.session('shared');
  await stores.sessions.transact('counter', () => ({
    state: newSessionState({ id: 'counter', configuration: 'dynamic', input: 'trusted', now: 0 }),
    result: undefined,
  }));
  await guard.close();
  return path;
}

describe('sqlite stores across processes', () => {
  it('two processes hammering one session lose no update and never reuse a sequence number', async () => {
    const path = await hammerDatabase();

    const per = 150;
    const [a, b] = await Promise.all([
      child('hammer.ts', path, 'p1', `${per}`),
      child('hammer.ts', path, 'p2', `${per}`),
    ]);
    const seqs = [...JSON.parse(a.stdout), ...JSON.parse(b.stdout)] as number[];
    expect(seqs).toHaveLength(2 * per);
    expect(new Set(seqs).size).toBe(2 * per);

    const after = await openStores({ path });
    try {
      expect((await after.sessions.get('counter'))?.seq).toBe(2 * per);
      const shared = await after.sessions.get('shared');
      expect(shared?.pending).toEqual([]);
      // Each call is one decision and one recorded result: two sequence numbers per call.
      expect(shared?.seq).toBe(4 * per);
    } finally {
      await after.close();
    }
    const db = openDatabase(path, { readOnly: true });
    try {
      const report = verifyDatabase(db);
      expect(report.issues).toEqual([]);
      // session.open, then a decision and a result per call from both processes.
      expect(report.records).toBe(1 + 4 * per);
    } finally {
      db.close();
    }
  });

  it('reads a consistent head of the audit log while another process appends', async () => {
    const path = await hammerDatabase();
    const log = new SqliteAuditLog(path);
    try {
      const appending = child('hammer.ts', path, 'p1', '300');
      let done = false;
      const finished = () => {
        done = true;
      };
      appending.then(finished, finished);
      // The head and the last record are two reads; between them the other process appends all the time.
      let reads = 0;
      let last = 0;
      while (!done) {
        for (let i = 0; i < 200; i++, reads++) {
          const size = log.size;
          expect(size).toBeGreaterThanOrEqual(last);
          last = size;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      await appending;
      expect(reads).toBeGreaterThan(0);
      // session.open, then a decision and a result per call.
      expect(log.size).toBe(1 + 2 * 300);
    } finally {
      await log.close();
    }
  });

  it('an approval answered in one process is seen, and its receipt used once, in another', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const path = join(dir, 'approvals.db');
    const stores = await openStores({ path });
    const guard = createGuard({ policy: emailBot(), ...stores, newId: counterIds() });
    try {
      const s = await guard.session('s1', { input: 'untrusted' });
      await s.check({ id: 'c1', tool: 'search_contacts', args: {} });
      await s.record('c1', []);
      const asked = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
      const request = asked.approval;
      if (!request) throw new Error('expected an approval request');
      const answered = JSON.parse((await child('approve.ts', path, 'approve', request.id)).stdout);
      expect(answered).toMatchObject({ changed: true, record: { status: 'approved' } });
      expect(await stores.approvals.get(request.id)).toMatchObject({ status: 'approved', by: 'other-process' });

      const receipt = { requestId: request.id, hash: request.hash };
      const allowed = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } }, { receipt });
      expect(allowed.effect).toBe('allow');
      const replay = JSON.parse((await child('approve.ts', path, 'consume', request.id, request.hash)).stdout);
      expect(replay).toEqual({ ok: false, failure: 'used' });
    } finally {
      await guard.close();
    }
  });
});
