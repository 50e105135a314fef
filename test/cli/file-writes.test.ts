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
});
