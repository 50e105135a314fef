import { isNode, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from '../errors.ts';

/** A parsed YAML or JSON file: its plain value and a way to find the line of any path in it. */
export interface SourceFile {
  value: unknown;
  /** 1-based line of the node at `path` (keys and indexes), or of its nearest existing parent. */
  lineOf(path: readonly (string | number)[]): number | undefined;
  /** Syntax errors; when there are any, `value` is undefined. */
  issues: ConfigIssue[];
}

/** Parses YAML (and therefore JSON) text, keeping source positions. Duplicate keys are errors. */
export function parseSource(text: string): SourceFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const issues: ConfigIssue[] = doc.errors.map((error) => {
    const line = error.pos ? lineAt(error.pos[0]) : undefined;
    const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
    const issue: ConfigIssue = {
      code: 'syntax_error',
      path: '',
      message: message.charAt(0).toLowerCase() + message.slice(1),
    };
    if (line !== undefined) issue.line = line;
    return issue;
  });
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return lineAt(node.range[0]);
      if (isPair(node) && isScalar(node.key) && node.key.range) return lineAt(node.key.range[0]);
    }
    return undefined;
  };
  if (issues.length > 0) return { value: undefined, lineOf, issues };
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), lineOf, issues };
  } catch (error) {
    // INVARIANT: bad input is reported, never thrown (test/policy/fixtures.test.ts, alias-bomb.yaml).
    const message = error instanceof Error ? error.message : String(error);
    const issue: ConfigIssue = {
      code: 'syntax_error',
      path: '',
      message: message.charAt(0).toLowerCase() + message.slice(1),
    };
    return { value: undefined, lineOf, issues: [issue] };
  }
}

/** Formats a path for messages: `tools.send_email.when[0]`, quoting keys that are not plain words. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}
