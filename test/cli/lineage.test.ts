import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportJsonl, openAuditDatabase } from '../../src/audit/inspect.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import { cli } from './run-cli.ts';

const POLICY = `version: 1
# the coder's policy
lists:
  maintainers: [alice]
tools:
  read_issue:
    output: A
    lineage: { items: comments, author: user, id: id, trusted: maintainers, untrusted: filter }
  read_chat:
    output: A
    lineage: { author: from }
`;

function setup(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'r2-lineage-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, POLICY);
  return { dir, file };
}

describe('ruleoftwo lineage allow', () => {
  it('adds an author to the named list, keeps comments, and appends an audit record', async () => {
    const { dir, file } = setup();
    await new SqliteAuditLog(join(dir, 'audit.db')).close();
    const result = await cli(
      [
        'lineage',
        'allow',
        'policy.yaml',
        '--tool',
        'read_issue',
        '--author',
        'bob',
        '--by',
        'rev',
        '--audit',
        'audit.db',
      ],
      { cwd: dir },
    );
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout).toBe('author `bob` is now trusted for `read_issue` in policy.yaml\n');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# the coder');
    const parsed = parsePolicy(text);
    expect(parsed.ok && parsed.document.lists?.maintainers).toEqual(['alice', 'bob']);
    const lines: string[] = [];
    const db = openAuditDatabase(join(dir, 'audit.db'));
    exportJsonl(db, (line) => lines.push(line));
    db.close();
    const records = lines.map((l) => JSON.parse(l)).filter((r) => r.event?.type === 'lineage.allow');
    expect(JSON.stringify(records)).toContain('"author":"bob"');
    expect(JSON.stringify(records)).toContain('"tool":"read_issue"');
    const again = await cli(['lineage', 'allow', 'policy.yaml', '--tool', 'read_issue', '--author', 'bob'], {
      cwd: dir,
    });
    expect(again.stdout).toBe('author `bob` was already trusted for `read_issue`\n');
  });

  it('adds an item id, and an inline trusted list when there is none', async () => {
    const { dir, file } = setup();
    expect((await cli(['lineage', 'allow', file, '--tool', 'read_issue', '--item', '42'], { cwd: dir })).status).toBe(
      0,
    );
    expect((await cli(['lineage', 'allow', file, '--tool', 'read_chat', '--author', 'eve'], { cwd: dir })).status).toBe(
      0,
    );
    const parsed = parsePolicy(readFileSync(file, 'utf8'));
    const tools = parsed.ok ? parsed.document.tools : undefined;
    expect(tools?.read_issue?.lineage?.trustedItems).toEqual(['42']);
    expect(tools?.read_chat?.lineage?.trusted).toEqual(['eve']);
  });

  it('refuses what it cannot do, naming it, and leaves the file alone', async () => {
    const { dir, file } = setup();
    const noLineage = await cli(['lineage', 'allow', file, '--tool', 'nope', '--author', 'x'], { cwd: dir });
    expect(noLineage.status).toBe(2);
    expect(noLineage.stderr).toContain('tool `nope` has no `lineage`');
    const invalid = await cli(['lineage', 'allow', file, '--tool', 'read_chat', '--item', '7'], { cwd: dir });
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toContain('trusted items need `id`');
    const both = await cli(['lineage', 'allow', file, '--tool', 'read_issue', '--author', 'a', '--item', '1'], {
      cwd: dir,
    });
    expect(both.stderr).toContain('give exactly one of --author or --item');
    expect(readFileSync(file, 'utf8')).toBe(POLICY);
  });
});
