import { resolve } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { parsePolicy } from '../../policy/load.ts';
import { readTextFile, unreadableReason } from '../../text-file.ts';
import { type Command, UsageError } from '../io.ts';

/** `ruleoftwo validate <policy>`: reports every issue of a policy file with its path and line. */
export const validate: Command = {
  name: 'validate',
  summary: 'validate a policy file',
  usage:
    'usage: ruleoftwo validate <policy.yaml|json> [--json]\n\nReports every issue with its path and line; exit 0 when valid, 1 when not.',
  async run(args, io) {
    const json = args.includes('--json');
    const files = args.filter((a) => a !== '--json');
    const [file] = files;
    if (file === undefined || files.length > 1 || file.startsWith('-'))
      throw new UsageError('expected one policy file');
    let text: string;
    try {
      text = await readTextFile(resolve(io.cwd, file));
    } catch (error) {
      throw new ConfigError(`cannot read \`${file}\`: ${unreadableReason(error)}`);
    }
    const parsed = parsePolicy(text);
    const issues = parsed.ok ? [] : parsed.issues;
    if (json) {
      io.stdout.write(`${JSON.stringify({ file, valid: parsed.ok, issues })}\n`);
    } else if (parsed.ok) {
      io.stdout.write(`${file}: valid\n`);
    } else {
      io.stdout.write(`${file}: ${issues.length} issue(s)\n`);
      for (const issue of issues) {
        io.stdout.write(
          `  ${file}${issue.line === undefined ? '' : `:${issue.line}`}  ${issue.path ? `${issue.path}: ` : ''}${issue.message} [${issue.code}]\n`,
        );
      }
    }
    return parsed.ok ? 0 : 1;
  },
};
