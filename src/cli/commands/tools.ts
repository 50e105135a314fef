import { resolve } from 'node:path';
import { loadGatewayConfig } from '../../mcp/config.ts';
import { approveDefinitions, reviewDefinitions } from '../../mcp/review.ts';
import { type Command, UsageError } from '../io.ts';

function show(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/** `ruleoftwo tools diff|approve`: reviews and approves the definitions the gateway pins (tools, resources, prompts). */
export const tools: Command = {
  name: 'tools',
  summary: 'review (diff) and approve pinned MCP definitions (tools, resources, templates, prompts)',
  usage: [
    'usage: ruleoftwo tools diff --config <gateway.yaml> [--json]',
    '       ruleoftwo tools approve --config <gateway.yaml> [name ...]',
    '',
    'diff lists tools, resources, resource templates and prompts (and server instructions) that are new, changed or',
    'removed since approval, field by field; exit 0 when everything is approved, 1 when something waits for review.',
    'approve pins the current definitions of the named ones, as diff names them (a tool by its namespaced name, e.g.',
    '`fs__read_file`; `prompt ev__greet`, `resource ev__<uri>`, `template ev__<name>`; a server name for its',
    'instructions), or of every pending one when no name is given.',
  ].join('\n'),
  async run(args, io) {
    const [action, ...rest] = args;
    if (action !== 'diff' && action !== 'approve') throw new UsageError('expected `diff` or `approve`');
    const at = rest.indexOf('--config');
    const file = at === -1 ? undefined : rest[at + 1];
    if (file === undefined || file.startsWith('--')) throw new UsageError('`--config <file>` is required');
    const names = rest.filter((a, i) => i !== at && i !== at + 1 && a !== '--json');
    const unknownOption = names.find((n) => n.startsWith('-'));
    if (unknownOption) throw new UsageError(`unknown option \`${unknownOption}\``);
    const config = await loadGatewayConfig(resolve(io.cwd, file));
    const log = (message: string) => io.stderr.write(`ruleoftwo tools: ${message}\n`);
    if (action === 'approve') {
      const approved = await approveDefinitions(config, names, { log });
      io.stdout.write(
        approved.length === 0 ? 'nothing to approve\n' : `approved ${approved.length}: ${approved.join(', ')}\n`,
      );
      return 0;
    }
    if (names.length > 0) throw new UsageError('diff takes no names');
    const reviews = await reviewDefinitions(config, log);
    const pending = reviews.filter((r) => r.status !== 'approved');
    if (rest.includes('--json')) {
      io.stdout.write(
        `${JSON.stringify({ pending: pending.map(({ name, status, changes }) => ({ name, status, changes })) })}\n`,
      );
      return pending.length === 0 ? 0 : 1;
    }
    if (pending.length === 0) {
      io.stdout.write(`all ${reviews.length} definition(s) approved\n`);
      return 0;
    }
    for (const review of pending) {
      io.stdout.write(`${review.status} ${review.name}\n`);
      if (review.status === 'changed') {
        for (const change of review.changes) {
          io.stdout.write(`  ${change.field}:\n    - ${show(change.before)}\n    + ${show(change.after)}\n`);
        }
      }
    }
    log(`${pending.length} definition(s) wait for \`ruleoftwo tools approve\``);
    return 1;
  },
};
