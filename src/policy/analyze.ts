import type { Configuration } from '../core/document.ts';
import { ALL_LEGS, formatLegs, LEG_A, LEG_B, LEG_C, type LegMask } from '../core/legs.ts';
import { configurationMask, type Policy, type ToolProfile } from '../core/policy.ts';

/** How a tool fares in one configuration. */
export type Verdict =
  | { status: 'allow' }
  | { status: 'gated'; rule: 2 | 4; effect: 'ask' | 'deny'; why: string }
  /** Dynamic mode: allowed until the session holds A and B, then gated by rule 3. */
  | { status: 'gated-after-AB'; effect: 'ask' | 'deny'; why: string };

/** One leg profile of a tool (its base legs, or an argument condition's). */
export interface VariantAnalysis {
  source: string;
  pre: string;
  post: string;
  legs: string;
  verdicts: Record<Configuration, Verdict>;
}

/** A tool of the policy, analysed. */
export interface ToolAnalysis {
  tool: string;
  known: boolean;
  gate: 'ask' | 'deny';
  /** Whether some variant has A, B and C by itself (rule 4). */
  selfTrifecta: boolean;
  variants: VariantAnalysis[];
}

/** A finding of the analysis; errors make `check` exit non-zero. */
export interface Finding {
  severity: 'error' | 'warning' | 'info';
  code: string;
  message: string;
}

/** How the lethal trifecta can form in dynamic mode. */
export interface TrifectaPaths {
  /** Where A can come from: tools whose output brings it, or the session's own input. */
  aSources: string[];
  /** Where B can come from: tools that touch sensitive systems or whose output brings it. */
  bSources: string[];
  /** Consequential tools, gated once A and B are held. */
  cSinks: string[];
  /** Tools that bring A and B by themselves, so any C call after them is gated. */
  abTogether: string[];
}

/** The static analysis of a policy (`ruleoftwo check`). */
export interface Analysis {
  policy: { name: string; version: string; configuration: Configuration; input: string };
  tools: ToolAnalysis[];
  unknownTools: ToolAnalysis;
  dynamic: TrifectaPaths & { reachable: boolean };
  findings: Finding[];
}

const CONFIGURATIONS: readonly Configuration[] = ['dynamic', 'AB', 'AC', 'BC'];

function verdict(pre: LegMask, post: LegMask, configuration: Configuration, gate: 'ask' | 'deny'): Verdict {
  const legs = pre | post;
  if (legs === ALL_LEGS) return { status: 'gated', rule: 4, effect: gate, why: 'trifecta by itself' };
  const excluded = legs & ~configurationMask(configuration);
  if (excluded) return { status: 'gated', rule: 2, effect: gate, why: `${formatLegs(excluded)} excluded` };
  if (configuration === 'dynamic' && pre & LEG_C) {
    return { status: 'gated-after-AB', effect: gate, why: 'consequential: gated once A and B are held' };
  }
  return { status: 'allow' };
}

function analyseTool(profile: ToolProfile, name: string): ToolAnalysis {
  const variants = profile.variants.map((v) => ({
    source: v.source,
    pre: formatLegs(v.pre),
    post: formatLegs(v.post),
    legs: formatLegs(v.pre | v.post),
    verdicts: Object.fromEntries(CONFIGURATIONS.map((c) => [c, verdict(v.pre, v.post, c, profile.gate)])) as Record<
      Configuration,
      Verdict
    >,
  }));
  return {
    tool: name,
    known: profile.known,
    gate: profile.gate,
    selfTrifecta: profile.variants.some((v) => (v.pre | v.post) === ALL_LEGS),
    variants,
  };
}

/** Analyses a policy: per-configuration verdicts, trifecta paths in dynamic mode, and findings. */
export function analysePolicy(policy: Policy): Analysis {
  const tools = policy.profiles.map((p) => analyseTool(p, p.key));
  const unknownTools = analyseTool(policy.unknown, '(unknown tools)');
  const findings: Finding[] = [];
  const aSources = new Set<string>();
  const bSources = new Set<string>();
  const cSinks = new Set<string>();
  const abTogether = new Set<string>();
  if (policy.input === 'untrusted') aSources.add("(the session's input)");
  for (const profile of [...policy.profiles, policy.unknown]) {
    const name = profile.known ? profile.key : '(unknown tools)';
    for (const v of profile.variants) {
      const label = v.source === 'base' ? name : `${name} ${v.source}`;
      if (v.post & LEG_A) aSources.add(label);
      if ((v.pre | v.post) & LEG_B) bSources.add(label);
      if (v.pre & LEG_C) cSinks.add(label);
      if ((v.pre | v.post) & LEG_A && (v.pre | v.post) & LEG_B) abTogether.add(label);
    }
  }

  const unknownLegs = policy.unknown.variants[0] ? policy.unknown.variants[0].pre | policy.unknown.variants[0].post : 0;
  if ((unknownLegs & ALL_LEGS) !== ALL_LEGS) {
    const missing = formatLegs(ALL_LEGS & ~unknownLegs);
    findings.push({
      severity: 'error',
      code: 'unknown_tools_not_trifecta',
      message: `unknown tools count as ${formatLegs(unknownLegs) || 'no legs'}, missing ${missing}: a tool the policy does not list can complete A+B+C without approval`,
    });
  }
  for (const tool of tools) {
    if (tool.selfTrifecta) {
      findings.push({
        severity: 'warning',
        code: 'tool_is_trifecta',
        message: `\`${tool.tool}\` is a trifecta by itself: every call is gated (${tool.gate})`,
      });
    }
    const base = policy.profiles.find((p) => p.key === tool.tool)?.variants[0];
    for (const variant of policy.profiles.find((p) => p.key === tool.tool)?.variants.slice(1) ?? []) {
      if (!base) continue;
      const lowered = (base.pre | base.post) & ~(variant.pre | variant.post);
      if (lowered) {
        findings.push({
          severity: 'warning',
          code: 'condition_lowers_legs',
          message: `\`${tool.tool}\` ${variant.source} removes ${formatLegs(lowered)}: calls matching it are trusted on the operator's word`,
        });
      }
    }
  }
  const globs = tools.filter((t) => /[*?]/.test(t.tool)).map((t) => t.tool);
  if (globs.length > 0) {
    findings.push({
      severity: 'info',
      code: 'glob_order',
      message: `globs apply in file order after exact names: ${globs.map((g) => `\`${g}\``).join(', ')}`,
    });
  }
  const reachable = aSources.size > 0 && bSources.size > 0 && cSinks.size > 0;
  findings.push({
    severity: 'info',
    code: reachable ? 'trifecta_reachable' : 'trifecta_unreachable',
    message: reachable
      ? 'in dynamic mode a session can gather A, B and C; every consequential call after A and B is gated'
      : 'in dynamic mode no session can gather A, B and C',
  });

  return {
    policy: { name: policy.name, version: policy.version, configuration: policy.configuration, input: policy.input },
    tools,
    unknownTools,
    dynamic: {
      reachable,
      aSources: [...aSources],
      bSources: [...bSources],
      cSinks: [...cSinks],
      abTogether: [...abTogether],
    },
    findings,
  };
}
