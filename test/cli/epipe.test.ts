import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { tempDirs } from '../store/stores.ts';

const workdir = tempDirs();
const main = join(import.meta.dirname, '../../src/cli/main.ts');

/** Runs the real CLI with its stdout pipe closed by the reader before the CLI writes, as `| head` does. */
function runWithClosedStdout(args: string[], cwd?: string) {
  const child = spawn(process.execPath, [main, ...args], cwd === undefined ? {} : { cwd });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ status: number | null; stderr: string }>((resolve) => {
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('a reader that closes stdout early', () => {
  it('ends the CLI quietly with the status of a broken pipe, not a stack trace', async () => {
    const run = await runWithClosedStdout(['--help']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(141);
  });

  it('ends `audit tail -f`, which would otherwise follow forever', async () => {
    const dir = workdir();
    const log = new SqliteAuditLog(join(dir, 'audit.db'));
    await log.append({ type: 'result.ignored', at: 1, sessionId: 's', callId: 'c1', reason: 'x' });
    await log.close();
    const run = await runWithClosedStdout(['audit', 'tail', '-f', 'audit.db'], dir);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(141);
  });
});
