import { isNode, isPair, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { ConfigIssue } from '../errors.ts';

/** A parsed YAML or JSON file: its plain value and a way to find the line of any path in it. */
export interface SourceFile {
  value: unknown;
  /** 1-based line of the node at `path` (keys and indexes), or of its nearest existing parent. */
  lineOf(path: readonly (string | number)[]): number | undefined;
  /** Syntax errors; when there are any, `value` is undefined. */
  issues: ConfigIssue[];
}

/** The property name a scalar key becomes in the plain value (`1`, `1.0` and `'1'` all become `1`). */
function keyName(key: unknown): string | undefined {
  if (key === null) return '';
  if (!isScalar(key)) return undefined;
  return key.value === null ? '' : String(key.value);
}

/** Parses YAML (and therefore JSON) text, keeping source positions. Duplicate keys are errors. */
export function parseSource(text: string): SourceFile {
  const lineCounter = new LineCounter();
  // YAML 1.1 tags (`!!binary`, `!!set`, `!!timestamp`) stay unresolved, so they are reported below like unknown tags.
  const doc = parseDocument(text, {
    lineCounter,
    // The library's own check compares each key with every earlier one of its mapping: quadratic, an hour for a
    // 4 MB file. Duplicates are found below, in one pass over each mapping.
    uniqueKeys: false,
    prettyErrors: false,
    strict: true,
    resolveKnownTags: false,
  });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  // INVARIANT: a warning (an unresolved tag such as `!foo` or `!!set`) is an error: the value would silently mean
  // something else than the file says (test/fixtures/policy/malformed/tags.yaml).
  const problems = [...doc.errors, ...doc.warnings];
  const issues: ConfigIssue[] = problems.map((error) => {
    const line = error.pos ? lineAt(error.pos[0]) : undefined;
    const message =
      error.message
        .split('\n')[0]
        ?.replace(/ at line \d+, column \d+:?$/, '')
        .replace('tag:yaml.org,2002:', '!!') ?? 'syntax error';
    const issue: ConfigIssue = {
      code: 'syntax_error',
      path: '',
      message: message.charAt(0).toLowerCase() + message.slice(1),
    };
    if (line !== undefined) issue.line = line;
    return issue;
  });
  // INVARIANT: `%YAML 1.1` would read `no` as false, `0777` as 511 and `<<` as a merge; only YAML 1.2 is read
  // (test/fixtures/policy/malformed/yaml-1.1.yaml).
  const version = doc.directives?.yaml.version;
  if (doc.directives?.yaml.explicit && version !== '1.2') {
    issues.push({
      code: 'syntax_error',
      path: '',
      message: `only YAML 1.2 is read, not \`%YAML ${version}\``,
      line: 1,
    });
  }
  const keyIssue = (key: unknown, message: string) => {
    const issue: ConfigIssue = { code: 'syntax_error', path: '', message };
    if (isNode(key) && key.range) issue.line = lineAt(key.range[0]);
    issues.push(issue);
  };
  visit(doc, {
    Map(_, map) {
      const names = new Set<string>();
      for (const { key } of map.items) {
        const name = keyName(key);
        if (name === undefined) keyIssue(key, 'a key must be a plain value, not a collection');
        // INVARIANT: two keys that become the same property are duplicates, not a silent last-one-wins
        // (test/fixtures/policy/malformed/key-collision.yaml; in linear time: test/policy/bad-input.test.ts).
        else if (names.has(name)) keyIssue(key, 'map keys must be unique');
        else names.add(name);
      }
    },
  });
  // Syntax errors and key issues in file order; issues without a line last.
  issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
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
