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
 * are listed in `redacted`, so a reader knows a value was removed. The log hashes this redacted form.
 */
export function redactEvent(event: AuditEvent, rules: readonly RedactRule[]): AuditEvent & { redacted?: string[] } {
  if (rules.length === 0 || event.type !== 'approval.request') return event;
  const { tool, args } = event.request;
  const redacted: string[] = [];
  let out = args;
  for (const rule of rules) {
    if (rule.tool && !rule.tool.test(tool)) continue;
    out = redactPath(out, rule.path, 0, 'args', redacted);
  }
  if (redacted.length === 0) return event;
  return { ...event, request: { ...event.request, args: out }, redacted: [...new Set(redacted)].sort() };
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
