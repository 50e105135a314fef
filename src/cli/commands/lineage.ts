import { resolve } from 'node:path';
import { isSeq, parseDocument } from 'yaml';
import { replaceFile } from '../../atomic-file.ts';
import { loadAuditKey } from '../../audit/checkpoint.ts';
import { SqliteAuditLog } from '../../audit/sqlite-log.ts';
import { ConfigError } from '../../errors.ts';
import { parsePolicy } from '../../policy/load.ts';
import type { AuditEvent } from '../../store/types.ts';
import { readTextFile, unreadableReason } from '../../text-file.ts';
import { existingFile, parseCommandArgs } from '../args.ts';
import { type Command, UsageError } from '../io.ts';

const USAGE = `usage: ruleoftwo lineage allow <policy> --tool <name> (--author <who> | --item <id>) [--by <who>]
                         [--reason <text>] [--audit <db>]

Marks an author (or one item) trusted for a tool's author lineage: the author is added to the tool's trusted list
(or to the named list it refers to), an item to its \`trustedItems\`. The policy file is rewritten in place, keeping
comments, only if it is still valid afterwards. With --audit, a \`lineage.allow\` record is appended to that
audit database first (signed checkpoints with RULEOFTWO_AUDIT_KEY, as for \`ruleoftwo approvals\`). A running guard
takes the same statement through \`guard.allowLineage()\`.`;

const OPTIONS = {
  tool: { type: 'string' },
  author: { type: 'string' },
  item: { type: 'string' },
  by: { type: 'string' },
  reason: { type: 'string' },
  audit: { type: 'string' },
} as const;

function text(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `ruleoftwo lineage allow ...`: a reviewer marks an author or item trusted, recorded in the policy and audit log. */
export const lineage: Command = {
  name: 'lineage',
  summary: 'mark an author or item trusted for author lineage',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(args, OPTIONS, 2);
    const [action, file] = parsed.positionals as [string, string];
    const [tool, author, item, reason, audit] = ['tool', 'author', 'item', 'reason', 'audit'].map((k) =>
      text(parsed.values[k]),
    );
    const by = text(parsed.values.by) ?? io.env.USER ?? 'unknown';
    if (action !== 'allow') throw new UsageError(`unknown subcommand \`${action}\`; expected \`allow\``);
    if (tool === undefined) throw new UsageError('--tool is required');
    if ((author === undefined) === (item === undefined)) throw new UsageError('give exactly one of --author or --item');
    const path = resolve(io.cwd, file);
    let source: string;
    try {
      source = await readTextFile(path);
    } catch (error) {
      throw new ConfigError(`cannot read \`${file}\`: ${unreadableReason(error)}`);
    }
    const before = parsePolicy(source);
    if (!before.ok) throw new ConfigError(`policy \`${file}\` has ${before.issues.length} issue(s)`, before.issues);
    const spec = before.document.tools?.[tool];
    if (spec === undefined || typeof spec !== 'object' || spec.lineage === undefined) {
      throw new UsageError(`tool \`${tool}\` has no \`lineage\` in \`${file}\``);
    }
    const doc = parseDocument(source);
    const base = ['tools', tool, 'lineage'];
    let where: (string | number)[];
    let value: string;
    if (author !== undefined) {
      value = author;
      const trusted = spec.lineage.trusted;
      where = typeof trusted === 'string' ? ['lists', trusted] : [...base, 'trusted'];
    } else {
      value = item as string;
      where = [...base, 'trustedItems'];
    }
    const list = doc.getIn(where);
    const already = isSeq(list) && list.items.some((n) => (n as { value?: unknown }).value === value);
    if (!already) {
      if (list === undefined) doc.setIn(where, doc.createNode([value], { flow: true }));
      else doc.addIn(where, value);
    }
    const after = String(doc);
    const check = parsePolicy(after);
    if (!check.ok) throw new ConfigError(`the change would make \`${file}\` invalid`, check.issues);
    if (audit !== undefined) {
      // Audited first: an allowance the log does not hold is not made.
      const event: AuditEvent = { type: 'lineage.allow', at: Date.now(), by, tool };
      if (author !== undefined) event.author = author;
      if (item !== undefined) event.item = item;
      if (reason !== undefined) event.reason = reason;
      const key = loadAuditKey({ env: io.env });
      const log = new SqliteAuditLog(existingFile(audit, io), key ? { key } : {});
      try {
        await log.append(event);
      } finally {
        await log.close();
      }
    }
    if (!already) {
      // A crash never leaves a half-written policy, and a planted `policy.yaml.tmp` symlink is not written through.
      await replaceFile(path, after);
    }
    const what = author === undefined ? `item \`${item}\`` : `author \`${author}\``;
    io.stdout.write(
      already ? `${what} was already trusted for \`${tool}\`\n` : `${what} is now trusted for \`${tool}\` in ${file}\n`,
    );
    return 0;
  },
};
