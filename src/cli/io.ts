/** Where a command reads and writes; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
}

/** One `ruleoftwo` subcommand. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage text shown by `--help` and on usage errors. */
  usage: string;
  /** Runs the command; resolves to the exit status. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** A usage error: the message and the command's usage are printed, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Exit status for usage and configuration errors. */
export const EXIT_USAGE = 2;
