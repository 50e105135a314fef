// ruleoftwo: the Agents Rule of Two as a deterministic, fail-closed guard. Curated named exports only.

export { formatApprovalRequest, formatEvidence } from './approvals/format.ts';
export { type TerminalApproverOptions, terminalApprover } from './approvals/terminal.ts';
export type { Approver } from './approvals/types.ts';
export { approvalHash } from './core/approval.ts';
export { canonicalHash, canonicalJson } from './core/canonical.ts';
export type { ProvenanceFinding } from './core/controls.ts';
export { allowedLegs, type DecideContext, type DecideOutcome, decide, type ToolCall } from './core/decide.ts';
export type { ApprovalRequest, DecidedCall, Decision, Effect, Reason, ReasonCode } from './core/decision.ts';
export { type DeclassifyOutcome, declassify, type NarrowSchema } from './core/declassify.ts';
export type {
  ArgumentCondition,
  ArgumentControl,
  Configuration,
  ControlEffect,
  GateEffect,
  InputTrust,
  LineageDocument,
  MatchSpec,
  PolicyDocument,
  ResultCondition,
  ToolDocument,
  UrlControl,
  ValueMatcher,
} from './core/document.ts';
export { formatLegs, type Leg, type LegMask, parseLegs } from './core/legs.ts';
export { compilePolicy, type Policy, type ToolProfile } from './core/policy.ts';
export {
  DEFAULT_PROVENANCE_LIMITS,
  MemoryProvenanceIndex,
  type ProvenanceIndex,
  type ProvenanceLimits,
  type ProvenanceReader,
  type ProvenanceScan,
  type ProvenanceSource,
  type ProvenanceStats,
} from './core/provenance.ts';
export { type Evidence, newSessionState, type SessionState } from './core/state.ts';
export { type CarriedValue, dropLeg, forkSession, recordResult } from './core/transitions.ts';
export { CallDeniedError, ConfigError, type ConfigIssue } from './errors.ts';
export {
  createGuard,
  type DropOutcome,
  type ForkOptions,
  type Guard,
  type GuardedTool,
  type GuardOptions,
  type LineageAllow,
  type RecordOutcome,
  type Session,
  type SessionOptions,
  type SessionView,
} from './guard/guard.ts';
export { type Analysis, analysePolicy, type Finding } from './policy/analyze.ts';
export { loadPolicy, parsePolicy, policyFromText } from './policy/load.ts';
export { type ReplayResult, type ReplayRow, type ReplaySummary, replay } from './replay/replay.ts';
export { parseTrace, type TraceEvent } from './replay/trace.ts';
export { StoreError } from './store/errors.ts';
export { MemoryApprovalStore, MemoryAuditLog, MemorySessionStore } from './store/memory.ts';
export { type OpenedStores, type OpenStoresOptions, openStores } from './store/open.ts';
export type {
  AnswerOutcome,
  ApprovalAnswer,
  ApprovalReceipt,
  ApprovalRecord,
  ApprovalStatus,
  ApprovalStore,
  AuditEvent,
  AuditLog,
  SessionStore,
  SessionUpdate,
} from './store/types.ts';
