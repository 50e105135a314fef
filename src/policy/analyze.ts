import type { Configuration, ToolDocument } from '../core/document.ts';
import { ALL_LEGS, formatLegs, LEG_A, LEG_B, LEG_C, type LegMask, parseLegs } from '../core/legs.ts';
import { type CallLegs, configurationMask, type Policy, type ToolProfile } from '../core/policy.ts';

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
  /** Argument-level controls, lineage and declassification, one line each (see docs/provenance.md). */
  refinements: string[];
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
    refinements: describeRefinements(profile),
  };
}

function describeRefinements(profile: ToolProfile): string[] {
  const out: string[] = [];
  for (const c of profile.controls) {
    const parts: string[] = [];
    if (c.untrusted !== 'off') parts.push(`value from an untrusted output → ${c.untrusted}`);
    if (c.sensitive !== 'off') parts.push(`value from a sensitive output → ${c.sensitive}`);
    if (c.reference) parts.push('names a sensitive object: confers B');
    if (c.url) {
      const url = [c.url.embedded ? 'URLs in the text' : 'URL'];
      if (c.url.fromTrusted) url.push('only as a trusted source gave it');
      if (c.url.allow) url.push(`hosts ${c.url.allow.length} allowed pattern(s)`);
      if (c.url.deny) url.push(`not ${c.url.deny.length} denied pattern(s)`);
      parts.push(`${url.join(', ')} → ${c.url.effect}`);
    }
    out.push(`args.${c.path}: ${parts.join('; ')}`);
  }
  if (profile.lineage) {
    const mode = profile.lineage.untrusted === 'filter' ? 'removed before the model sees them' : 'bring A';
    out.push(`lineage: items by trusted authors bring no A; others ${mode}`);
  }
  if (profile.declassify) {
    const type = profile.declassify.type;
    out.push(`declassify: an output that is ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type} brings no A`);
  }
  return out;
}

/** The policy's tool entries written as mappings (a shorthand string holds legs only). */
function toolEntries(policy: Policy): [string, ToolDocument][] {
  return Object.entries(policy.document.tools ?? {}).filter(
    (entry): entry is [string, ToolDocument] => typeof entry[1] === 'object' && entry[1] !== null,
  );
}

/** Allow-list conditions that lower C without a provenance control on the same argument. */
function unguardedAllowLists(policy: Policy): Finding[] {
  const findings: Finding[] = [];
  for (const [name, doc] of toolEntries(policy)) {
    // By key: resolving a glob's own text may reach an earlier glob that matches it (`*` before `send_*`).
    const profile = policy.profiles.find((p) => p.key === name);
    const base = profile?.variants[0];
    if (!profile || !base || !(base.pre & LEG_C)) continue;
    for (const [i, condition] of (doc.when ?? []).entries()) {
      const variant = profile.variants[i + 1];
      if (!variant || variant.pre & LEG_C) continue;
      for (const [path, matcher] of Object.entries(condition.match)) {
        if (typeof matcher !== 'object' || matcher === null || matcher.in === undefined) continue;
        const guarded =
          policy.consequential?.untrusted !== undefined && policy.consequential.untrusted !== 'off'
            ? true
            : profile.controls.some((c) => (c.path === path || c.path === '*') && c.untrusted !== 'off');
        if (!guarded) {
          findings.push({
            severity: 'info',
            code: 'allow_list_without_provenance',
            message: `\`${name}\` when[${i}] trusts \`${path}\` by allow-list alone; add \`args.${path}.untrusted\` to refuse a listed value taken from untrusted text`,
          });
        }
      }
    }
  }
  return findings;
}

/** Result conditions that lower what an output brings: they read the output, which its authors wrote. */
function loweringResults(policy: Policy): Finding[] {
  const findings: Finding[] = [];
  for (const [name, doc] of toolEntries(policy)) {
    const base = policy.profiles.find((p) => p.key === name)?.variants[0];
    if (base === undefined) continue;
    for (const [i, condition] of (doc.results ?? []).entries()) {
      const lowered = base.post & ~(parseLegs(condition.output) ?? base.post);
      if (!lowered) continue;
      findings.push({
        severity: 'warning',
        code: 'result_lowers_legs',
        message: `\`${name}\` results[${i}] removes ${formatLegs(lowered)}: outputs matching it are trusted on the operator's word; match only what outsiders cannot write`,
      });
    }
  }
  return findings;
}

