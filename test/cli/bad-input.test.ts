import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

describe('files that are not valid UTF-8', () => {
  // A policy with a Latin-1 byte on line 3, in a comment and in a list value. Decoding replaced it with U+FFFD unseen.
  const bytes = Buffer.concat([
    Buffer.from('version: 1\nlists:\n  team: [alice, b'),
    Buffer.from([0xf6]),
    Buffer.from(
      'rn] # J\xf6rn\ntools:\n  read_chat: { output: A, lineage: { author: from, trusted: team } }\n',
      'latin1',
    ),
  ]);

  function policyFile(): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), 'r2-bad-utf8-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, bytes);
    return { dir, file };
  }

  it('validate, check and replay name the line and exit 2', async () => {
    const { file } = policyFile();
    for (const args of [
      ['validate', file],
      ['check', file],
      ['replay', file, trace([{ type: 'session', id: 's' }])],
    ]) {
      const result = await cli(args);
      expect(result.status, args[0]).toBe(2);
      expect(result.stderr, args[0]).toContain('line 3 is not valid UTF-8');
      expect(result.stderr, args[0]).not.toContain('    at ');
    }
  });

  it('lineage allow refuses the file and leaves its bytes as they were', async () => {
    const { dir, file } = policyFile();
    const result = await cli(['lineage', 'allow', 'policy.yaml', '--tool', 'read_chat', '--author', 'bob'], {
      cwd: dir,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('line 3 is not valid UTF-8');
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });
});

describe('ruleoftwo replay with its files swapped', () => {
  it('says the policy comes first, instead of reporting each trace line as a YAML error', async () => {
    const file = trace([{ type: 'session', id: 's1' }]);
    const result = await cli(['replay', file, policy]);
    expect(result.status).toBe(2);
    expect(
      result.stderr.startsWith(`ruleoftwo replay: \`${file}\` looks like a trace; the policy comes first\n\nusage: `),
    ).toBe(true);
  });
});

describe('mistyped options', () => {
  it('name the option in backticks, without node:util advice on positionals', async () => {
    const cases: [string[], string][] = [
      [['check', policy, '--frmat'], 'ruleoftwo check: unknown option `--frmat`\n'],
      [['check', policy, '--format'], 'ruleoftwo check: option `--format` needs a value\n'],
      [['check', policy, '--json=yes'], 'ruleoftwo check: option `--json` takes no value\n'],
      [['audit', 'tail', 'a.db', '-n'], 'ruleoftwo audit: option `-n, --n` needs a value\n'],
    ];
    for (const [args, first] of cases) {
      const result = await cli(args);
      expect(result.status).toBe(2);
      expect(result.stderr.startsWith(`${first}\nusage: `)).toBe(true);
    }
  });
});
