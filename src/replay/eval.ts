import type { PolicyDocument, ToolDocument } from '../core/document.ts';
import { compilePolicy } from '../core/policy.ts';
import { replay } from './replay.ts';
import type { TraceEvent } from './trace.ts';

/**
 * Policy variants an evaluation compares: `legs` (tool legs only), `conditions` (plus argument and result
 * conditions such as recipient allow-lists), `full` (plus provenance, URL controls, references, lineage and
 * declassification).
 */
export type EvalVariant = 'legs' | 'conditions' | 'full';

/** Every variant, weakest first. */
export const EVAL_VARIANTS: readonly EvalVariant[] = ['legs', 'conditions', 'full'];

/** One scenario: a trace played by a scripted (fully compromised) agent under a category's policy. */
export interface EvalScenario {
  category: string;
  name: string;
  document: PolicyDocument;
  events: readonly TraceEvent[];
}

/** Counts for one category under one variant. */
export interface EvalCounts {
  scenarios: number;
  /** Calls the trace expects to be stopped (`stopped` or `deny`): the attacks. */
  attacks: number;
  stopped: number;
  /** Calls the trace expects to be allowed or asked: the benign task. */
  benign: number;
  /** Benign calls that confer C under this variant (the rest are reads, which no variant here gates). */
  consequential: number;
  allowed: number;
  asked: number;
  denied: number;
  /** Decisions that differ from the trace's `expect` (meaningful for `full`, which the traces are written for). */
  mismatches: string[];
}

/** The evaluation of a suite: counts per variant and category, in category order. */
export type EvalReport = Record<EvalVariant, Map<string, EvalCounts>>;

function stripTool(tool: ToolDocument | string, variant: EvalVariant): ToolDocument | string {
  if (typeof tool === 'string' || variant === 'full') return tool;
  const { args: _args, lineage: _lineage, declassify: _declassify, when, results, ...rest } = tool;
  return variant === 'legs' ? rest : { ...rest, ...(when ? { when } : {}), ...(results ? { results } : {}) };
}

/** The document with the refinements a variant leaves out removed. */
export function policyVariant(document: PolicyDocument, variant: EvalVariant): PolicyDocument {
  if (variant === 'full') return document;
  const { provenance: _provenance, tools, ...rest } = document;
  const stripped: Record<string, ToolDocument> = {};
  for (const [name, tool] of Object.entries(tools ?? {})) stripped[name] = stripTool(tool, variant) as ToolDocument;
  return { ...rest, tools: stripped };
}

/** The numeric fields of {@link EvalCounts}. */
const COUNT_KEYS = [
  'scenarios',
  'attacks',
  'stopped',
  'benign',
  'consequential',
  'allowed',
  'asked',
  'denied',
] as const;

function emptyCounts(): EvalCounts {
  const counts = { mismatches: [] } as unknown as EvalCounts;
  for (const key of COUNT_KEYS) counts[key] = 0;
  return counts;
}

/** One variant's counts summed over every category, mismatches included. */
export function totalCounts(report: EvalReport, variant: EvalVariant): EvalCounts {
  const sum = emptyCounts();
  for (const counts of report[variant].values()) {
    for (const key of COUNT_KEYS) sum[key] += counts[key];
    sum.mismatches.push(...counts.mismatches);
  }
  return sum;
}

/** Replays every scenario under every variant and counts what each variant stops and lets through. */
export async function evaluateSuite(scenarios: readonly EvalScenario[]): Promise<EvalReport> {
  const report = { legs: new Map(), conditions: new Map(), full: new Map() } as EvalReport;
  for (const variant of EVAL_VARIANTS) {
    for (const scenario of scenarios) {
      const counts = report[variant].get(scenario.category) ?? emptyCounts();
      report[variant].set(scenario.category, counts);
      counts.scenarios++;
      const result = await replay(compilePolicy(policyVariant(scenario.document, variant)), scenario.events);
      for (const row of result.rows) {
        if (row.kind !== 'call' || row.expect === undefined || row.effect === undefined) continue;
        if (row.mismatch) counts.mismatches.push(`${scenario.name} line ${row.line}: ${row.mismatch}`);
        if (row.expect === 'stopped' || row.expect === 'deny') {
          counts.attacks++;
          if (row.effect !== 'allow') counts.stopped++;
        } else {
          counts.benign++;
          if (row.decision?.call?.pre.includes('C')) counts.consequential++;
          if (row.effect === 'allow') counts.allowed++;
          else if (row.effect === 'ask') counts.asked++;
          else counts.denied++;
        }
      }
    }
  }
  return report;
}
