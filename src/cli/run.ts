import { ConfigError, type ConfigIssue } from '../errors.ts';
import { commands } from './commands.ts';
import { type CliIo, EXIT_USAGE, UsageError } from './io.ts';
import { visibleOut } from './visible.ts';

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: ruleoftwo <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nruleoftwo <command> --help for its options\n`;
}

/** Where an issue is: its path and line, the line alone for a syntax error, the path alone when it names the line. */
function issueWhere(issue: ConfigIssue): string {
  if (issue.line === undefined) return issue.path;
  const line = `line ${issue.line}`;
  if (issue.path === '') return line;
  // A trace's issues are placed by line already (`line 5.leg`).
  if (issue.path === line || issue.path.startsWith(`${line}.`)) return issue.path;
  return `${issue.path} (${line})`;
}

/** Runs the CLI with the given arguments (without `node` and the script); resolves to the exit status. */
export async function runCli(argv: string[], given: CliIo): Promise<number> {
  // INVARIANT: names, values and messages read from policies, traces, configs or pin files cannot move the cursor,
  // recolour, overwrite or reorder what the operator reads (test/cli/terminal-injection.test.ts).
  const io: CliIo = { ...given, stdout: visibleOut(given.stdout), stderr: visibleOut(given.stderr) };
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    io.stderr.write(`ruleoftwo: unknown command \`${name}\`\n\n${help()}`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    // INVARIANT: the CLI never shows a stack trace for bad input; it names the problem and exits 2.
    if (error instanceof UsageError) {
      io.stderr.write(`ruleoftwo ${name}: ${error.message}\n\n${command.usage}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`ruleoftwo ${name}: ${error.message}\n`);
      for (const issue of error.issues) {
        const where = issueWhere(issue);
        io.stderr.write(`  ${where ? `${where}: ` : ''}${issue.message} [${issue.code}]\n`);
      }
      return EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`ruleoftwo ${name}: ${message}\n`);
    return 1;
  }
}
