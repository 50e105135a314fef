import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emailBotPolicy } from '../src/demo/email-bot.ts';
import { loadGatewayConfig } from '../src/mcp/config.ts';
import { parsePolicy } from '../src/policy/load.ts';
import { cli } from './cli/run-cli.ts';

const root = join(import.meta.dirname, '..', 'examples');
const scenarios = ['email-bot', 'travel-assistant', 'web-research', 'internal-coder'];

describe('examples', () => {
  for (const scenario of scenarios) {
    const dir = join(root, scenario);
    const traces = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

    it(`${scenario}: the policy passes check`, async () => {
      const result = await cli(['check', join(dir, 'policy.yaml'), '--json']);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout).policy.name).toBe(scenario);
    });

    for (const trace of traces) {
      it(`${scenario}/${trace}: every decision is as the trace expects`, async () => {
        const result = await cli(['replay', join(dir, 'policy.yaml'), join(dir, trace), '--json']);
        expect(result.stderr).toBe('');
        const lines = result.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const expected = readFileSync(join(dir, trace), 'utf8').match(/"expect":/g)?.length ?? 0;
        expect(expected).toBeGreaterThan(0);
        expect(lines.filter((l) => l.expect !== undefined)).toHaveLength(expected);
        expect(lines.filter((l) => l.mismatch !== undefined)).toEqual([]);
        expect(lines.at(-1).summary.mismatches).toBe(0);
        expect(result.status).toBe(0);
      });
    }
  }

  it('the demo uses the labels of examples/email-bot/policy.yaml', () => {
    const parsed = parsePolicy(readFileSync(join(root, 'email-bot', 'policy.yaml'), 'utf8'));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const strip = (tools: object) => JSON.parse(JSON.stringify(tools, (k, v) => (k === 'description' ? undefined : v)));
    expect(strip(parsed.document.tools ?? {})).toEqual(strip(emailBotPolicy.tools ?? {}));
    expect(parsed.document.lists).toEqual(emailBotPolicy.lists);
    expect(parsed.document.session).toEqual(emailBotPolicy.session);
  });
});

const repo = join(import.meta.dirname, '..');

/** Every ```text block of docs/*.md that is one `$ ruleoftwo ...` command on repository files and its whole output. */
function documentedRuns(): { doc: string; args: string[]; output: string }[] {
  const docs = join(repo, 'docs');
  return readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .flatMap((doc) =>
      [...readFileSync(join(docs, doc), 'utf8').matchAll(/```text\n\$ ruleoftwo (.*)\n((?:(?!\$ |```).*\n)*)```/g)].map(
        (m) => ({
          doc,
          args: (m[1] as string).split(' '),
          output: m[2] as string,
        }),
      ),
    )
    .filter(({ output }) => !/^\.\.\.$/m.test(output))
    .filter(({ args }) => args.filter((a) => /[/.]/.test(a)).every((a) => existsSync(join(repo, a))));
}

describe('documented command output', () => {
  const runs = documentedRuns();

  it('finds the runnable examples of the docs', () => {
    expect(runs.length).toBeGreaterThanOrEqual(3);
  });

  for (const { doc, args, output } of runs) {
    it(`docs/${doc}: ruleoftwo ${args.join(' ')}`, async () => {
      const result = await cli(args, { cwd: repo });
      expect(result.stdout + result.stderr).toBe(output);
    });
  }
});

describe('documented configuration', () => {
  it('the configuration reference of docs/gateway.md loads, with the values its comments name', async () => {
    const doc = readFileSync(join(repo, 'docs', 'gateway.md'), 'utf8');
    const yaml = doc.match(/## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/)?.[1];
    expect(yaml).toContain('servers:');
    const dir = mkdtempSync(join(tmpdir(), 'r2-docs-'));
    writeFileSync(join(dir, 'gateway.yaml'), yaml as string);
    copyFileSync(join(root, 'email-bot', 'policy.yaml'), join(dir, 'policy.yaml'));
    const config = await loadGatewayConfig(join(dir, 'gateway.yaml')).finally(() =>
      rmSync(dir, { recursive: true, force: true }),
    );
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8787, path: '/mcp', sessionIdleMs: 30 * 60_000 });
    expect(config.store).toEqual({ kind: 'sqlite', path: join(dir, 'ruleoftwo.db'), synchronous: 'full' });
    expect(config.maxMessageBytes).toBe(4194304);
  });
});
