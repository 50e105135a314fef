import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './run-cli.ts';

// Text from a trace, policy or config that would recolour, erase, move the cursor, overwrite a line (carriage
// return), reorder it (bidi override), open a CSI on its own (C1 `\u009b`) or hide a character (tag character).
const EVIL = 'evil\u001b[2K\u001b[31m\rallowed\u202e\u009b1A\u{e0041}';
const HIDDEN = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

const dir = mkdtempSync(join(tmpdir(), 'ruleoftwo-tty-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const policy = file('policy.yaml', `version: 1\ntools:\n  read_web: { output: A }\n  ${JSON.stringify(EVIL)}: none\n`);
const trace = file(
  'trace.jsonl',
  [
    { type: 'session', id: 's1' },
    { type: 'call', id: 'c1', tool: EVIL, args: { to: EVIL } },
    { type: 'lineage', author: EVIL, by: EVIL },
  ]
    .map((event) => JSON.stringify(event))
    .join('\n'),
);

describe('the CLI shows hidden characters of what it reads as escapes', () => {
  it('in the replay table, which stays aligned', async () => {
    const { status, stdout } = await cli(['replay', policy, trace]);
    expect(status).toBe(0);
    expect(stdout).not.toMatch(HIDDEN);
    expect(stdout).toContain('evil\\u001b[2K\\u001b[31m\\u000dallowed\\u202e\\u009b1A\\udb40\\udc41');
    const lines = stdout.split('\n');
    const call = lines.find((line) => line.includes(' c1 ')) ?? '';
    expect(call.slice(lines[0]?.indexOf('effect'))).toMatch(/^allow /);
  });

  it('in --json output, which still parses to the same values', async () => {
    const { stdout } = await cli(['replay', policy, trace, '--json']);
    expect(stdout).not.toMatch(HIDDEN);
    const rows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows[1]).toMatchObject({ tool: EVIL });
  });

  it('in errors about a malformed trace and in check and validate output', async () => {
    const bad = file('bad.jsonl', JSON.stringify({ type: 'call', id: 'c1', tool: 'x', [EVIL]: 1 }));
    const replayed = await cli(['replay', policy, bad]);
    expect(replayed.status).toBe(2);
    expect(replayed.stderr).toContain('unknown key `evil\\u001b');
    const checked = await cli(['check', policy]);
    const unknown = file('unknown.yaml', `version: 1\n${JSON.stringify(EVIL)}: 1\n`);
    const validated = await cli(['validate', unknown]);
    expect(validated.status).toBe(1);
    for (const out of [replayed.stderr, checked.stdout, checked.stderr, validated.stdout, validated.stderr]) {
      expect(out).not.toMatch(HIDDEN);
    }
    expect(checked.stdout).toContain('evil\\u001b');
  });
});
