import { redactionProblem } from '../audit/redact.ts';
import { idPatternProblem, type NarrowSchema, narrowSchemaProblem } from '../core/declassify.ts';
import type { PolicyDocument } from '../core/document.ts';
import { LEG_A, LEG_B, LEG_C, type LegMask, parseLegs } from '../core/legs.ts';
import { durationProblem, parseDuration } from '../core/policy.ts';
import { regexProblem } from '../core/regex.ts';
import type { ConfigIssue } from '../errors.ts';
import { isRecord } from '../is-record.ts';
import { formatPath } from './source.ts';

type Path = (string | number)[];

/** The outcome of validating a policy value: the document when there are no issues, and every issue found. */
export type PolicyValidation =
  | { ok: true; document: PolicyDocument; issues: [] }
  | { ok: false; issues: ConfigIssue[] };

const CONFIGURATIONS = ['dynamic', 'AB', 'AC', 'BC'];
const MATCHER_KEYS = ['equals', 'in', 'notIn', 'regex', 'exists', 'lt', 'lte', 'gt', 'gte'];
const CONTROL_EFFECTS = ['off', 'ask', 'deny'];
const SCHEMA_KEYS: Record<string, readonly string[]> = {
  boolean: ['type'],
  date: ['type'],
  number: ['type', 'min', 'max', 'integer'],
  enum: ['type', 'values'],
  id: ['type', 'pattern', 'maxLength'],
};

/** Validates a parsed policy file, reporting every issue with its path (and line, when `lineOf` is given). */
export function validatePolicy(value: unknown, lineOf?: (path: Path) => number | undefined): PolicyValidation {
  const issues: ConfigIssue[] = [];
  const report = (code: string, path: Path, message: string) => {
    const issue: ConfigIssue = { code, path: formatPath(path), message };
    const line = lineOf?.(path);
    if (line !== undefined) issue.line = line;
    issues.push(issue);
  };
  new Validator(report).policy(value);
  // Report in file order; issues without a line keep their place at the end.
  issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return issues.length === 0 ? { ok: true, document: value as PolicyDocument, issues: [] } : { ok: false, issues };
}

type Report = (code: string, path: Path, message: string) => void;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} \`${printable(String(value))}\``;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes.
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/g;
const SHOWN = 60;

