import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('library examples', () => {
  it('the README quick-start example runs and stops the exfiltration', () => {
    // `--conditions=source` resolves `ruleoftwo` to src/, so the example runs against the code under test.
    const run = spawnSync(process.execPath, ['--conditions=source', 'examples/library/quickstart.ts'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      'sent to bob@example.com',
      'ruleoftwo denied `send_email`: `send_email` is consequential (C) while the session holds AB; no approval channel answered; `send_email` was not run',
    ]);
  });
});
