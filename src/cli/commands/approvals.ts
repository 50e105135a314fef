import { formatApprovalRequest } from '../../approvals/format.ts';
import { loadAuditKey } from '../../audit/checkpoint.ts';
import { SqliteAuditLog } from '../../audit/sqlite-log.ts';
import { SqliteApprovalStore } from '../../store/sqlite/approvals.ts';
import type { ApprovalRecord, ApprovalStatus, AuditEvent } from '../../store/types.ts';
import { existingFile, parseCommandArgs } from '../args.ts';
import { type CliIo, type Command, UsageError } from '../io.ts';

const USAGE = `usage: ruleoftwo approvals <subcommand> <db> [options]

  list <db> [--status pending|approved|denied|expired] [--session <id>] [--json]
                                   approval requests with the call, why it is gated and the evidence
  approve <db> <id> [--by <name>] [--reason <text>]
  deny <db> <id> [--by <name>] [--reason <text>]
                                   answer a pending request; the answer is written to the audit log

A request past its expiry becomes expired whatever the answer; exit 1 when the answer did not take effect.`;

const STATUSES: readonly string[] = ['pending', 'approved', 'denied', 'expired'];

/** `ruleoftwo approvals`: list and answer approval requests in a shared SQLite database. */
export const approvals: Command = {
  name: 'approvals',
  summary: 'list, approve or deny approval requests',
  usage: USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list':
        return list(rest, io);
      case 'approve':
      case 'deny':
        return answer(sub === 'approve', rest, io);
      default:
        throw new UsageError(sub === undefined ? 'expected a subcommand' : `unknown subcommand \`${sub}\``);
    }
  },
};

function statusLine(record: ApprovalRecord, now: number): string {
  if (record.status === 'pending' && now > record.request.expiresAt)
    return 'pending, expired (any answer now expires it)';
  if (record.status !== 'pending') {
    const by = record.by ? ` by ${record.by}` : '';
    return `${record.status}${by}${record.usedAt !== undefined ? ', used' : ''}`;
  }
  return `pending, ${Math.round((record.request.expiresAt - now) / 1000)}s left`;
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { status: { type: 'string' }, session: { type: 'string' }, json: { type: 'boolean' } },
    1,
  );
  if (values.status !== undefined && !STATUSES.includes(values.status as string)) {
    throw new UsageError(`unknown status \`${values.status}\`; expected one of ${STATUSES.join(', ')}`);
  }
  const store = new SqliteApprovalStore(existingFile(positionals[0] as string, io));
  let records: ApprovalRecord[];
  try {
    records = await store.list({
      ...(values.status === undefined ? {} : { status: values.status as ApprovalStatus }),
      ...(typeof values.session === 'string' ? { sessionId: values.session } : {}),
    });
  } finally {
    await store.close();
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify(records)}\n`);
    return 0;
  }
  if (records.length === 0) io.stdout.write('no approval requests\n');
  const now = Date.now();
  for (const record of records) {
    io.stdout.write(`${formatApprovalRequest(record.request)}\n  status: ${statusLine(record, now)}\n\n`);
  }
  return 0;
}

async function answer(approved: boolean, args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { by: { type: 'string' }, reason: { type: 'string' } }, 2);
  const [file, id] = positionals as [string, string];
  const path = existingFile(file, io);
  const by = typeof values.by === 'string' ? values.by : (io.env.USER ?? 'cli');
  const store = new SqliteApprovalStore(path);
  let record: ApprovalRecord | undefined;
  let before: ApprovalRecord | undefined;
  try {
    before = await store.get(id);
    record = await store.answer(
      id,
      { approved, by, ...(typeof values.reason === 'string' ? { reason: values.reason } : {}) },
      Date.now(),
    );
  } finally {
    await store.close();
  }
  if (!record || !before) {
    io.stderr.write(`unknown approval request \`${id}\`\n`);
    return 1;
  }
  if (before.status !== 'pending') {
    io.stdout.write(`approval ${id} was already ${before.status}; unchanged\n`);
    return 1;
  }
  const key = loadAuditKey({ env: io.env });
  const log = new SqliteAuditLog(path, key ? { key } : {});
  try {
    const event: AuditEvent = {
      type: 'approval.answer',
      at: record.answeredAt ?? Date.now(),
      requestId: id,
      sessionId: record.request.sessionId,
      status: record.status,
      by,
    };
    if (record.reason !== undefined) event.reason = record.reason;
    await log.append(event);
  } finally {
    await log.close();
  }
  if (record.status === 'expired') {
    io.stdout.write(`approval ${id} had expired; the call stays denied\n`);
    return 1;
  }
  io.stdout.write(`approval ${id} ${record.status} by ${by}\n`);
  return 0;
}
