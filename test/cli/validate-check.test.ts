import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './run-cli.ts';

const broken = join(import.meta.dirname, '..', 'fixtures', 'policy-cli', 'broken.yaml');

function policyFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'r2-')), 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

describe('validate', () => {
  it('reports every issue with path and line in one run', async () => {
    const result = await cli(['validate', broken]);
    expect(result.status).toBe(1);
    const lines = result.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    expect(lines).toEqual([
      expect.stringMatching(/:1 {2}version: unsupported version number `2`.*\[unsupported_version\]$/),
      expect.stringMatching(/:3 {2}sesion: unknown key `sesion`.*\[unknown_key\]$/),
      expect.stringMatching(/:5 {2}approvals.gate: expected one of ask, deny, got string `maybe` \[invalid_value\]$/),
      expect.stringMatching(/:6 {2}approvals.ttl: .*\[invalid_duration\]$/),
      expect.stringMatching(/:9 {2}tools.send_email.call: a call cannot carry leg A \[leg_not_allowed_here\]$/),
      expect.stringMatching(
        /:11 {2}tools.send_email.when\[0\].match.to.in: unknown list `partners`.*\[unknown_list\]$/,
      ),
      expect.stringMatching(/:11 {2}tools.send_email.when\[0\]: a condition needs `call` or `output` \[missing_key\]$/),
      expect.stringMatching(/:13 {2}tools.read_inbox.output: an output cannot carry leg C \[leg_not_allowed_here\]$/),
      expect.stringMatching(
        /:15 {2}tools.read_inbox.results\[0\].match.from.regex: invalid regular expression.*\[invalid_regex\]$/,
      ),
      expect.stringMatching(
        /:16 {2}tools.read_inbox.results\[0\].output: .*can only lower.*\[result_exceeds_output\]$/,
      ),
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their line, never a stack trace', async () => {
    const file = policyFile('version: 1\ntools:\n  a: B\n  a: C\n  b: [unclosed\n');
    const result = await cli(['validate', file, '--json']);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.valid).toBe(false);
    expect(report.issues.every((i: { code: string }) => i.code === 'syntax_error')).toBe(true);
    expect(report.issues.map((i: { line: number }) => i.line)).toContain(4);
  });

  it('places a syntax error by its line alone, in validate and in check (it has no path, and is not at the root)', async () => {
    const file = policyFile('version: 1\ntools:\n  a: B\n b: C\n');
    const validated = await cli(['validate', file]);
    expect(validated.stdout).toContain(
      `\n  ${file}:4  all mapping items must start at the same column [syntax_error]\n`,
    );
    const checked = await cli(['check', file]);
    expect(checked.status).toBe(2);
    expect(checked.stderr).toContain('\n  line 4: all mapping items must start at the same column [syntax_error]\n');
  });

  it('says an empty policy is empty, and a quoted version is a string, not an unsupported version 1', async () => {
    const empty = policyFile('# nothing yet\n');
    expect((await cli(['validate', empty])).stdout).toBe(
      `${empty}: 1 issue(s)\n  ${empty}  the policy is empty; it needs at least \`version: 1\` [expected_mapping]\n`,
    );
    expect((await cli(['check', empty])).stderr).toContain(
      '\n  the policy is empty; it needs at least `version: 1` [expected_mapping]\n',
    );
    const lower = policyFile('version: 1\ntools:\n  read: { output: ab }\n');
    expect((await cli(['validate', lower])).stdout).toContain(
      ':3  tools.read.output: expected legs such as `AB` or `none`, got string `ab`; legs are capital letters: write `AB` [invalid_legs]',
    );
    const list = policyFile('version: 1\ntools:\n  read: [A, B]\n');
    expect((await cli(['validate', list])).stdout).toContain(
      ':3  tools.read: expected legs as a string (`AB`) or a mapping such as `{ call: B, output: AB }`, got a list [expected_mapping]',
    );
    const quoted = policyFile('version: "1"\n');
    expect((await cli(['validate', quoted])).stdout).toContain(
      ':1  version: the version is a string `1`; write the number, `version: 1`, without quotes [unsupported_version]',
    );
  });

  it('exits 2 for a missing file, saying so in words and without the usage text', async () => {
    const result = await cli(['validate', '/nonexistent/policy.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      'ruleoftwo validate: cannot read `/nonexistent/policy.yaml`: no such file or directory\n',
    );
    const dir = await cli(['validate', '/']);
    expect(dir.stderr).toBe('ruleoftwo validate: cannot read `/`: it is a directory\n');
  });
});

describe('check', () => {
  it('fails in CI when unknown tools do not count as A+B+C', async () => {
    const file = policyFile('version: 1\nunknownTools: B\ntools:\n  read: AB\n  send: C\n');
    const result = await cli(['check', file]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('error: unknown tools count as B, missing AC');
  });

  it('passes a policy whose trifecta is always gated, and --strict fails on its warnings', async () => {
    const file = policyFile(
      'version: 1\ntools:\n  read: AB\n  send: { call: C, when: [{ match: { to: me }, call: none }] }\n',
    );
    expect((await cli(['check', file])).status).toBe(0);
    const strict = await cli(['check', file, '--strict']);
    expect(strict.status).toBe(1);
    expect(strict.stdout).toContain('`send` when[0] removes C');
  });

  it('lists per configuration verdicts, trifecta sources and self-trifecta tools as JSON', async () => {
    const file = policyFile('version: 1\nsession: { input: untrusted }\ntools:\n  do_all: ABC\n  read: B\n  send: C\n');
    const result = await cli(['check', file, '--json']);
    const analysis = JSON.parse(result.stdout);
    const doAll = analysis.tools.find((t: { tool: string }) => t.tool === 'do_all');
    expect(doAll.selfTrifecta).toBe(true);
    expect(doAll.variants[0].verdicts.dynamic).toMatchObject({ status: 'gated', rule: 4 });
    const send = analysis.tools.find((t: { tool: string }) => t.tool === 'send');
    expect(send.variants[0].verdicts).toMatchObject({
      dynamic: { status: 'gated-after-AB' },
      AB: { status: 'gated', rule: 2 },
      AC: { status: 'allow' },
      BC: { status: 'allow' },
    });
    expect(analysis.dynamic.aSources).toContain("(the session's input)");
    expect(analysis.dynamic.cSinks).toEqual(['do_all', 'send', '(unknown tools)']);
  });

  it('draws tools by leg in Mermaid', async () => {
    const file = policyFile('version: 1\ntools:\n  "fs.read": { call: B, output: B }\n');
    const result = await cli(['check', file, '--format', 'mermaid']);
    expect(result.stdout.split('\n')[0]).toBe('flowchart LR');
    expect(result.stdout).toContain('t_fs_46_read -->|call| B');
    expect(result.stdout).toContain('t_fs_46_read -->|output| B');
  });

  it('rejects an unknown format with usage', async () => {
    const result = await cli(['check', 'x.yaml', '--format', 'svg']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown format `svg`');
  });
});
