import type { ApprovalRequest, Reason } from '../core/decision.ts';
import { globToRegExp } from '../core/glob.ts';
import type { AuditEvent } from '../store/types.ts';

/** What replaces a redacted argument value in the log. */
export const REDACTED = '[redacted]';

/** One redaction rule: a tool glob (any tool when absent) and an argument path whose `*` segments match any key. */
export interface RedactRule {
  tool: RegExp | undefined;
  path: string[];
}

/**
 * Parses redaction patterns of the policy's `audit.redact`: `path` (any tool) or `tool-glob:path`, where `path` is
 * a dot path into the call's arguments (`body`, `auth.token`, `*.password`).
 */
export function compileRedaction(patterns: readonly string[]): RedactRule[] {
  return patterns.map((pattern) => {
    const split = pattern.lastIndexOf(':');
    const tool = split < 0 ? undefined : pattern.slice(0, split);
    const path = (split < 0 ? pattern : pattern.slice(split + 1)).split('.');
    return { tool: tool === undefined || tool === '*' ? undefined : globToRegExp(tool), path };
  });
}

/** Why a redaction pattern is invalid, or undefined when it is valid (the policy validator reports this). */
export function redactionProblem(pattern: string): string | undefined {
  const split = pattern.lastIndexOf(':');
  if (split === 0) return 'a tool glob before `:` cannot be empty';
  const path = split < 0 ? pattern : pattern.slice(split + 1);
  if (path === '' || path.split('.').some((part) => part === '')) return `invalid argument path \`${path}\``;
  return undefined;
}

/**
 * An event with argument values replaced by {@link REDACTED} wherever a rule matches; the paths that were redacted
 * are listed in `redacted`, so a reader knows a value was removed. The log hashes this redacted form. Besides the
 * arguments of an approval request, a decision's quotes of a redacted argument go too: its approval request, the
 * value of its provenance findings, and the reason messages about that argument (which quote its value or host).
 */
export function redactEvent(event: AuditEvent, rules: readonly RedactRule[]): AuditEvent & { redacted?: string[] } {
  if (rules.length === 0) return event;
  const redacted: string[] = [];
  let out: AuditEvent;
  if (event.type === 'approval.request') {
    out = { ...event, request: redactRequest(event.request, rules, redacted) };
  } else if (event.type === 'decision') {
    // INVARIANT: a redacted argument's value reaches no part of a decision's record (test/audit/redact-leak.test.ts).
    const d = event.decision;
    const decision = { ...d, reasons: redactReasons(d.reasons, d.tool, rules, redacted) };
    if (d.approval) decision.approval = redactRequest(d.approval, rules, redacted);
    if (d.provenance) {
      decision.provenance = d.provenance.map((finding) => {
        if (finding.value === undefined || !covered(rules, d.tool, finding.argument)) return finding;
        redacted.push(`args.${finding.argument}`);
        return { ...finding, value: REDACTED };
      });
    }
    out = { ...event, decision };
  } else {
    return event;
  }
  if (redacted.length === 0) return event;
  return { ...out, redacted: [...new Set(redacted)].sort() };
}

function redactRequest(request: ApprovalRequest, rules: readonly RedactRule[], redacted: string[]): ApprovalRequest {
  const before = redacted.length;
  let args = request.args;
  for (const rule of rules) {
    if (rule.tool && !rule.tool.test(request.tool)) continue;
    args = redactPath(args, rule.path, 0, 'args', redacted);
  }
  const reasons = redactReasons(request.reasons, request.tool, rules, redacted);
  if (redacted.length === before) return request;
  // INVARIANT: the request's hash goes with a redacted argument: it is an unsalted hash over the call, whose other
  // inputs the record holds, so a short value could be found by trying candidates (test/audit/redact-leak.test.ts).
  return { ...request, args, reasons, hash: REDACTED };
}

const ABOUT_ARGUMENT = 'argument `';

/** Reasons with the message about a redacted argument cut after its name: the rest quotes its value. */
function redactReasons(reasons: Reason[], tool: string, rules: readonly RedactRule[], redacted: string[]): Reason[] {
  return reasons.map((reason) => {
    if (!reason.message.startsWith(ABOUT_ARGUMENT)) return reason;
    const end = reason.message.indexOf('` ', ABOUT_ARGUMENT.length);
    const argument = reason.message.slice(ABOUT_ARGUMENT.length, end);
    if (end < 0 || !covered(rules, tool, argument)) return reason;
    redacted.push(`args.${argument}`);
    return { ...reason, message: `${reason.message.slice(0, end + 1)} ${REDACTED}` };
  });
}

/** Whether a rule redacts the argument at a dot path (`to.0`) of this tool, or a value that holds it. */
function covered(rules: readonly RedactRule[], tool: string, argument: string): boolean {
  const parts = argument.split('.');
  return rules.some(
    (rule) =>
      (!rule.tool || rule.tool.test(tool)) &&
      rule.path.length <= parts.length &&
      rule.path.every((part, i) => part === '*' || part === parts[i]),
  );
}

function redactPath(value: unknown, path: string[], depth: number, where: string, redacted: string[]): unknown {
  if (depth === path.length) {
    redacted.push(where);
    return REDACTED;
  }
  if (value === null || typeof value !== 'object') return value;
  const part = path[depth] as string;
  if (Array.isArray(value)) {
    return value.map((item, i) =>
      part === '*' || part === String(i) ? redactPath(item, path, depth + 1, `${where}[${i}]`, redacted) : item,
    );
  }
  const record = value as Record<string, unknown>;
  // A null prototype: a key such as `__proto__` stays a plain key.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(record)) {
    out[key] =
      part === '*' || part === key
        ? redactPath(record[key], path, depth + 1, `${where}.${key}`, redacted)
        : record[key];
  }
  return out;
}
