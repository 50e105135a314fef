import type { Readable, Writable } from 'node:stream';
import { formatApprovalRequest } from '../../approvals/format.ts';
import { terminalApprover } from '../../approvals/terminal.ts';
import { loadAuditKey } from '../../audit/checkpoint.ts';
import { SqliteAuditLog } from '../../audit/sqlite-log.ts';
import { answerApproval, SqliteApprovalStore } from '../../store/sqlite/approvals.ts';
import type { ApprovalRecord, ApprovalStatus, AuditEvent } from '../../store/types.ts';
import { visibleLine } from '../../visible.ts';
import { existingFile, parseCommandArgs } from '../args.ts';
import { type CliIo, type Command, UsageError } from '../io.ts';

const USAGE = `usage: ruleoftwo approvals <subcommand> <db> [options]

  list <db> [--status pending|approved|denied|expired] [--session <id>] [--json]
                                   approval requests with the call, why it is gated and the evidence
  approve <db> <id> [--by <name>] [--reason <text>] [--yes]
  deny <db> <id> [--by <name>] [--reason <text>]
                                   answer a pending request; the answer is written to the audit log

At a terminal, approve shows the call the id names and approves only after \`yes\` (--yes skips the question).
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
    const by = record.by ? ` by ${visibleLine(record.by)}` : '';
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
  const { values, positionals } = parseCommandArgs(
    args,
    { by: { type: 'string' }, reason: { type: 'string' }, yes: { type: 'boolean' } },
    2,
  );
  const [file, id] = positionals as [string, string];
  const path = existingFile(file, io);
  const by = typeof values.by === 'string' ? values.by : (io.env.USER ?? 'cli');
  // Creates or checks the approvals schema, so an unknown id is reported as such.
  const store = new SqliteApprovalStore(path);
  let shown: ApprovalRecord | undefined;
  try {
    shown = await store.get(id);
  } finally {
    await store.close();
  }
  // INVARIANT: at a terminal, an id is approved only once the call it names was shown and confirmed; the id may come
  // from the model with a story about another call (test/cli/approvals-review.test.ts).
  if (approved && values.yes !== true && io.stdin.isTTY === true && shown?.status === 'pending') {
    // The CLI's streams are process.stdin and process.stdout, typed loosely so tests can pass their own.
    const ask = terminalApprover({ input: io.stdin as Readable, output: io.stdout as Writable, by });
    const confirmed = await ask(shown.request, { signal: new AbortController().signal });
    if ((typeof confirmed === 'boolean' ? confirmed : confirmed.approved) !== true) {
      io.stdout.write(`approval ${id} not approved; it stays pending\n`);
      return 1;
    }
  }
  const key = loadAuditKey({ env: io.env });
  const log = new SqliteAuditLog(path, key ? { key } : {});
  let answered: { before: ApprovalRecord; after: ApprovalRecord } | undefined;
  try {
    // INVARIANT: the answer and its audit record commit together; if the log cannot take the record, the request
    // stays as it was (test/cli/audit.test.ts "an answer the log cannot hold is not given").
    answered = await log.transact((db) => {
      const reason = typeof values.reason === 'string' ? { reason: values.reason } : {};
      const result = answerApproval(db, id, { approved, by, ...reason }, Date.now());
      if (result?.before.status !== 'pending') return { result, events: [] };
      const { after } = result;
      const event: AuditEvent = {
        type: 'approval.answer',
        at: after.answeredAt ?? Date.now(),
        requestId: id,
        sessionId: after.request.sessionId,
        status: after.status,
        by,
      };
      if (after.reason !== undefined) event.reason = after.reason;
      return { result, events: [event] };
    });
  } finally {
    await log.close();
  }
  if (!answered) {
    io.stderr.write(
      `ruleoftwo approvals: unknown approval request \`${id}\`; \`ruleoftwo approvals list ${file}\` shows them\n`,
    );
    return 1;
  }
  const { before, after: record } = answered;
  if (before.status !== 'pending') {
    io.stdout.write(`approval ${id} was already ${before.status}; unchanged\n`);
    return 1;
  }
  if (record.status === 'expired') {
    io.stdout.write(`approval ${id} had expired; the call stays denied\n`);
    return 1;
  }
  io.stdout.write(`approval ${id} ${record.status} by ${by}\n`);
  return 0;
}
