import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { parsePolicy } from '../../policy/load.ts';
import {
  EVAL_VARIANTS,
  type EvalCounts,
  type EvalReport,
  type EvalScenario,
  evaluateSuite,
  totalCounts,
} from '../../replay/eval.ts';
import { parseTrace } from '../../replay/trace.ts';
import { readTextFile, unreadableReason } from '../../text-file.ts';
import { parseCommandArgs } from '../args.ts';
import { type Command, UsageError } from '../io.ts';
import { table } from '../table.ts';

const USAGE = `usage: ruleoftwo eval <suite> [--json]

Replays an attack-scenario suite under three variants of each policy: legs only, plus argument conditions
(allow-lists), and full (plus provenance, URL controls, references, lineage). A suite is a directory with one
folder per category, each holding a policy.yaml and traces (*.jsonl, see docs/trace-format.md) whose calls expect
\`stopped\` (an attack) or \`allow\`/\`ask\` (the benign task). Prints attacks stopped and benign calls allowed
without asking, asked and denied, per category and variant.
Exit status: 1 when a decision under the full policy differs from the trace's \`expect\` or lacks a reason its
\`because\` names, 2 on a usage or file error.`;

async function readText(file: string): Promise<string> {
  try {
    return await readTextFile(file);
  } catch (error) {
    throw new ConfigError(`cannot read \`${file}\`: ${unreadableReason(error)}`);
  }
}

/** Loads a suite directory: every category folder's policy and traces. */
export async function loadSuite(dir: string): Promise<EvalScenario[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    throw new ConfigError(`cannot read suite \`${dir}\`: ${unreadableReason(error)}`);
  }
  const scenarios: EvalScenario[] = [];
  for (const category of entries.sort()) {
    const folder = join(dir, category);
    const policyFile = join(folder, 'policy.yaml');
    const parsed = parsePolicy(await readText(policyFile));
    if (!parsed.ok)
      throw new ConfigError(`policy \`${policyFile}\` has ${parsed.issues.length} issue(s)`, parsed.issues);
    const traces = (await readdir(folder)).filter((f) => f.endsWith('.jsonl')).sort();
    for (const trace of traces) {
      const file = join(folder, trace);
      const events = parseTrace(await readText(file), `trace \`${file}\``);
      scenarios.push({
        category,
        name: `${category}/${trace.replace(/\.jsonl$/, '')}`,
        document: parsed.document,
        events,
      });
    }
  }
  if (scenarios.length === 0) throw new UsageError(`suite \`${dir}\` has no category folders with traces`);
  return scenarios;
}

function ratio(part: number, whole: number): string {
  return `${part}/${whole}`;
}

/** Renders the evaluation as a table: one row per category and a total. */
export function renderEval(report: EvalReport): string {
  const categories = [...report.full.keys()];
  const row = (name: string, pick: (variant: keyof EvalReport) => EvalCounts) => {
    const full = pick('full');
    return [
      name,
      String(full.scenarios),
      ...EVAL_VARIANTS.map((v) => ratio(pick(v).stopped, pick(v).attacks)),
      ...EVAL_VARIANTS.map((v) => ratio(pick(v).allowed, pick(v).benign)),
      ...EVAL_VARIANTS.map((v) => String(pick(v).asked)),
      String(full.denied),
    ];
  };
  const rows = categories.map((c) => row(c, (v) => report[v].get(c) as EvalCounts));
  rows.push(row('total', (v) => totalCounts(report, v)));
  const header = [
    'category',
    'scenarios',
    'stopped: legs',
    '+conditions',
    'full',
    'benign allowed: legs',
    '+conditions',
    'full',
    'asked: legs',
    '+conditions',
    'full',
    'benign denied',
  ];
  const mismatches = totalCounts(report, 'full').mismatches;
  const legs = totalCounts(report, 'legs');
  const tail =
    mismatches.length === 0
      ? 'every decision under the full policy matches its trace'
      : `${mismatches.length} decision(s) under the full policy differ from their trace:\n${mismatches.map((m) => `  ${m}`).join('\n')}`;
  const reads = `${legs.consequential} of the ${legs.benign} benign calls go to consequential tools (C by the tool legs alone); the others confer no C`;
  return `${table(header, rows)}\n\nstopped = attack calls asked or denied; benign allowed = benign calls allowed without asking; asked = benign calls asked\n${reads}\n${tail}\n`;
}

/** `ruleoftwo eval <suite>`: what each refinement buys on an attack-scenario suite. */
export const evaluate: Command = {
  name: 'eval',
  summary: 'run an attack-scenario suite with and without the refinements',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { json: { type: 'boolean' } }, 1);
    const suite = parsed.positionals[0] as string;
    const report = await evaluateSuite(await loadSuite(resolve(io.cwd, suite)));
    if (parsed.values.json) {
      const json = Object.fromEntries(EVAL_VARIANTS.map((v) => [v, Object.fromEntries(report[v])]));
      io.stdout.write(`${JSON.stringify(json)}\n`);
    } else {
      io.stdout.write(renderEval(report));
    }
    return totalCounts(report, 'full').mismatches.length > 0 ? 1 : 0;
  },
};
