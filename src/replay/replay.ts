import type { Decision, Effect, Reason } from '../core/decision.ts';
import type { Policy } from '../core/policy.ts';
import { ConfigError } from '../errors.ts';
import { createGuard, type Guard } from '../guard/guard.ts';
import { MemoryAuditLog } from '../store/memory.ts';
import type { AuditEvent } from '../store/types.ts';
import type { ExpectedEffect, TraceEvent } from './trace.ts';

/** One line of replay output. */
export interface ReplayRow {
  line: number;
  kind: TraceEvent['type'];
  session: string;
  callId?: string;
  tool?: string;
  effect?: Effect;
  legsBefore?: string;
  legsAfter?: string;
  reasons: Reason[];
  /** Something in the trace that did not go as written: an ignored result, an approval for nothing, ... */
  flag?: string;
  /** What lineage or declassification did to an output, or what a lineage event allowed. */
  note?: string;
  expect?: ExpectedEffect;
  /** Set when the decision differs from the trace's `expect`. */
  mismatch?: string;
  decision?: Decision;
}

/** Counts over a replay. */
export interface ReplaySummary {
  calls: number;
  allowed: number;
  denied: number;
  asked: number;
  approved: number;
  declined: number;
  /** Asks without an approval event by the end of the trace: they count as denied. */
  unanswered: number;
  flagged: number;
  mismatches: number;
}

/** The outcome of a replay: a row per event, a summary, and the audit events the guard wrote. */
export interface ReplayResult {
  rows: ReplayRow[];
  summary: ReplaySummary;
  audit: AuditEvent[];
}

/** Where a replayed call stands. */
interface CallState {
  session: string;
  tool: string;
  args: unknown;
  decision: Decision;
  status: 'allowed' | 'asked' | 'denied' | 'recorded';
}

/** Fixed start of the replay clock, so replays are reproducible. */
const REPLAY_EPOCH = Date.UTC(2026, 0, 1);

function matches(expect: ExpectedEffect | undefined, effect: Effect): boolean {
  return expect === undefined || expect === effect || (expect === 'stopped' && effect !== 'allow');
}

/**
 * Replays a trace through the engine with a deterministic clock and ids. Approvals come from the trace's approval
 * events; an ask that is never answered counts as denied, and results of calls that were not allowed are ignored.
 */
export async function replay(policy: Policy, events: readonly TraceEvent[], name = 'trace'): Promise<ReplayResult> {
  let tick = 0;
  let ids = 0;
  const audit = new MemoryAuditLog();
  const guard = createGuard({ policy, audit, now: () => REPLAY_EPOCH + tick * 1000, newId: () => `r${++ids}` });
  const runner = new Replayer(guard);
  for (const event of events) {
    tick++;
    try {
      await runner.apply(event);
    } catch (error) {
      // INVARIANT: an event the guard refuses (a session whose options cannot hold) is named by its line
      // (test/cli/bad-input.test.ts).
      if (error instanceof ConfigError)
        throw new ConfigError(`${name} line ${event.line}: ${error.message}`, error.issues);
      throw error;
    }
  }
  return { rows: runner.rows, summary: runner.summary(), audit: audit.events };
}

class Replayer {
  readonly rows: ReplayRow[] = [];
  readonly #guard: Guard;
  readonly #calls = new Map<string, CallState>();
  readonly #sessions = new Set<string>();
  #current = 'default';

  constructor(guard: Guard) {
    this.#guard = guard;
  }

  async #open(id: string): Promise<void> {
    if (this.#sessions.has(id)) return;
    await this.#guard.session(id);
    this.#sessions.add(id);
  }

  async apply(event: TraceEvent): Promise<void> {
    switch (event.type) {
      case 'session':
        return this.#session(event);
      case 'call':
        return this.#call(event);
      case 'approval':
        return this.#approval(event);
      case 'result':
        return this.#result(event);
      case 'drop':
        return this.#drop(event);
      case 'lineage':
        return this.#lineage(event);
    }
  }

