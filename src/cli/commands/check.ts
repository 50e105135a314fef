import { resolve } from 'node:path';
import type { Configuration } from '../../core/document.ts';
import { type Analysis, analysePolicy, type Verdict } from '../../policy/analyze.ts';
import { loadPolicy } from '../../policy/load.ts';
import { parseCommandArgs } from '../args.ts';
import { type Command, UsageError } from '../io.ts';
import { table } from '../table.ts';

const USAGE = `usage: ruleoftwo check <policy> [--format table|json|mermaid] [--json] [--strict]

Static analysis of a policy: for each configuration (dynamic, AB, AC, BC) which tools are gated and why, how the
trifecta can form in dynamic mode, tools that are a trifecta by themselves, and the unknown-tool default.
Exit status: 1 when the policy lets a session complete A+B+C without approval (with --strict, also on warnings),
2 on a usage or policy error, 0 otherwise.`;

const CONFIGURATIONS: readonly Configuration[] = ['dynamic', 'AB', 'AC', 'BC'];

function cell(v: Verdict): string {
  if (v.status === 'allow') return 'allow';
  if (v.status === 'gated-after-AB') return `${v.effect} after A+B`;
  return `${v.effect}: ${v.why}`;
}

function renderTable(analysis: Analysis): string {
  const rows: string[][] = [];
  for (const tool of [...analysis.tools, analysis.unknownTools]) {
    for (const v of tool.variants) {
      const name = v.source === 'base' ? tool.tool : `  ${v.source}`;
      rows.push([name, v.pre || '-', v.post || '-', ...CONFIGURATIONS.map((c) => cell(v.verdicts[c]))]);
    }
  }
  const { policy, dynamic } = analysis;
  const list = (items: string[]) => (items.length ? items.join(', ') : '(none)');
  const refinements = analysis.tools.flatMap((t) => t.refinements.map((r) => `  ${t.tool} ${r}`));
  const out = [
    `policy ${policy.name} (version ${policy.version}); default configuration ${policy.configuration}, input ${policy.input}`,
    '',
    table(['tool', 'call', 'output', ...CONFIGURATIONS], rows),
    '',
    'dynamic mode, how the trifecta can form:',
    `  A from:  ${list(dynamic.aSources)}`,
    `  B from:  ${list(dynamic.bSources)}`,
    `  C by:    ${list(dynamic.cSinks)}`,
    `  A+B at once: ${list(dynamic.abTogether)}`,
    '',
    ...(refinements.length > 0 ? ['argument-level refinements (docs/provenance.md):', ...refinements, ''] : []),
    ...analysis.findings.map((f) => `${f.severity}: ${f.message} [${f.code}]`),
  ];
  return `${out.join('\n')}\n`;
}

function mermaidId(text: string): string {
  return `t_${[...text].map((ch) => (/[A-Za-z0-9_]/.test(ch) ? ch : `_${ch.codePointAt(0)}_`)).join('')}`;
}

function renderMermaid(analysis: Analysis): string {
  const lines = [
    'flowchart LR',
    '  A(["A untrusted input"])',
    '  B(["B sensitive data or systems"])',
    '  C(["C state change or external communication"])',
  ];
  for (const tool of [...analysis.tools, analysis.unknownTools]) {
    const id = mermaidId(tool.tool);
    lines.push(`  ${id}["${tool.tool.replace(/"/g, '#quot;')}"]`);
    if (tool.selfTrifecta) lines.push(`  style ${id} stroke:#c00,stroke-width:3px`);
    const base = tool.variants[0];
    if (!base) continue;
    for (const leg of base.pre) lines.push(`  ${id} -->|call| ${leg}`);
    for (const leg of base.post) lines.push(`  ${id} -->|output| ${leg}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `ruleoftwo check <policy>`: static analysis of a policy. */
export const check: Command = {
  name: 'check',
  summary: 'static analysis of a policy',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(
      args,
      { format: { type: 'string' }, json: { type: 'boolean' }, strict: { type: 'boolean' } },
      1,
    );
    const file = parsed.positionals[0] as string;
    const format = parsed.values.json ? 'json' : (parsed.values.format ?? 'table');
    if (format !== 'table' && format !== 'json' && format !== 'mermaid') {
      throw new UsageError(`unknown format \`${String(format)}\`; expected table, json or mermaid`);
    }
    const analysis = analysePolicy(await loadPolicy(resolve(io.cwd, file)));
    if (format === 'json') io.stdout.write(`${JSON.stringify(analysis, null, 2)}\n`);
    else if (format === 'mermaid') io.stdout.write(renderMermaid(analysis));
    else io.stdout.write(renderTable(analysis));
    const failing = analysis.findings.some(
      (f) => f.severity === 'error' || (parsed.values.strict === true && f.severity === 'warning'),
    );
    return failing ? 1 : 0;
  },
};