/** User text as it may appear inside a one-line message: control characters escaped, long text cut. */
function printable(text: string): string {
  const shown = text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text;
  return shown.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

class Validator {
  #report: Report;
  #lists = new Set<string>();
  constructor(report: Report) {
    this.#report = report;
  }

  #mapping(value: unknown, path: Path, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (!isRecord(value)) {
      this.#report('expected_mapping', path, `expected a mapping, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.#report('unknown_key', [...path, key], `unknown key \`${key}\`; expected one of ${allowed.join(', ')}`);
      }
    }
    return value;
  }

  #string(value: unknown, path: Path): value is string {
    if (typeof value === 'string') return true;
    this.#report('expected_string', path, `expected a string, got ${describe(value)}`);
    return false;
  }

  #oneOf(value: unknown, path: Path, options: readonly string[]): void {
    if (typeof value !== 'string' || !options.includes(value)) {
      this.#report('invalid_value', path, `expected one of ${options.join(', ')}, got ${describe(value)}`);
    }
  }

  #legs(value: unknown, path: Path, allowed: LegMask, what: string): LegMask | undefined {
    const mask = parseLegs(value);
    if (mask === undefined) {
      // Legs are case-sensitive: name the fix for the likeliest slip, `ab` for `AB`.
      const upper = typeof value === 'string' && parseLegs(value.toUpperCase()) !== undefined;
      const hint = upper ? `; legs are capital letters: write \`${value.toUpperCase()}\`` : '';
      this.#report('invalid_legs', path, `expected legs such as \`AB\` or \`none\`, got ${describe(value)}${hint}`);
      return undefined;
    }
    if (mask & ~allowed) {
      const bad = ['A', 'B', 'C'].filter((_, i) => mask & ~allowed & (1 << i)).join('');
      this.#report('leg_not_allowed_here', path, `${what} cannot carry leg ${bad}`);
      return undefined;
    }
    return mask;
  }

  policy(value: unknown): void {
    if (value === null || value === undefined) {
      this.#report('expected_mapping', [], 'the policy is empty; it needs at least `version: 1`');
      return;
    }
    const root = this.#mapping(
      value,
      [],
      [
        '$schema',
        'version',
        'name',
        'description',
        'session',
        'unknownTools',
        'approvals',
        'lists',
        'provenance',
        'tools',
        'audit',
      ],
    );
    if (!root) return;
    if (root.version === undefined) this.#report('missing_key', ['version'], 'missing `version: 1`');
    else if (root.version !== 1)
      this.#report(
        'unsupported_version',
        ['version'],
        // `version: "1"` is the string, which reads as the very version the message names: say what differs.
        typeof root.version === 'string' && Number(root.version) === 1
          ? `the version is a ${describe(root.version)}; write the number, \`version: 1\`, without quotes`
          : `unsupported version ${describe(root.version)}; this release reads version 1`,
      );
    for (const key of ['name', 'description', '$schema']) if (root[key] !== undefined) this.#string(root[key], [key]);
    if (root.session !== undefined) this.#session(root.session);
    if (root.approvals !== undefined) this.#approvals(root.approvals);
    if (root.lists !== undefined) this.#listsOf(root.lists);
    if (root.unknownTools !== undefined) this.#unknownTools(root.unknownTools);
    if (root.provenance !== undefined) this.#provenance(root.provenance);
    if (root.tools !== undefined) this.#tools(root.tools);
    if (root.audit !== undefined) this.#audit(root.audit);
  }

  #audit(value: unknown): void {
    const audit = this.#mapping(value, ['audit'], ['redact']);
    if (audit?.redact === undefined) return;
    if (!Array.isArray(audit.redact)) {
      this.#report(
        'expected_list',
        ['audit', 'redact'],
        `expected a list of argument paths, got ${describe(audit.redact)}`,
      );
      return;
    }
    audit.redact.forEach((entry, i) => {
      if (!this.#string(entry, ['audit', 'redact', i])) return;
      const problem = redactionProblem(entry);
      if (problem) this.#report('invalid_path', ['audit', 'redact', i], problem);
    });
  }

  #session(value: unknown): void {
    const session = this.#mapping(value, ['session'], ['configuration', 'input']);
    if (!session) return;
    if (session.configuration !== undefined)
      this.#oneOf(session.configuration, ['session', 'configuration'], CONFIGURATIONS);
    if (session.input !== undefined) this.#oneOf(session.input, ['session', 'input'], ['trusted', 'untrusted']);
    // Input is untrusted unless stated; a configuration without A could then open no session at all.
    if (session.configuration === 'BC' && (session.input ?? 'untrusted') === 'untrusted') {
      this.#report(
        'input_excluded',
        ['session', session.input === undefined ? 'configuration' : 'input'],
        'configuration BC excludes A, so the session input must be `trusted` (it defaults to `untrusted`)',
      );
    }
  }

  #approvals(value: unknown): void {
    const approvals = this.#mapping(value, ['approvals'], ['gate', 'unanswered', 'ttl']);
    if (!approvals) return;
    if (approvals.gate !== undefined) this.#oneOf(approvals.gate, ['approvals', 'gate'], ['ask', 'deny']);
    if (approvals.unanswered !== undefined && approvals.unanswered !== 'deny') {
      this.#report('invalid_value', ['approvals', 'unanswered'], 'an unanswered approval can only deny');
    }
    if (approvals.ttl !== undefined) {
      const ms =
        typeof approvals.ttl === 'string' || typeof approvals.ttl === 'number'
          ? parseDuration(approvals.ttl)
          : undefined;
      if (ms === undefined)
        this.#report(
          'invalid_duration',
          ['approvals', 'ttl'],
          `${durationProblem(approvals.ttl, '`5m` or `30s`')}, got ${describe(approvals.ttl)}`,
        );
    }
  }

  #listsOf(value: unknown): void {
    if (!isRecord(value)) {
      this.#report('expected_mapping', ['lists'], `expected a mapping of list names to values, got ${describe(value)}`);
      return;
    }
    for (const [name, entries] of Object.entries(value)) {
      this.#lists.add(name);
      if (!Array.isArray(entries)) {
        this.#report('expected_list', ['lists', name], `expected a list of strings, got ${describe(entries)}`);
        continue;
      }
      entries.forEach((entry, i) => {
        if (typeof entry !== 'string' || entry === '')
          this.#report('expected_string', ['lists', name, i], `expected a non-empty string, got ${describe(entry)}`);
      });
    }
  }

  #unknownTools(value: unknown): void {
    if (typeof value === 'string') {
      this.#legs(value, ['unknownTools'], LEG_A | LEG_B | LEG_C, 'unknownTools');
      return;
    }
    const doc = this.#mapping(value, ['unknownTools'], ['call', 'output']);
    if (!doc) return;
    if (doc.call !== undefined) this.#legs(doc.call, ['unknownTools', 'call'], LEG_B | LEG_C, 'a call');
    if (doc.output !== undefined) this.#legs(doc.output, ['unknownTools', 'output'], LEG_A | LEG_B, 'an output');
  }

  #tools(value: unknown): void {
    if (!isRecord(value)) {
      this.#report('expected_mapping', ['tools'], `expected a mapping of tool names to labels, got ${describe(value)}`);
      return;
    }
    for (const [name, doc] of Object.entries(value)) {
      const path = ['tools', name];
      if (name.trim() === '') this.#report('invalid_tool_name', path, 'a tool name cannot be empty');
      if (typeof doc === 'string') {
        // Shorthand: `read_inbox: AB`.
        this.#legs(doc, path, LEG_A | LEG_B | LEG_C, 'a tool');
        value[name] = { legs: doc };
        continue;
      }
      if (!isRecord(doc)) {
        // The shorthand takes a string only, though `legs:` also takes a list: say both forms.
        const label = 'legs as a string (`AB`) or a mapping such as `{ call: B, output: AB }`';
        this.#report('expected_mapping', path, `expected ${label}, got ${describe(doc)}`);
        continue;
      }
      this.#tool(doc, path);
    }
  }

  #tool(value: unknown, path: Path): void {
    const tool = this.#mapping(value, path, [
      'legs',
      'call',
      'output',
      'description',
      'gate',
      'when',
      'results',
      'args',
      'lineage',
      'declassify',
    ]);
    if (!tool) return;
    if (tool.args !== undefined) this.#argControls(tool.args, [...path, 'args']);
    if (tool.lineage !== undefined) this.#lineage(tool.lineage, [...path, 'lineage']);
    if (tool.declassify !== undefined) this.#narrowSchema(tool.declassify, [...path, 'declassify']);
    const short =
      tool.legs === undefined ? 0 : (this.#legs(tool.legs, [...path, 'legs'], LEG_A | LEG_B | LEG_C, 'a tool') ?? 0);
    const output =
      tool.output === undefined ? 0 : (this.#legs(tool.output, [...path, 'output'], LEG_A | LEG_B, 'an output') ?? 0);
    if (tool.call !== undefined) this.#legs(tool.call, [...path, 'call'], LEG_B | LEG_C, 'a call');
    if (tool.description !== undefined) this.#string(tool.description, [...path, 'description']);
    if (tool.gate !== undefined) this.#oneOf(tool.gate, [...path, 'gate'], ['ask', 'deny']);
    const declaredOutput = output | (short & (LEG_A | LEG_B));
    this.#conditions(tool.when, [...path, 'when'], (condition, at) => {
      const entry = this.#mapping(condition, at, ['match', 'call', 'output']);
      if (!entry) return;
      this.#match(entry.match, [...at, 'match']);
      if (entry.call === undefined && entry.output === undefined)
        this.#report('missing_key', at, 'a condition needs `call` or `output`');
      if (entry.call !== undefined) this.#legs(entry.call, [...at, 'call'], LEG_B | LEG_C, 'a call');
      if (entry.output !== undefined) this.#legs(entry.output, [...at, 'output'], LEG_A | LEG_B, 'an output');
    });
    this.#conditions(tool.results, [...path, 'results'], (condition, at) => {
      const entry = this.#mapping(condition, at, ['match', 'output']);
      if (!entry) return;
      this.#match(entry.match, [...at, 'match']);
      if (entry.output === undefined) {
        this.#report('missing_key', at, 'a result condition needs `output`');
        return;
      }
      const legs = this.#legs(entry.output, [...at, 'output'], LEG_A | LEG_B, 'an output');
      if (legs !== undefined && legs & ~declaredOutput) {
        this.#report(
          'result_exceeds_output',
          [...at, 'output'],
          'a result condition can only lower what the output brings, not add legs',
        );
      }
    });
  }

  #provenance(value: unknown): void {
    const provenance = this.#mapping(value, ['provenance'], ['consequential']);
    if (!provenance || provenance.consequential === undefined) return;
    const at = ['provenance', 'consequential'];
    const consequential = this.#mapping(provenance.consequential, at, ['untrusted', 'sensitive']);
    if (!consequential) return;
    for (const key of ['untrusted', 'sensitive']) {
      if (consequential[key] !== undefined) this.#oneOf(consequential[key], [...at, key], CONTROL_EFFECTS);
    }
  }

  #argControls(value: unknown, path: Path): void {
    if (!isRecord(value)) {
      this.#report(
        'expected_mapping',
        path,
        `expected a mapping of argument paths to controls, got ${describe(value)}`,
      );
      return;
    }
    for (const [field, control] of Object.entries(value)) {
      const at = [...path, field];
      this.#argumentPath(field, at);
      const entry = this.#mapping(control, at, ['untrusted', 'sensitive', 'reference', 'url']);
      if (!entry) continue;
      if (Object.keys(entry).length === 0)
        this.#report('empty_control', at, 'a control needs at least one of untrusted, sensitive, reference, url');
      for (const key of ['untrusted', 'sensitive']) {
        if (entry[key] !== undefined) this.#oneOf(entry[key], [...at, key], CONTROL_EFFECTS);
      }
      if (entry.reference !== undefined && typeof entry.reference !== 'boolean')
        this.#report(
          'expected_boolean',
          [...at, 'reference'],
          `expected true or false, got ${describe(entry.reference)}`,
        );
      if (entry.url !== undefined) this.#urlControl(entry.url, [...at, 'url']);
    }
  }

  #argumentPath(field: string, at: Path): void {
    if (field !== '*' && (field === '' || field.split('.').some((part) => part === '' || part === '*')))
      this.#report('invalid_path', at, `invalid argument path \`${field}\`; use a dot path or \`*\``);
  }

  #urlControl(value: unknown, path: Path): void {
    const url = this.#mapping(value, path, ['from', 'embedded', 'allow', 'deny', 'effect']);
    if (!url) return;
    if (Object.keys(url).length === 0)
      this.#report('empty_control', path, 'a URL control needs at least one of from, allow, deny');
    if (url.from !== undefined) this.#oneOf(url.from, [...path, 'from'], ['trusted', 'any']);
    if (url.embedded !== undefined && typeof url.embedded !== 'boolean')
      this.#report('expected_boolean', [...path, 'embedded'], `expected true or false, got ${describe(url.embedded)}`);
    for (const key of ['allow', 'deny']) if (url[key] !== undefined) this.#patterns(url[key], [...path, key]);
    if (url.effect !== undefined) this.#oneOf(url.effect, [...path, 'effect'], ['ask', 'deny']);
  }

  #lineage(value: unknown, path: Path): void {
    const lineage = this.#mapping(value, path, ['items', 'author', 'id', 'trusted', 'trustedItems', 'untrusted']);
    if (!lineage) return;
    if (lineage.author === undefined)
      this.#report('missing_key', path, "lineage needs `author`, the path to an item's author");
    for (const key of ['items', 'author', 'id']) {
      if (lineage[key] !== undefined && this.#string(lineage[key], [...path, key]))
        this.#argumentPath(lineage[key] as string, [...path, key]);
    }
    if (lineage.trusted !== undefined) this.#patterns(lineage.trusted, [...path, 'trusted']);
    if (lineage.trustedItems !== undefined) {
      if (!Array.isArray(lineage.trustedItems)) {
        this.#report(
          'expected_list',
          [...path, 'trustedItems'],
          `expected a list of ids, got ${describe(lineage.trustedItems)}`,
        );
      } else if (lineage.id === undefined) {
        this.#report('missing_key', [...path, 'id'], "trusted items need `id`, the path to an item's id");
      } else {
        lineage.trustedItems.forEach((entry, i) => {
          if (typeof entry !== 'string' || entry === '')
            this.#report(
              'expected_string',
              [...path, 'trustedItems', i],
              `expected a non-empty string, got ${describe(entry)}`,
            );
        });
      }
    }
    if (lineage.untrusted !== undefined) this.#oneOf(lineage.untrusted, [...path, 'untrusted'], ['filter', 'taint']);
  }

  #narrowSchema(value: unknown, path: Path): void {
    if (!isRecord(value) || typeof value.type !== 'string' || !Object.hasOwn(SCHEMA_KEYS, value.type)) {
      this.#report(
        'invalid_schema',
        path,
        `expected a narrow schema with \`type\` one of ${Object.keys(SCHEMA_KEYS).join(', ')}; free text never declassifies`,
      );
      return;
    }
    const schema = this.#mapping(value, path, SCHEMA_KEYS[value.type] as readonly string[]);
    if (!schema) return;
    for (const key of ['min', 'max']) {
      if (schema[key] !== undefined && (typeof schema[key] !== 'number' || !Number.isFinite(schema[key])))
        this.#report('expected_number', [...path, key], `expected a number, got ${describe(schema[key])}`);
    }
    if (schema.integer !== undefined && typeof schema.integer !== 'boolean')
      this.#report('expected_boolean', [...path, 'integer'], `expected true or false, got ${describe(schema.integer)}`);
    if (value.type === 'enum' && !Array.isArray(schema.values)) {
      this.#report('expected_list', [...path, 'values'], `expected a list of values, got ${describe(schema.values)}`);
      return;
    }
    if (value.type === 'enum') {
      // An output is compared by identity: a mapping or a list never equals one, and null is not a narrow value.
      (schema.values as unknown[]).forEach((member, i) => {
        if (!['string', 'number', 'boolean'].includes(typeof member))
          this.#report(
            'expected_scalar',
            [...path, 'values', i],
            `expected a string, number or boolean, got ${describe(member)}`,
          );
      });
    }
    if (value.type === 'id' && (typeof schema.pattern !== 'string' || typeof schema.maxLength !== 'number')) {
      this.#report('invalid_schema', path, 'an id schema needs `pattern` (a string) and `maxLength` (a number)');
      return;
    }
    if (value.type === 'id') {
      // Compiled once here and kept for declassifying (the check below and the compiled policy reuse it).
      const problem = idPatternProblem(schema.pattern as string);
      if (problem !== undefined) {
        this.#report(problem.code, [...path, 'pattern'], problem.message);
        return;
      }
    }
    const problem = narrowSchemaProblem(value as unknown as NarrowSchema);
    if (problem !== undefined) this.#report('invalid_schema', path, problem);
  }

  #conditions(value: unknown, path: Path, each: (condition: unknown, path: Path) => void): void {
    if (value === undefined) return;
    if (!Array.isArray(value)) {
      this.#report('expected_list', path, `expected a list of conditions, got ${describe(value)}`);
      return;
    }
    for (const [i, condition] of value.entries()) each(condition, [...path, i]);
  }

  #match(value: unknown, path: Path): void {
    if (value === undefined) {
      this.#report('missing_key', path, 'a condition needs `match`');
      return;
    }
    if (!isRecord(value)) {
      this.#report('expected_mapping', path, `expected a mapping of argument paths to tests, got ${describe(value)}`);
      return;
    }
    for (const [field, matcher] of Object.entries(value)) {
      const at = [...path, field];
      const parts = field.split('.');
      if (field === '' || parts.some((part) => part === ''))
        this.#report('invalid_path', at, `invalid argument path \`${field}\``);
      // A condition reads one path: `*` would be the key `*`, not the wildcard it is in `args` and `audit.redact`.
      else if (parts.includes('*'))
        this.#report(
          'invalid_path',
          at,
          `invalid argument path \`${field}\`; a condition reads one path, and \`*\` is not a wildcard here`,
        );
      if (matcher === null || ['string', 'number', 'boolean'].includes(typeof matcher)) continue;
      const test = this.#mapping(matcher, at, MATCHER_KEYS);
      if (!test) continue;
      if (Object.keys(test).length === 0)
        this.#report('empty_matcher', at, `a test needs at least one of ${MATCHER_KEYS.join(', ')}`);
      for (const key of ['in', 'notIn']) if (test[key] !== undefined) this.#patterns(test[key], [...at, key]);
      if (test.regex !== undefined && this.#string(test.regex, [...at, 'regex'])) {
        const problem = regexProblem(test.regex);
        if (problem !== undefined) this.#report(problem.code, [...at, 'regex'], problem.message);
      }
      if (test.exists !== undefined && typeof test.exists !== 'boolean')
        this.#report('expected_boolean', [...at, 'exists'], `expected true or false, got ${describe(test.exists)}`);
      for (const key of ['lt', 'lte', 'gt', 'gte']) {
        if (test[key] !== undefined && (typeof test[key] !== 'number' || !Number.isFinite(test[key]))) {
          this.#report('expected_number', [...at, key], `expected a number, got ${describe(test[key])}`);
        }
      }
      if (test.equals !== undefined && test.equals !== null && typeof test.equals === 'object') {
        this.#report(
          'expected_scalar',
          [...at, 'equals'],
          `expected a string, number, boolean or null, got ${describe(test.equals)}`,
        );
      }
    }
  }

  #patterns(value: unknown, path: Path): void {
    if (typeof value === 'string') {
      if (!this.#lists.has(value))
        this.#report('unknown_list', path, `unknown list \`${value}\`; define it under \`lists\``);
      return;
    }
    if (!Array.isArray(value)) {
      this.#report('expected_list', path, `expected a list of patterns or the name of a list, got ${describe(value)}`);
      return;
    }
    value.forEach((entry, i) => {
      if (typeof entry !== 'string' || entry === '')
        this.#report('expected_string', [...path, i], `expected a non-empty string, got ${describe(entry)}`);
    });
  }
}
