import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyPins, readPins, writePins } from '../../src/mcp/pins.ts';
import { writeSampleLog } from '../audit/log.ts';
import { cli } from './run-cli.ts';

const POLICY = `version: 1
tools:
  read_chat: { output: A, lineage: { author: from } }
`;

// A file another local user (or a compromised tool) could point a predictable temporary name at.
function plant(dir: string, name: string): string {
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(dir, name));
  return victim;
}

describe('files the CLI rewrites', () => {
  it('lineage allow never writes through a planted temporary symlink, keeps the mode and a symlinked policy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'r2-writes-'));
    mkdirSync(join(dir, 'config'));
    const real = join(dir, 'config', 'policy.yaml');
    writeFileSync(real, POLICY);
    chmodSync(real, 0o640);
    symlinkSync(real, join(dir, 'policy.yaml'));
    const victim = plant(dir, 'policy.yaml.tmp');
    const victimInConfig = plant(join(dir, 'config'), 'policy.yaml.tmp');
    const run = await cli(
      ['lineage', 'allow', 'policy.yaml', '--tool', 'read_chat', '--author', 'bob', '--by', 'rev'],
      {
        cwd: dir,
      },
    );
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(victimInConfig, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(dir, 'policy.yaml')).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toContain('trusted: [ bob ]');
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(dir, 'config')).sort()).toEqual(['policy.yaml', 'policy.yaml.tmp', 'victim']);
  });

  it('a pin file is never written through a symlink planted at its temporary name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'r2-pins-'));
    const file = join(dir, 'pins.json');
    const victim = plant(dir, `pins.json.${process.pid}.tmp`);
    await writePins(file, emptyPins());
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(file).isFile()).toBe(true);
    expect(await readPins(file)).toEqual(emptyPins());
  });

  it('audit export --out writes a new file 0600 and replaces a symlink planted there, never its target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'r2-export-'));
    await writeSampleLog(dir, 3);
    const victim = plant(dir, 'planted.jsonl');
    chmodSync(victim, 0o644);
    for (const out of ['log.jsonl', 'planted.jsonl']) {
      const run = await cli(['audit', 'export', 'audit.db', '--out', out], { cwd: dir });
      expect(run).toMatchObject({ status: 0, stderr: '' });
      expect(lstatSync(join(dir, out)).isFile()).toBe(true);
      expect(statSync(join(dir, out)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, out), 'utf8')).toContain('"log":"ruleoftwo-audit"');
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    chmodSync(join(dir, 'log.jsonl'), 0o640);
    expect((await cli(['audit', 'export', 'audit.db', '--out', 'log.jsonl'], { cwd: dir })).status).toBe(0);
    expect(statSync(join(dir, 'log.jsonl')).mode & 0o777).toBe(0o640);
  });
});
