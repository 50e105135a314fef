import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { readRecords } from '../../src/audit/sqlite-log.ts';
import { MemoryApprovalStore, MemoryAuditLog, MemorySessionStore } from '../../src/store/memory.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { SqliteApprovalStore, SqliteAuditLog, SqliteSessionStore } from '../../src/store/sqlite/index.ts';
import type { ApprovalStore, AuditEvent, AuditLog, SessionStore } from '../../src/store/types.ts';

/** One set of stores under test; `reopen` gives new instances over the same durable state (durable kinds only). */
export interface StoreKit {
  sessions: SessionStore;
  approvals: ApprovalStore;
  audit: AuditLog;
  /** The events the audit log holds, in order. */
  events(): Promise<AuditEvent[]>;
  reopen?: () => Promise<StoreKit>;
  close(): Promise<void>;
}

/** A kind of store: memory or SQLite. */
export interface StoreKind {
  name: string;
  open(): Promise<StoreKit>;
}

/** A temporary directory removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ruleoftwo-store-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Makes fresh temporary directories for the tests of the calling file, each removed after its test. */
export function tempDirs(): () => string {
  const removals: (() => void)[] = [];
  afterEach(() => {
    for (const remove of removals.splice(0)) remove();
  });
  return () => {
    const { dir, remove } = tempDir();
    removals.push(remove);
    return dir;
  };
}

const memory: StoreKind = {
  name: 'memory',
  async open() {
    const audit = new MemoryAuditLog();
    const sessions = new MemorySessionStore();
    const approvals = new MemoryApprovalStore();
    return {
      sessions,
      approvals,
      audit,
      events: async () => audit.events,
      close: async () => {
        await Promise.all([sessions.close(), approvals.close(), audit.close()]);
      },
    };
  },
};

function sqliteKit(path: string, cleanup: () => void): StoreKit {
  const sessions = new SqliteSessionStore(path);
  const approvals = new SqliteApprovalStore(path);
  const audit = new SqliteAuditLog(path, { checkpointEvery: 8 });
  const close = async () => {
    await Promise.all([sessions.close(), approvals.close(), audit.close()]);
  };
  return {
    sessions,
    approvals,
    audit,
    events: async () => {
      const db = openDatabase(path, { readOnly: true });
      try {
        return [...readRecords(db)].map((r) => JSON.parse(r.text).event as AuditEvent);
      } finally {
        db.close();
      }
    },
    reopen: async () => {
      await close();
      return sqliteKit(path, cleanup);
    },
    close: async () => {
      await close();
      cleanup();
    },
  };
}

const sqlite: StoreKind = {
  name: 'sqlite',
  async open() {
    const { dir, remove } = tempDir();
    return sqliteKit(join(dir, 'ruleoftwo.db'), remove);
  },
};

/** Every store implementation; the conformance suite runs each case against each. */
export const storeKinds: StoreKind[] = [memory, sqlite];