  async #lineage(event: Extract<TraceEvent, { type: 'lineage' }>): Promise<void> {
    const allow = {
      ...(event.author === undefined ? {} : { author: event.author }),
      ...(event.item === undefined ? {} : { item: event.item }),
      by: event.by ?? 'trace',
      ...(event.reason === undefined ? {} : { reason: event.reason }),
    };
    await this.#guard.allowLineage(allow);
    const what = event.author === undefined ? `item \`${event.item}\`` : `author \`${event.author}\``;
    this.rows.push({
      line: event.line,
      kind: 'lineage',
      session: this.#current,
      reasons: [],
      note: `${what} marked trusted by ${allow.by}`,
    });
  }

  async #session(event: Extract<TraceEvent, { type: 'session' }>): Promise<void> {
    const row: ReplayRow = { line: event.line, kind: 'session', session: event.id, reasons: [] };
    if (this.#sessions.has(event.id)) {
      row.flag = `session \`${event.id}\` was already open; its options are ignored`;
    } else {
      const options = {
        ...(event.configuration ? { configuration: event.configuration } : {}),
        ...(event.input ? { input: event.input } : {}),
        ...(event.request === undefined ? {} : { request: event.request }),
      };
      await this.#guard.session(event.id, options);
      this.#sessions.add(event.id);
      row.legsAfter = (await this.#guard.view(event.id))?.legs ?? '';
    }
    this.#current = event.id;
    this.rows.push(row);
  }

  async #call(event: Extract<TraceEvent, { type: 'call' }>): Promise<void> {
    const session = event.session ?? this.#current;
    await this.#open(session);
    const decision = await this.#guard.check(session, { id: event.id, tool: event.tool, args: event.args });
    const row = this.#decisionRow(event.line, 'call', session, decision, event.expect, event.because);
    if (this.#calls.has(event.id)) row.flag = `call id \`${event.id}\` was used before in this trace`;
    const status = decision.effect === 'allow' ? 'allowed' : decision.effect === 'ask' ? 'asked' : 'denied';
    this.#calls.set(event.id, { session, tool: event.tool, args: event.args, decision, status });
    this.rows.push(row);
  }

  async #approval(event: Extract<TraceEvent, { type: 'approval' }>): Promise<void> {
    const call = this.#calls.get(event.call);
    const request = call?.decision.approval;
    if (call?.status !== 'asked' || !request) {
      this.rows.push({
        line: event.line,
        kind: 'approval',
        session: call?.session ?? this.#current,
        callId: event.call,
        reasons: [],
        flag: `approval for call \`${event.call}\`, which is not waiting for one; ignored`,
      });
      return;
    }
    const approved = event.decision === 'approve';
    const receipt = await this.#guard.answer(request.id, { approved, by: 'trace' });
    let decision: Decision;
    if (receipt) {
      decision = await this.#guard.check(
        call.session,
        { id: event.call, tool: call.tool, args: call.args },
        { receipt },
      );
    } else {
      const reason: Reason = {
        code: 'approval_denied',
        rule: 0,
        message: approved ? 'the approval came too late' : 'a person declined the call',
      };
      decision = { ...call.decision, effect: 'deny', reasons: [...call.decision.reasons, reason] };
    }
    call.decision = decision;
    call.status = decision.effect === 'allow' ? 'allowed' : 'denied';
    this.rows.push(this.#decisionRow(event.line, 'approval', call.session, decision, event.expect));
  }

  async #result(event: Extract<TraceEvent, { type: 'result' }>): Promise<void> {
    const call = this.#calls.get(event.call);
    const row: ReplayRow = {
      line: event.line,
      kind: 'result',
      session: call?.session ?? this.#current,
      callId: event.call,
      reasons: [],
    };
    if (call?.status !== 'allowed') {
      const why = !call
        ? 'no such call'
        : call.status === 'recorded'
          ? 'already recorded'
          : `the call was ${call.status === 'asked' ? 'not approved' : 'denied'}`;
      row.flag = `result ignored: ${why}`;
      this.rows.push(row);
      return;
    }
    row.tool = call.tool;
    const outcome = await this.#guard.record(call.session, event.call, event.output);
    if (outcome.ok) {
      call.status = 'recorded';
      row.legsAfter = outcome.legsAfter;
      row.reasons = [{ code: 'allowed', rule: 0, message: `output brought ${outcome.brought || 'no legs'}` }];
      if (outcome.note !== undefined) row.note = outcome.note;
    } else {
      row.flag = `result not recorded: ${outcome.message}`;
    }
    this.rows.push(row);
  }

  async #drop(event: Extract<TraceEvent, { type: 'drop' }>): Promise<void> {
    const session = event.session ?? this.#current;
    await this.#open(session);
    const before = (await this.#guard.view(session))?.legs ?? '';
    const outcome = await this.#guard.drop(session, event.leg, event.reason);
    const row: ReplayRow = { line: event.line, kind: 'drop', session, legsBefore: before, reasons: [] };
    if (outcome.ok) row.legsAfter = `${outcome.legs} (dropped ${outcome.dropped})`;
    else row.flag = `drop refused: ${outcome.message}`;
    this.rows.push(row);
  }

  #decisionRow(
    line: number,
    kind: 'call' | 'approval',
    session: string,
    decision: Decision,
    expect?: ExpectedEffect,
    because?: readonly string[],
  ): ReplayRow {
    const row: ReplayRow = {
      line,
      kind,
      session,
      callId: decision.callId,
      tool: decision.tool,
      effect: decision.effect,
      legsBefore: decision.legsBefore,
      legsAfter: decision.legsAfter,
      reasons: decision.reasons,
      decision,
    };
    if (expect !== undefined) {
      row.expect = expect;
      if (!matches(expect, decision.effect)) row.mismatch = `expected ${expect}, got ${decision.effect}`;
    }
    // INVARIANT: a call stopped for another reason than the one its trace names is a mismatch, so a scenario cannot
    // pass on an incidental stop (test/cli/replay.test.ts "because").
    const missing = because?.filter((code) => !decision.reasons.some((r) => r.code === code)) ?? [];
    if (missing.length > 0) {
      const got = decision.reasons.map((r) => r.code).join(', ') || 'none';
      const wanted = `expected reason ${missing.map((c) => `\`${c}\``).join(', ')}, got ${got}`;
      row.mismatch = row.mismatch === undefined ? wanted : `${row.mismatch}; ${wanted}`;
    }
    return row;
  }

  summary(): ReplaySummary {
    const calls = this.rows.filter((r) => r.kind === 'call');
    const approvals = this.rows.filter((r) => r.kind === 'approval' && r.effect !== undefined);
    return {
      calls: calls.length,
      allowed: calls.filter((r) => r.effect === 'allow').length,
      denied: calls.filter((r) => r.effect === 'deny').length,
      asked: calls.filter((r) => r.effect === 'ask').length,
      approved: approvals.filter((r) => r.effect === 'allow').length,
      declined: approvals.filter((r) => r.effect === 'deny').length,
      unanswered: [...this.#calls.values()].filter((c) => c.status === 'asked').length,
      flagged: this.rows.filter((r) => r.flag !== undefined).length,
      mismatches: this.rows.filter((r) => r.mismatch !== undefined).length,
    };
  }
}
