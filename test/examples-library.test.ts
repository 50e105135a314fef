import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Runs an example; `--conditions=source` resolves `ruleoftwo` to src/, so it runs against the code under test. */
function runExample(file: string) {
  return spawnSync(process.execPath, ['--conditions=source', file], { cwd: root, encoding: 'utf8' });
}

describe('library examples', () => {
  it('the README quick-start example runs and stops the exfiltration', () => {
    const run = runExample('examples/library/quickstart.ts');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      'sent to bob@example.com',
      'ruleoftwo denied `send_email`: `send_email` is consequential (C) while the session holds AB; no approval channel answered; `send_email` was not run',
    ]);
  });

  it('durable stores: a session keeps A and B across a restart, and the audit log verifies', () => {
    const run = runExample('examples/library/durable.ts');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      'after restart: AB',
      'send_email to x@evil.test: ask',
      'audit log: ok, 5 records',
    ]);
  });
});