/** Tool entries that declare no legs at all (`{ gate: deny }`, `{ description: ... }`): they count as none. */
function entriesWithoutLegs(policy: Policy): Finding[] {
  const findings: Finding[] = [];
  for (const [name, doc] of toolEntries(policy)) {
    if (doc.legs !== undefined || doc.call !== undefined || doc.output !== undefined) continue;
    findings.push({
      severity: 'warning',
      code: 'tool_without_legs',
      message: `\`${name}\` sets none of legs, call, output: it counts as no legs, so its calls are never gated (a \`gate\` on it never applies); write \`${name}: none\` if that is meant`,
    });
  }
  return findings;
}

/** Bare values with a `*` in conditions: an equality test on the text as written, easily taken for a glob. */
function literalWildcards(policy: Policy): Finding[] {
  const findings: Finding[] = [];
  for (const [name, doc] of toolEntries(policy)) {
    const conditions = [
      ...(doc.when ?? []).map((c, i) => ({ where: `when[${i}]`, match: c.match })),
      ...(doc.results ?? []).map((c, i) => ({ where: `results[${i}]`, match: c.match })),
    ];
    for (const { where, match } of conditions) {
      for (const [path, matcher] of Object.entries(match)) {
        if (typeof matcher !== 'string' || !matcher.includes('*')) continue;
        findings.push({
          severity: 'warning',
          code: 'literal_wildcard',
          message: `\`${name}\` ${where} compares \`${path}\` with \`${matcher}\` as written; write \`{ in: ['${matcher}'] }\` to match it as a glob`,
        });
      }
    }
  }
  return findings;
}

/**
 * What `to` lacks of `from`, in words: legs it has nowhere, and legs it has only in the output where `from` has them in
 * the call (B at call time counts for the call's own decision; B in the output only for later calls).
 */
function legChange(verb: string, preposition: string, from: CallLegs, to: CallLegs): string | undefined {
  const gone = (from.pre | from.post) & ~(to.pre | to.post);
  const moved = from.pre & ~to.pre & ~gone;
  const parts = [];
  if (gone) parts.push(`${verb} ${formatLegs(gone)}`);
  if (moved) parts.push(`${verb} ${formatLegs(moved)} ${preposition} the call`);
  return parts.length === 0 ? undefined : parts.join(' and ');
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
  // A glob of stars alone labels every tool the policy does not name, so `unknownTools` never applies.
  for (const profile of policy.profiles) {
    if (!/^\*+$/.test(profile.key)) continue;
    const legs = profile.variants.reduce((all, v) => all & (v.pre | v.post), ALL_LEGS);
    if (legs === ALL_LEGS) continue;
    findings.push({
      severity: 'error',
      code: 'catch_all_not_trifecta',
      message: `\`${profile.key}\` labels every tool the policy does not name as ${formatLegs(legs) || 'no legs'}, missing ${formatLegs(ALL_LEGS & ~legs)}: a tool the policy does not list can complete A+B+C without approval`,
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
      const lowered = legChange('removes', 'from', base, variant);
      if (lowered) {
        findings.push({
          severity: 'warning',
          code: 'condition_lowers_legs',
          message: `\`${tool.tool}\` ${variant.source} ${lowered}: calls matching it are trusted on the operator's word`,
        });
      }
      // A condition fails on a missing argument or one of another type or shape (`'5000'` for a number), which the
      // caller chooses: legs a condition adds can be avoided, legs it removes cannot be taken.
      const raised = legChange('adds', 'to', variant, base);
      if (raised && !variant.source.endsWith('+reference')) {
        findings.push({
          severity: 'warning',
          code: 'condition_raises_legs',
          message: `\`${tool.tool}\` ${variant.source} ${raised}: a call that does not match it (an argument missing, or of another type or shape) keeps the base legs; declare them in the base and lower them with a condition on what you allow`,
        });
      }
    }
  }
  findings.push(...unguardedAllowLists(policy));
  findings.push(...entriesWithoutLegs(policy));
  findings.push(...loweringResults(policy));
  findings.push(...literalWildcards(policy));
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
