import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './run-cli.ts';

// Traces the trace format accepts but the guard refuses: one message naming the line, exit 2, no stack trace.

const policy = join(import.meta.dirname, '..', 'fixtures', 'trace', 'policy.yaml');

function trace(lines: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'r2-bad-trace-'));
  const file = join(dir, 'trace.jsonl');
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

describe('ruleoftwo replay on a session the guard refuses', () => {
  it('names the trace line of a session whose options cannot hold together', async () => {
    const file = trace([
      { type: 'session', id: 's1' },
      { type: 'call', id: 'c1', tool: 'read' },
      { type: 'session', id: 's2', configuration: 'BC' },
    ]);
    const result = await cli(['replay', policy, file]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `ruleoftwo replay: trace \`${file}\` line 3: configuration BC excludes A, so the session's input must be trusted\n`,
    );
  });
});
