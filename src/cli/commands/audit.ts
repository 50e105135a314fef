import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { replaceFile } from '../../atomic-file.ts';
import { type Checkpoint, generateAuditKey } from '../../audit/checkpoint.ts';
import { formatRecord } from '../../audit/format.ts';
import { auditStats, exportJsonl, openAuditDatabase, verifyAuditFile, verifyJsonl } from '../../audit/inspect.ts';
import { parseRecord } from '../../audit/record.ts';
import { readRecords } from '../../audit/sqlite-log.ts';
import type { VerifyReport } from '../../audit/verify.ts';
import { ConfigError } from '../../errors.ts';
import { unreadableReason } from '../../text-file.ts';
import { visibleLine } from '../../visible.ts';
import { existingFile, parseCommandArgs } from '../args.ts';
import { type CliIo, type Command, UsageError } from '../io.ts';

const USAGE = `usage: ruleoftwo audit <subcommand> <db> [options]

  verify <db|export.jsonl>   check every record, checkpoint root and signature; exit 1 and name the record on tampering
      --public-key <pem>     trust only this key (default: keys stored in the log, with a note)
      --witness <json>       a checkpoint saved earlier (audit stats --json); detects truncation after it
      --json                 print the report as JSON
  tail <db> [-n N] [-f]      the last N records (default 10), human-readable; -f follows new records
  export <db> --format jsonl [--out <file>]
                             the log as JSONL: a header with its keys, each record's exact text, its checkpoints
  stats <db> [--json]        counts by type, time span, checkpoints, keys
  keygen --out <file>        a new Ed25519 checkpoint key (mode 0600); prints its public key

The signing key is configured with RULEOFTWO_AUDIT_KEY (PEM) or RULEOFTWO_AUDIT_KEY_FILE; it is never printed.`;

/** `ruleoftwo audit`: verify, tail, export and summarize a tamper-evident audit log. */
export const audit: Command = {
  name: 'audit',
  summary: 'verify, tail, export or summarize an audit log',
  usage: USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'verify':
        return verify(rest, io);
      case 'tail':
        return tail(rest, io);
      case 'export':
        return exportLog(rest, io);
      case 'stats':
        return stats(rest, io);
      case 'keygen':
        return keygen(rest, io);
      default:
        throw new UsageError(sub === undefined ? 'expected a subcommand' : `unknown subcommand \`${sub}\``);
    }
  },
};

/** Opens an audit database for reading, with errors that name the file. */
export function openLog(file: string, io: CliIo): DatabaseSync {
  const db = openAuditDatabase(existingFile(file, io));
  const table = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'audit_records'").get();
  if (!table) {
    db.close();
    throw new ConfigError(`\`${file}\` holds no ruleoftwo audit log`);
  }
  return db;
}

function readText(file: string, io: CliIo, what: string): string {
  try {
    return readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${what} \`${file}\`: ${unreadableReason(error)}`);
  }
}

function readWitness(file: string, io: CliIo): Checkpoint {
  let value: unknown;
  try {
    value = JSON.parse(readText(file, io, 'witness'));
  } catch {
    throw new UsageError(`witness \`${file}\` is not JSON`);
  }
  // Accept a bare checkpoint, or the output of `audit stats --json`.
  const c = ((value as { lastCheckpoint?: unknown })?.lastCheckpoint ?? value) as Partial<Checkpoint> | null;
  if (!c || typeof c.size !== 'number' || typeof c.root !== 'string' || typeof c.previous !== 'number') {
    throw new UsageError(`witness \`${file}\` is not a checkpoint`);
  }
  return c as Checkpoint;
}

