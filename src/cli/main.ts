#!/usr/bin/env node
import { runCli } from './run.ts';

// Node 22 flags node:sqlite as experimental on every start; users of the CLI should not see that on each command.
const emitWarning = process.emitWarning;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (String(warning).includes('SQLite is an experimental feature')) return;
  return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
}) as typeof process.emitWarning;

// INVARIANT: a reader that stops early (`audit export ... | head`) ends the CLI quietly with a broken pipe's status
// (128 + SIGPIPE, as coreutils), never a stack trace, and `audit tail -f` stops following (test/cli/epipe.test.ts).
// The gateway's MCP transport handles its own stdout errors.
const BROKEN_PIPE = 141;
if (process.argv[2] !== 'gateway') {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(BROKEN_PIPE);
    });
  }
}

const status = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = status;
