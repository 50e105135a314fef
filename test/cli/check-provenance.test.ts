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
});