async function verify(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { 'public-key': { type: 'string' }, witness: { type: 'string' }, json: { type: 'boolean' } },
    1,
  );
  const file = positionals[0] as string;
  const options = {
    ...(typeof values['public-key'] === 'string'
      ? { publicKeys: [readText(values['public-key'], io, 'public key')] }
      : {}),
    ...(typeof values.witness === 'string' ? { witness: readWitness(values.witness, io) } : {}),
  };
  const path = existingFile(file, io);
  const head = readFileSync(path).subarray(0, 16).toString('latin1');
  let report: VerifyReport;
  if (head === 'SQLite format 3\0') {
    openLog(file, io).close();
    report = await verifyAuditFile(path, options);
  } else {
    report = verifyJsonl(readFileSync(path), options);
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ file, ...report })}\n`);
  } else if (report.ok) {
    io.stdout.write(
      `${file}: ok, ${report.records} records, ${report.checkpoints} checkpoints (${report.signed} signed), root ${report.root}\n`,
    );
  } else {
    const first = report.issues[0];
    const where = first?.record === undefined ? '' : ` at record ${first.record}`;
    io.stdout.write(`${file}: verification failed${where}\n`);
    // INVARIANT: a tampered record cannot rewrite the report on a terminal (test/cli/audit-terminal.test.ts).
    for (const issue of report.issues) io.stdout.write(`  ${visibleLine(issue.message)} [${issue.code}]\n`);
  }
  if (!values.json) for (const note of report.notes) io.stdout.write(`  note: ${visibleLine(note)}\n`);
  return report.ok ? 0 : 1;
}

function writeRecord(io: CliIo, text: string, json: boolean): void {
  if (json) {
    io.stdout.write(`${text}\n`);
    return;
  }
  const parsed = parseRecord(text);
  const line = parsed.ok ? formatRecord(parsed.record) : `(unreadable record: ${parsed.problem.message})`;
  // INVARIANT: text from agents and upstreams shows as escapes, never as terminal commands
  // (test/cli/audit-terminal.test.ts "tail escapes").
  io.stdout.write(`${visibleLine(line)}\n`);
}

async function tail(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { n: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' } },
    1,
  );
  const count = values.n === undefined ? 10 : Number(values.n);
  if (!Number.isInteger(count) || count < 0) throw new UsageError(`-n takes a whole number, got \`${values.n}\``);
  const db = openLog(positionals[0] as string, io);
  try {
    const last = (db.prepare('SELECT max(seq) AS n FROM audit_records').get() as { n: number | null }).n ?? 0;
    let next = Math.max(1, last - count + 1);
    for (const record of readRecords(db, next)) {
      writeRecord(io, record.text, values.json === true);
      next = record.seq + 1;
    }
    // Follow by polling: the writer may be another process, which SQLite does not signal.
    while (values.follow) {
      await new Promise((done) => setTimeout(done, 200));
      for (const record of readRecords(db, next)) {
        writeRecord(io, record.text, values.json === true);
        next = record.seq + 1;
      }
    }
  } finally {
    db.close();
  }
  return 0;
}

async function exportLog(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { format: { type: 'string' }, out: { type: 'string' } }, 1);
  if (values.format !== undefined && values.format !== 'jsonl') {
    throw new UsageError(`unknown format \`${values.format}\`; expected jsonl`);
  }
  const db = openLog(positionals[0] as string, io);
  const lines: string[] = [];
  try {
    exportJsonl(db, (line) => {
      if (typeof values.out === 'string') lines.push(line);
      else io.stdout.write(`${line}\n`);
    });
  } finally {
    db.close();
  }
  // INVARIANT: an export holds every record's arguments: a new file is its owner's only, and a symlink planted at
  // `--out` is replaced, never written through (test/cli/file-writes.test.ts "audit export --out").
  if (typeof values.out === 'string') {
    await replaceFile(resolve(io.cwd, values.out), `${lines.join('\n')}\n`, { mode: 0o600, follow: false });
  }
  return 0;
}

async function stats(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } }, 1);
  const db = openLog(positionals[0] as string, io);
  let s: ReturnType<typeof auditStats>;
  try {
    s = auditStats(db);
  } finally {
    db.close();
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify(s)}\n`);
    return 0;
  }
  const time = (at: number | null) => (at === null ? '-' : new Date(at).toISOString());
  const c = s.lastCheckpoint;
  const lines = [
    `records      ${s.records}`,
    `first        ${time(s.firstAt)}`,
    `last         ${time(s.lastAt)}`,
    `checkpoints  ${s.checkpoints}${c ? ` (last: record ${c.size} at ${time(c.at)}, ${c.keyId ? `key ${c.keyId}` : 'unsigned'})` : ''}`,
    `root         ${c ? c.root : '-'}`,
    `keys         ${s.keys.join(', ') || '-'}`,
    ...Object.entries(s.byType).map(([type, n]) => `  ${type.padEnd(18)} ${n}`),
  ];
  // Key ids and event types are read from the file as they are, unverified.
  io.stdout.write(`${lines.map(visibleLine).join('\n')}\n`);
  return 0;
}

async function keygen(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(args, { out: { type: 'string' } }, 0);
  if (typeof values.out !== 'string') throw new UsageError('expected --out <file> for the private key');
  const path = resolve(io.cwd, values.out);
  const { privatePem, publicPem } = generateAuditKey();
  try {
    writeFileSync(path, privatePem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'EEXIST' ? `\`${values.out}\` exists; not overwritten` : `cannot write \`${values.out}\`: ${code}`,
    );
  }
  io.stdout.write(publicPem);
  io.stderr.write(`private key written to ${values.out}; set RULEOFTWO_AUDIT_KEY_FILE=${values.out}\n`);
  return 0;
}
