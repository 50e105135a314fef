import type { PolicyDocument, ToolDocument } from '../core/document.ts';
import { compilePolicy, type Policy } from '../core/policy.ts';
import { NAMESPACE_SEPARATOR, type UpstreamConfig } from './config.ts';

/** The `_meta` key under which the gateway publishes each tool's legs to clients. */
export const LEGS_META_KEY = 'dev.ruleoftwo/legs';

/** MCP tool annotations as far as labelling reads them (all hints). */
export interface ToolHints {
  readOnlyHint?: boolean | undefined;
  openWorldHint?: boolean | undefined;
}

/** Where a tool's label came from. */
export type LabelSource = 'policy' | 'annotations';

/** The client-facing name of an upstream tool. */
export function namespaced(upstream: string, tool: string): string {
  return `${upstream}${NAMESPACE_SEPARATOR}${tool}`;
}

/** The policy name under which `resources/read` of an upstream is decided. */
export function resourceToolName(upstream: string): string {
  return `${upstream}/resources/read`;
}

/** The policy name under which `prompts/get` of an upstream is decided. */
export function promptToolName(upstream: string): string {
  return `${upstream}/prompts/get`;
}

/**
 * Labels an unlabelled tool from its annotations. Hints may only add risk: the spec defaults (not read-only,
 * open world) apply unless the upstream is trusted, and B never comes from a hint.
 */
export function labelFromHints(hints: ToolHints | undefined, trusted: boolean): ToolDocument {
  // INVARIANT: an untrusted server's hints never lower risk (test/mcp/labels.test.ts "untrusted hints").
  const readOnly = trusted && hints?.readOnlyHint === true;
  const openWorld = !trusted || hints?.openWorldHint !== false;
  return { call: readOnly ? 'none' : 'C', output: openWorld ? 'A' : 'none' };
}

/** The policy document before annotation labels: the operator's policy plus every upstream's labels, namespaced. */
export function configuredPolicy(base: PolicyDocument, upstreams: readonly UpstreamConfig[]): PolicyDocument {
  const tools: Record<string, ToolDocument> = { ...(base.tools ?? {}) };
  for (const upstream of upstreams) {
    for (const [key, label] of Object.entries(upstream.tools)) tools[namespaced(upstream.name, key)] ??= label;
    tools[resourceToolName(upstream.name)] ??= upstream.resources;
    tools[promptToolName(upstream.name)] ??= upstream.prompts;
  }
  return { ...base, tools };
}

/** One tool offered by an upstream, as labelling sees it. */
export interface OfferedTool {
  upstream: string;
  name: string;
  annotations?: ToolHints;
}

/** The compiled policy for the tools on offer, and where each tool's label came from. */
export interface LabelledPolicy {
  policy: Policy;
  sources: Map<string, LabelSource>;
}

/**
 * Compiles the policy for the tools upstreams offer now: configured labels win; a tool they do not cover gets a
 * label from its annotations (see {@link labelFromHints}).
 */
export function labelTools(
  configured: PolicyDocument,
  offered: readonly OfferedTool[],
  upstreams: readonly UpstreamConfig[],
): LabelledPolicy {
  const known = compilePolicy(configured);
  const trusted = new Map(upstreams.map((u) => [u.name, u.trusted]));
  const derived: Record<string, ToolDocument> = {};
  const sources = new Map<string, LabelSource>();
  for (const tool of offered) {
    const name = namespaced(tool.upstream, tool.name);
    if (known.resolve(name).known) {
      sources.set(name, 'policy');
      continue;
    }
    derived[name] = labelFromHints(tool.annotations, trusted.get(tool.upstream) === true);
    sources.set(name, 'annotations');
  }
  // Exact names resolve before globs, so derived entries never shadow a configured glob: they exist only where
  // nothing configured matched.
  const policy = compilePolicy({ ...configured, tools: { ...(configured.tools ?? {}), ...derived } });
  return { policy, sources };
}
