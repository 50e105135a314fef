import fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readRecords, SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { openStores } from '../../src/store/open.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import type { AuditEvent } from '../../src/store/types.ts';
import { counterIds, emailBot } from '../helpers.ts';
import { tempDir } from './stores.ts';

// A disk that fails or stalls cannot be made here, so these tests take over `fs.fdatasync`, the one call through
// which the audit log syncs its write-ahead log; everything else (SQLite, the file, the guard) is real.
let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function path(name: string): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return join(dir.dir, name);
}

const event = (callId: string): AuditEvent => ({ type: 'result.ignored', at: 1, sessionId: 's', callId, reason: 'r' });

/** Holds every fdatasync until released; records what was committed when each one started. */
function holdSyncs(file: string) {
  const started: { seen: string[]; release: (error?: NodeJS.ErrnoException) => void }[] = [];
  const real = fs.fdatasync;
  vi.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, callback: (error: Error | null) => void) => {
    const reader = openDatabase(file, { readOnly: true });
    const seen = [...readRecords(reader)].map((r) => JSON.parse(r.text).event.callId as string);
    reader.close();
    started.push({
      seen,
      release: (error) => (error ? callback(error) : real(fd, callback)),
    });
  }) as typeof fs.fdatasync);
  return started;
}

/** Whether `promise` has settled after the event loop has turned a few times. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('audit appends are acknowledged after a sync of the write-ahead log', () => {
  it('an append resolves only after a sync that started once its record was committed', async () => {
    const file = path('held.db');
    const log = new SqliteAuditLog(file);
    const syncs = holdSyncs(file);
    const first = log.append(event('a'));
    expect(await settled(first)).toBe(false);
    expect(syncs.map((s) => s.seen)).toEqual([['a']]);
    // Appends made while a sync runs are committed at once, and wait for the next sync, which starts after it.
    const later = [log.append(event('b')), log.append(event('c'))];
    expect(await settled(Promise.race(later))).toBe(false);
    const reader = openDatabase(file, { readOnly: true });
    expect([...readRecords(reader)].map((r) => JSON.parse(r.text).event.callId)).toEqual(['a', 'b', 'c']);
    reader.close();
    expect(syncs).toHaveLength(1);
    syncs[0]?.release();
    await first;
    expect(await settled(Promise.race(later))).toBe(false);
    expect(syncs.map((s) => s.seen)).toEqual([['a'], ['a', 'b', 'c']]);
    syncs[1]?.release();
    await Promise.all(later);
    const closing = log.close();
    // close() writes its final checkpoint and waits for that to be synced too.
    await vi.waitFor(() => expect(syncs).toHaveLength(3));
    expect(await settled(closing)).toBe(false);
    syncs[2]?.release();
    await closing;
  });

  it('a failed sync rejects every pending and later append, and the guard denies', async () => {
    const file = path('failing.db');
    const audit = new SqliteAuditLog(file);
    const failures: string[] = [];
    const guard = createGuard({
      policy: emailBot(),
      audit,
      newId: counterIds(),
      onError: (error, where) => failures.push(`${where}: ${(error as Error).message}`),
    });
    await guard.session('s1');
    const syncs = holdSyncs(file);
    const pending = audit.append(event('pending'));
    await vi.waitFor(() => expect(syncs).toHaveLength(1));
    // Committed while the sync runs, waiting for the next one.
    const queued = audit.append(event('queued'));
    expect(await settled(queued)).toBe(false);
    syncs[0]?.release(Object.assign(new Error('i/o error'), { code: 'EIO' }));
    await expect(pending).rejects.toThrow('cannot sync the write-ahead log: EIO');
    await expect(queued).rejects.toThrow('cannot sync the write-ahead log: EIO');
    // INVARIANT (src/store/sqlite/wal-sync.ts): nothing is acknowledged after a failed sync, though a new sync would
    // succeed: the kernel may have dropped the pages that failed.
    vi.restoreAllMocks();
    await expect(audit.append(event('later'))).rejects.toThrow('cannot sync the write-ahead log: EIO');
    const decision = await guard.check('s1', { id: 'c1', tool: 'get_time', args: {} });
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.map((r) => r.code)).toContain('audit_error');
    expect(failures.at(-1)).toMatch(/audit log: cannot sync the write-ahead log: EIO/);
    await expect(audit.close()).rejects.toThrow(/EIO/);
    // What was committed but never acknowledged may stay, as after a crash between commit and sync; nothing is
    // written after the failure.
    const db = openDatabase(file, { readOnly: true });
    const calls = [...readRecords(db)].map((r) => JSON.parse(r.text).event.callId);
    expect(calls).toContain('queued');
    expect(calls).not.toContain('later');
    db.close();
  });

  it('close waits for every append and sync, then every acknowledged record is in the file', async () => {
    const file = path('close.db');
    const log = new SqliteAuditLog(file);
    const syncs = vi.spyOn(fs, 'fdatasync');
    const appends = Array.from({ length: 500 }, (_, i) => log.append(event(`c${i}`)));
    await log.close();
    await Promise.all(appends);
    expect(syncs).toHaveBeenCalled();
    const db = openDatabase(file, { readOnly: true });
    expect([...readRecords(db)].map((r) => JSON.parse(r.text).event.callId)).toEqual(
      Array.from({ length: 500 }, (_, i) => `c${i}`),
    );
    db.close();
  });

  it('two closes at once (a gateway stopped by SIGTERM as its stdin closes) both resolve, and close the log once', async () => {
    const file = path('closed-twice.db');
    const stores = await openStores({ path: file, env: {} });
    const guard = createGuard({ policy: emailBot(), newId: counterIds(), ...stores });
    await guard.check((await guard.session('s1')).id, { id: 'c1', tool: 'get_time', args: {} });
    const closes = vi.spyOn(fs, 'closeSync');
    const outcomes = await Promise.allSettled([guard.close(), guard.close(), stores.close()]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    // The write-ahead log's descriptor is closed once: closing a number twice can close a file opened since.
    expect(closes).toHaveBeenCalledTimes(1);
  });

  it('with `synchronous: normal`, or `walSync: false` (SQLite syncs in the commit), no sync is left for later', async () => {
    const syncs = vi.spyOn(fs, 'fdatasync');
    for (const options of [{ synchronous: 'normal' as const }, { walSync: false }]) {
      const log = new SqliteAuditLog(path('other.db'), options);
      await log.append(event('a'));
      await log.close();
    }
    expect(syncs).not.toHaveBeenCalled();
  });

  it('openStores: a guarded call is released only after its audit record is synced', async () => {
    const stores = await openStores({ path: path('stores.db'), walCheckpointer: false });
    cleanups.push(() => stores.close());
    const guard = createGuard({ policy: emailBot(), newId: counterIds(), ...stores });
    await guard.session('s1');
    const syncs = vi.spyOn(fs, 'fdatasync');
    const decision = await guard.check('s1', { id: 'c1', tool: 'get_time', args: {} });
    expect(decision.effect).toBe('allow');
    expect(syncs).toHaveBeenCalledTimes(1);
  });
});
