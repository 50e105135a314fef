import { resolve } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { loadPolicy } from '../../policy/load.ts';
import { type ReplayResult, type ReplayRow, replay as replayTrace } from '../../replay/replay.ts';
import { parseTrace } from '../../replay/trace.ts';
import { readTextFile, unreadableReason } from '../../text-file.ts';
import { parseCommandArgs } from '../args.ts';
import { type Command, UsageError } from '../io.ts';
import { table } from '../table.ts';

const USAGE = `usage: ruleoftwo replay <policy> <trace.jsonl> [--json]

Replays a trace (one JSON event a line: session, call, result, approval, drop, lineage; see
docs/trace-format.md) through the engine and prints one decision per call and a summary. --json prints one object a
line instead.
Exit status: 1 when a decision differs from an \`expect\` in the trace, 2 on a usage, policy or trace error.`;

/** The reason worth showing for a row: what gated or denied it, else what allowed it. */
function because(row: ReplayRow): string {
  const reasons = row.reasons.filter((r) => r.code !== 'allowed' || row.reasons.length === 1);
  return [
    ...reasons.map((r) => r.message),
    row.note ?? '',
    ...(row.decision?.provenance ?? [])
      .filter((f) => !reasons.some((r) => r.message.includes(`\`${f.argument}\``)))
      .map((f) => `provenance: \`${f.argument}\` carries ${f.labels} ${f.kind}${f.value ? ` \`${f.value}\`` : ''}`),
    row.flag ? `FLAG: ${row.flag}` : '',
    row.mismatch ? `MISMATCH: ${row.mismatch}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

function legs(row: ReplayRow): string {
  if (row.legsBefore === undefined && row.legsAfter === undefined) return '';
  return `${row.legsBefore || '-'} → ${row.legsAfter || '-'}`;
}

function renderTable(result: ReplayResult): string {
  const rows = result.rows.map((r) => [
    String(r.line),
    r.session,
    r.kind,
    r.callId ?? '',
    r.tool ?? '',
    r.effect ?? (r.flag ? 'ignored' : ''),
    legs(r),
    because(r),
  ]);
  const s = result.summary;
  const summary =
    `${s.calls} calls: ${s.allowed} allowed, ${s.asked} asked, ${s.denied} denied; ` +
    `approvals: ${s.approved} approved, ${s.declined} declined, ${s.unanswered} unanswered (denied); ` +
    `${s.flagged} flagged, ${s.mismatches} mismatches`;
  return `${table(['line', 'session', 'event', 'call', 'tool', 'effect', 'legs', 'because'], rows)}\n\n${summary}\n`;
}

function jsonLines(result: ReplayResult): string {
  const lines = result.rows.map((r) =>
    JSON.stringify({
      line: r.line,
      event: r.kind,
      session: r.session,
      call: r.callId,
      tool: r.tool,
      effect: r.effect,
      legsBefore: r.legsBefore,
      legsAfter: r.legsAfter,
      reasons: r.reasons.map(({ code, rule, message }) => ({ code, rule, message })),
      evidence: r.decision?.evidence,
      provenance: r.decision?.provenance,
      note: r.note,
      flag: r.flag,
      expect: r.expect,
      mismatch: r.mismatch,
    }),
  );
  lines.push(JSON.stringify({ summary: result.summary }));
  return `${lines.join('\n')}\n`;
}

/** `ruleoftwo replay <policy> <trace>`: replays a trace through the engine. */
export const replay: Command = {
  name: 'replay',
  summary: 'replay a trace through the engine',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { json: { type: 'boolean' } }, 2);
    const [policyFile, traceFile] = parsed.positionals as [string, string];
    // Swapped, the trace would be read as a policy and each of its lines reported as a YAML syntax error.
    if (policyFile.endsWith('.jsonl') && !traceFile.endsWith('.jsonl')) {
      throw new UsageError(`\`${policyFile}\` looks like a trace; the policy comes first`);
    }
    const policy = await loadPolicy(resolve(io.cwd, policyFile));
    let text: string;
    try {
      text = await readTextFile(resolve(io.cwd, traceFile));
    } catch (error) {
      throw new ConfigError(`cannot read trace \`${traceFile}\`: ${unreadableReason(error)}`);
    }
    const name = `trace \`${traceFile}\``;
    const result = await replayTrace(policy, parseTrace(text, name), name);
    io.stdout.write(parsed.values.json ? jsonLines(result) : renderTable(result));
    return result.summary.mismatches > 0 ? 1 : 0;
  },
};
