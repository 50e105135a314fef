import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('durable stores example', () => {
  it('a session keeps A and B across a restart, and the audit log verifies', () => {
    // `--conditions=source` resolves `ruleoftwo` and `ruleoftwo/sqlite` to src/, the code under test.
    const run = spawnSync(process.execPath, ['--conditions=source', 'examples/library/durable.ts'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      'after restart: AB',
      'send_email to x@evil.test: ask',
      'audit log: ok, 5 records',
    ]);
  });
});
