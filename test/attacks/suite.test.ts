import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuite } from '../../src/cli/commands/eval.ts';
import { EVAL_VARIANTS, type EvalCounts, evaluateSuite, policyVariant } from '../../src/replay/eval.ts';
import { cli } from '../cli/run-cli.ts';

const suiteDir = join(import.meta.dirname, '..', 'fixtures', 'attacks');
const scenarios = await loadSuite(suiteDir);
const report = await evaluateSuite(scenarios);

function sum(variant: (typeof EVAL_VARIANTS)[number]): Omit<EvalCounts, 'mismatches'> {
  const out = { scenarios: 0, attacks: 0, stopped: 0, benign: 0, allowed: 0, asked: 0, denied: 0 };
  for (const counts of report[variant].values())
    for (const key of Object.keys(out) as (keyof typeof out)[]) out[key] += counts[key];
  return out;
}

describe('attack-scenario suite', () => {
  it('has at least 40 scenarios across email, chat, banking, travel, files and browsing, each with a benign task and an attack', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(40);
    expect([...report.full.keys()]).toEqual(['banking', 'browsing', 'chat', 'email', 'files', 'travel']);
    for (const scenario of scenarios) {
      const calls = scenario.events.filter((e) => e.type === 'call');
      expect(
        calls.some((c) => c.expect === 'stopped'),
        scenario.name,
      ).toBe(true);
      expect(
        calls.some((c) => c.expect === 'allow' || c.expect === 'ask'),
        scenario.name,
      ).toBe(true);
    }
  });

  it('covers the attack kinds the issue names', () => {
    const names = scenarios.map((s) => s.name).join(' ');
    for (const kind of [
      'phishing',
      'redirection',
      'outsider-invite',
      'markdown-image',
      'query-string',
      'by-reference',
      'url-construction',
    ]) {
      expect(names).toContain(kind);
    }
  });

  it('every decision under the full policy matches its trace: every attack stopped, no benign call denied', () => {
    const full = sum('full');
    expect([...report.full.values()].flatMap((c) => c.mismatches)).toEqual([]);
    expect(full.stopped).toBe(full.attacks);
    expect(full.denied).toBe(0);
  });

  it('a benign call expected to be asked states why in its comment', () => {
    for (const category of report.full.keys()) {
      const dir = join(suiteDir, category);
      for (const scenario of scenarios.filter((s) => s.category === category)) {
        const text = readFileSync(join(dir, `${scenario.name.split('/')[1]}.jsonl`), 'utf8');
        for (const line of text
          .split('\n')
          .filter((l) => l.includes('"expect":"ask"') || l.includes('"expect": "ask"'))) {
          expect(JSON.parse(line).comment, line).toEqual(expect.any(String));
        }
      }
    }
  });

  it('shows what the refinements buy: allow-lists alone let attacks through that the full policy stops', () => {
    const [legs, conditions, full] = EVAL_VARIANTS.map(sum);
    expect(conditions?.stopped).toBeLessThan(full?.stopped ?? 0);
    expect(legs?.stopped).toBeLessThan(full?.stopped ?? 0);
    expect(full?.allowed).toBeGreaterThanOrEqual(legs?.allowed ?? 0);
  });

  it('variants strip exactly the refinements they leave out', () => {
    const document = scenarios.find((s) => s.category === 'banking')?.document;
    if (!document) throw new Error('no banking scenario');
    const legs = policyVariant(document, 'legs');
    const conditions = policyVariant(document, 'conditions');
    expect(legs.tools?.send_money).toEqual({ call: 'BC' });
    expect(conditions.tools?.send_money).toMatchObject({ call: 'BC', when: expect.any(Array) });
    expect(conditions.tools?.send_money).not.toHaveProperty('args');
    expect(policyVariant(document, 'full')).toBe(document);
  });
});

describe('ruleoftwo eval and replay on the suite', () => {
  it('eval prints the table per category and exits 0 when every trace holds', async () => {
    const result = await cli(['eval', suiteDir]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const full = sum('full');
    expect(result.stdout).toMatch(new RegExp(`^total +${full.scenarios} +.* ${full.stopped}/${full.attacks} `, 'm'));
    expect(result.stdout).toContain('every decision under the full policy matches its trace');
  });

  it('eval names a missing suite without a stack trace', async () => {
    const result = await cli(['eval', join(suiteDir, 'nope')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/cannot read suite `.*nope`: ENOENT/);
  });

  it('replay shows which argument carries which source value', async () => {
    const dir = join(suiteDir, 'banking');
    const result = await cli([
      'replay',
      join(dir, 'policy.yaml'),
      join(dir, 'invoice-payment-redirection.jsonl'),
      '--json',
    ]);
    expect(result.status).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const attack = rows.find((r) => r.call === 'c4');
    expect(attack).toMatchObject({ effect: 'deny' });
    expect(attack.provenance).toEqual([
      expect.objectContaining({ argument: 'recipient', labels: 'AB', kind: 'value', value: 'GB33BUKB20201555555555' }),
    ]);
    expect(attack.provenance[0].sources[0]).toMatchObject({ tool: 'read_invoice_email', callId: 'c3' });
  });
});
