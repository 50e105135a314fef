// ruleoftwo/sqlite: durable stores and the tamper-evident audit log on node:sqlite.

export { AuditKey, type Checkpoint, generateAuditKey, loadAuditKey } from '../../audit/checkpoint.ts';
export {
  auditStats,
  exportJsonl,
  openAuditDatabase,
  type VerifyFileOptions,
  verifyAuditFile,
  verifyDatabase,
  verifyJsonl,
} from '../../audit/inspect.ts';
export { SqliteAuditLog, type SqliteAuditLogOptions, type StoredRecord } from '../../audit/sqlite-log.ts';
export type { VerifyIssue, VerifyOptions, VerifyReport } from '../../audit/verify.ts';
export { StoreError } from '../errors.ts';
export { SqliteApprovalStore } from './approvals.ts';
export { BACKGROUND_WAL_AUTOCHECKPOINT, startWalCheckpointer, type WalCheckpointer } from './checkpointer.ts';
export type { DatabaseOptions } from './database.ts';
export { SqliteSessionStore } from './sessions.ts';
