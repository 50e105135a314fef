import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './run-cli.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'attacks');

describe('ruleoftwo check shows argument-level refinements', () => {
  it('lists each control, reference, lineage and flags allow-lists without a provenance control', async () => {
    const files = await cli(['check', join(fixtures, 'files', 'policy.yaml')]);
    expect(files.status).toBe(0);
    expect(files.stdout).toContain('argument-level refinements (docs/provenance.md):');
    expect(files.stdout).toContain('share_file args.file_id: names a sensitive object: confers B');
    expect(files.stdout).toContain('upload_to_url args.url: URL, only as a trusted source gave it → deny');
    expect(files.stdout).toMatch(/^ {2}when\[0\]\+reference +B +- /m);

    const chat = await cli(['check', join(fixtures, 'chat', 'policy.yaml'), '--json']);
    const analysis = JSON.parse(chat.stdout);
    const readChannel = analysis.tools.find((t: { tool: string }) => t.tool === 'read_channel');
    expect(readChannel.refinements).toEqual(['lineage: items by trusted authors bring no A; others bring A']);
    const unguarded = analysis.findings.filter((f: { code: string }) => f.code === 'allow_list_without_provenance');
    expect(unguarded.map((f: { message: string }) => f.message.split(' ')[0])).toEqual([
      '`post_message`',
      '`share_file`',
    ]);
  });

  it('names each declassify schema with its article', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'r2-check-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'tools:',
        '  classify: { output: A, declassify: { type: enum, values: [bug, feature] } }',
        "  ticket: { output: A, declassify: { type: id, pattern: 'T-[0-9]+', maxLength: 12 } }",
        '  when: { output: A, declassify: { type: date } }',
        '',
      ].join('\n'),
    );
    const check = await cli(['check', file]).finally(() => rmSync(dir, { recursive: true, force: true }));
    expect(check.stdout).toContain('classify declassify: an output that is an enum brings no A');
    expect(check.stdout).toContain('ticket declassify: an output that is an id brings no A');
    expect(check.stdout).toContain('when declassify: an output that is a date brings no A');
  });
});
