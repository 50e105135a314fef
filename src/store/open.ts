import type { PolicyDocument } from '../core/document.ts';
import type { ApprovalStore, AuditLog, SessionStore } from './types.ts';

/** Options of {@link openStores}. */
export interface OpenStoresOptions {
  /** The SQLite file shared by sessions, approvals and the audit log (created if absent). */
  path: string;
  /** The policy, for its `audit.redact` list. */
  policy?: { document: PolicyDocument } | PolicyDocument;
  /** Checkpoint signing key as PEM text; defaults to `RULEOFTWO_AUDIT_KEY` or `RULEOFTWO_AUDIT_KEY_FILE`. */
  key?: string;
  /** Records between checkpoints (default 1000). */
  checkpointEvery?: number;
  /** How long a writer waits for another process's lock before the call is denied (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * `full` (default): an audit record is fsynced before its call is released, so it survives a power loss;
   * `normal`: commits survive a killed process, not a power loss. See docs/stores.md.
   */
  synchronous?: 'full' | 'normal';
  /** Copy the write-ahead log into the database from a background thread (default true); see `startWalCheckpointer`. */
  walCheckpointer?: boolean;
  /** Where the key is looked up; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
}

/** The stores `createGuard` takes, all in one SQLite file; `close` closes all three. */
export interface OpenedStores {
  sessions: SessionStore;
  approvals: ApprovalStore;
  audit: AuditLog;
  close(): Promise<void>;
}

/**
 * Opens durable stores in one SQLite file: `createGuard({ policy, ...(await openStores({ path })) })`. Sessions,
 * approvals and the audit log survive restarts and are shared by every process that opens the same file. The audit
 * log recovers on open: it checks its head and checkpoints records written before a crash.
 */
export async function openStores(options: OpenStoresOptions): Promise<OpenedStores> {
  const { BACKGROUND_WAL_AUTOCHECKPOINT, SqliteApprovalStore, SqliteAuditLog, SqliteSessionStore, loadAuditKey } =
    await import('./sqlite/index.ts');
  const document = options.policy && 'document' in options.policy ? options.policy.document : options.policy;
  const key = loadAuditKey({
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const background = options.walCheckpointer ?? true;
  const database = {
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    ...(background ? { walAutocheckpoint: BACKGROUND_WAL_AUTOCHECKPOINT } : {}),
  };
  // Session commits skip their own fsync: every session change the guard makes is followed, before anything is
  // released, by an audit append on the same file, and its sync of the write-ahead log (WalSync) makes everything
  // before it in that file durable too. A power loss can only drop a change whose call was never released. docs/stores.md has the details.
  const sessions = new SqliteSessionStore(options.path, { ...database, synchronous: 'normal' });
  const opened: { close(): Promise<void> }[] = [sessions];
  try {
    const approvals = new SqliteApprovalStore(options.path, database);
    opened.push(approvals);
    const audit = new SqliteAuditLog(options.path, {
      ...database,
      walCheckpointer: background,
      ...(key === undefined ? {} : { key }),
      ...(options.checkpointEvery === undefined ? {} : { checkpointEvery: options.checkpointEvery }),
      redact: document?.audit?.redact ?? [],
    });
    opened.push(audit);
    await audit.recover();
    return {
      sessions,
      approvals,
      audit,
      close: async () => {
        await Promise.all(opened.map((store) => store.close()));
      },
    };
  } catch (error) {
    await Promise.all(opened.map((store) => store.close()));
    throw error;
  }
}
