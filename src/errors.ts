import type { Decision } from './core/decision.ts';

/** One problem found in a policy file or other configuration. Codes are snake_case. */
export interface ConfigIssue {
  code: string;
  /** Where: a dot path such as `tools.send_email.when[0].call`. */
  path: string;
  line?: number;
  message: string;
}

/** A configuration error, thrown early with every issue found. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = []) {
    super(message);
    this.name = new.target.name;
    this.issues = issues;
  }
}

/** Thrown by a wrapped tool function when its call is not allowed; carries the decision. */
export class CallDeniedError extends Error {
  readonly code = 'CALL_DENIED';
  readonly decision: Decision;
  constructor(decision: Decision) {
    const why = decision.reasons.map((r) => r.message).join('; ');
    super(`ruleoftwo ${decision.effect === 'ask' ? 'needs approval for' : 'denied'} \`${decision.tool}\`: ${why}`);
    this.name = new.target.name;
    this.decision = decision;
  }
}

/**
 * An error's message followed by those of its causes, so `fetch failed` says why (`self-signed certificate`). Stops
 * at a few levels, and at a cause whose message adds nothing.
 */
export function messageWithCauses(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause instanceof Error && depth < 4; depth++, cause = cause.cause) {
    if (cause.message && !text.includes(cause.message)) text += ` (${cause.message})`;
  }
  // INVARIANT: a URL quoted by fetch or the MCP SDK reaches logs and models without its userinfo or query
  // (test/core/errors.test.ts "hides the userinfo and query").
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s<>"'`]+/gi, quotedUrl);
}

/**
 * A URL as an error message may quote it: userinfo, query and fragment, which may hold credentials, become `***`.
 * Works on a mistyped URL too, where everything up to an `@` before the path counts as userinfo.
 */
export function quotedUrl(text: string): string {
  if (URL.canParse(text)) {
    const url = new URL(text);
    const userinfo = url.username !== '' || url.password !== '';
    const rest = url.search !== '' || url.hash !== '';
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return `${userinfo ? url.href.replace('//', '//***@') : url.href}${rest ? '?***' : ''}`;
  }
  const end = text.search(/[?#]/);
  const head = end < 0 ? text : text.slice(0, end);
  return `${head.replace(/(?:[^/\\@]*@)+/, '***@')}${end < 0 ? '' : '?***'}`;
}
