import { Readable } from 'node:stream';
import { runCli } from '../../src/cli/run.ts';

/** Runs the CLI in-process and captures what it prints. */
export async function cli(args: string[], options: { cwd?: string; stdin?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from([options.stdin ?? '']),
    env: {},
    cwd: options.cwd ?? process.cwd(),
  });
  return { status, stdout, stderr };
}
