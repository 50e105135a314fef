/**
 * Argument-level controls: provenance conditions (a value from an untrusted or sensitive output), URL controls and
 * references to sensitive objects. Compiled from a tool's `args` and the policy's `provenance` section; evaluated by
 * {@link decide} against a session's provenance index. Each control only adds restrictions.
 */
import type { Reason } from './decision.ts';
import type { ArgumentControl, ControlEffect, GateEffect, UrlControl } from './document.ts';
import { isGlob } from './glob.ts';
import { formatLegs, LEG_A, LEG_B, type LegMask } from './legs.ts';
import { type CompiledLists, patternsOf } from './match.ts';
import type { ProvenanceReader, ProvenanceScan, ProvenanceSource } from './provenance.ts';
import { MIN_VALUE_LENGTH } from './values.ts';

/** A compiled URL control. */
export interface CompiledUrlControl {
  fromTrusted: boolean;
  embedded: boolean;
  allow?: readonly RegExp[];
  deny?: readonly RegExp[];
  effect: GateEffect;
}

/** A compiled control on one argument path. */
export interface CompiledControl {
  /** Dot path, or `*` for every string argument. */
  path: string;
  untrusted: ControlEffect;
  sensitive: ControlEffect;
  reference: boolean;
  url?: CompiledUrlControl;
}

/** Which argument carries which source's value: one finding of a decision. */
export interface ProvenanceFinding {
  /** Dot path of the argument, e.g. `to.0` or `body`. */
  argument: string;
  /** Legs the value carries: `A` untrusted, `B` sensitive. */
  labels: string;
  /** `value`, `text`, `evicted` (the index lost data), or `unknown` (no index for this session). */
  kind: ProvenanceScan['kind'] | 'unknown';
  value?: string;
  /** How the argument carried it when not verbatim (`base64`, `hex`); `value` is then the decoded form. */
  encoding?: ProvenanceScan['encoding'];
  sources: ProvenanceSource[];
}

/** What the controls made of a call. */
export interface ControlOutcome {
  reasons: Reason[];
  findings: ProvenanceFinding[];
  /** The strongest effect of a violated control, if any. */
  effect?: GateEffect;
}

function compileUrl(url: UrlControl, lists: CompiledLists): CompiledUrlControl {
  const out: CompiledUrlControl = {
    fromTrusted: url.from === 'trusted',
    embedded: url.embedded === true,
    effect: url.effect ?? 'deny',
  };
  // INVARIANT: a host pattern is matched in the form hosts take, so one written with capitals, an IDN or a trailing
  // dot denies its host (test/core/evasion.test.ts "patterns as written").
  if (url.allow !== undefined) out.allow = patternsOf(url.allow, lists, 'item', hostGlob);
  if (url.deny !== undefined) out.deny = patternsOf(url.deny, lists, 'any', hostGlob);
  return out;
}

/**
 * A host glob in the form {@link hostOf} gives hosts: lower case, without trailing dots, and each label written in
 * Unicode (`bücher`) as the URL parser writes it (`xn--bcher-kva`); a label with a wildcard is kept as written.
 */
function hostGlob(glob: string): string {
  const labels = glob.toLowerCase().replace(TRAILING_DOTS, '').split('.');
  return labels.map((label) => (ASCII.test(label) || isGlob(label) ? label : punycode(label))).join('.');
}

const ASCII = /^[\x20-\x7e]*$/;

/** A Unicode label as the URL parser writes it, or as written when it is not a valid label. */
function punycode(label: string): string {
  return parseUrl(`http://${label}/`)?.hostname ?? label;
}

/** Compiles a tool's `args` controls. */
export function compileControls(
  args: Record<string, ArgumentControl> | undefined,
  lists: CompiledLists,
): CompiledControl[] {
  return Object.entries(args ?? {}).map(([path, control]) => {
    const compiled: CompiledControl = {
      path,
      untrusted: control.untrusted ?? 'off',
      sensitive: control.sensitive ?? 'off',
      reference: control.reference === true,
    };
    if (control.url !== undefined) compiled.url = compileUrl(control.url, lists);
    return compiled;
  });
}

/** Most string leaves inspected in one call; more denies (a call that large cannot be traced). */
export const MAX_ARGUMENT_LEAVES = 10_000;

/**
 * A visitor of argument leaves, stopping the walk on true. `key`: the value is a key of the object at `path` (a key
 * is covered by the controls of the object that holds it).
 */
type Visit<T> = (context: T, path: string, value: string, key: boolean) => boolean;

/**
 * Calls `each(context, path, value, key)` with every string, number and object key in the arguments and its dot
 * path (a key: its object's), depth-first, until it returns true; returns whether one did. Throws past {@link MAX_ARGUMENT_LEAVES} leaves
 * or 64 levels. The visitor is a module function given its context, so walking makes no closure and no list of
 * leaves.
 */
function eachLeaf<T extends { leaves: number }>(args: unknown, context: T, each: Visit<T>): boolean {
  context.leaves = 0;
  return walk(args, '', 0, context, each);
}

function walk<T extends { leaves: number }>(
  value: unknown,
  path: string,
  depth: number,
  context: T,
  each: Visit<T>,
): boolean {
  if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') {
    if (++context.leaves > MAX_ARGUMENT_LEAVES)
      throw new Error(`arguments have more than ${MAX_ARGUMENT_LEAVES} values`);
    return each(context, path, typeof value === 'string' ? value : String(value), false);
  }
  if (value === null || typeof value !== 'object') return false;
  if (depth > 64) throw new Error('arguments nest deeper than 64 levels');
  // Keys rather than entries: no array per property on the decision path.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (walk(value[i], path === '' ? String(i) : `${path}.${i}`, depth + 1, context, each)) return true;
    }
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    // INVARIANT: an object's key reaches the tool as its values do, so it is a leaf too: a value smuggled as a key
    // meets the controls on its path (test/core/adversarial.test.ts "object keys").
    if (mayCarryValue(key) && ++context.leaves > MAX_ARGUMENT_LEAVES)
      throw new Error(`arguments have more than ${MAX_ARGUMENT_LEAVES} values`);
    if (each(context, path, key, true)) return true;
    if (walk(record[key], path === '' ? key : `${path}.${key}`, depth + 1, context, each)) return true;
  }
  return false;
}

/**
 * Whether a key is long enough to hold a value the index keeps ({@link MIN_VALUE_LENGTH} compact bytes): an ASCII
 * character compacts to at most one byte, so the usual short argument names are never scanned.
 */
function mayCarryValue(key: string): boolean {
  if (key.length >= MIN_VALUE_LENGTH) return true;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 127) return true;
  return false;
}

/**
 * Whether a control's path covers an argument leaf: the leaf itself or anything under it, with array indexes
 * optional, so `recipients.email` covers `recipients.0.email` as `recipients.0.email` does.
 */
export function covers(controlPath: string, leafPath: string): boolean {
  return coversLeaf(controlPath, leafPath, indexless(leafPath));
}

/** A leaf path without its numeric segments (array indexes), computed once per leaf rather than per control. */
function indexless(path: string): string {
  return DIGIT.test(path) ? path.replace(INDEX_SEGMENT, '').replace(LEADING_DOT, '') : path;
}

// Module constants: a regular expression literal in a function makes a new object each time it runs, per leaf here.
const DIGIT = /\d/;
const INDEX_SEGMENT = /(^|\.)\d+(?=\.|$)/g;
const LEADING_DOT = /^\./;

function coversLeaf(controlPath: string, path: string, bare: string): boolean {
  return controlPath === '*' || under(controlPath, path) || (bare !== path && under(controlPath, bare));
}

function under(controlPath: string, path: string): boolean {
  if (path.length === controlPath.length) return path === controlPath;
  return path.charCodeAt(controlPath.length) === 46 && path.startsWith(controlPath);
}

const STRENGTH: Record<ControlEffect, number> = { off: 0, ask: 1, deny: 2 };

function stronger(a: ControlEffect, b: ControlEffect): ControlEffect {
  return STRENGTH[b] > STRENGTH[a] ? b : a;
}

function describeSources(sources: readonly ProvenanceSource[]): string {
  if (sources.length === 0) return '';
  return ` (${sources.map((s) => `\`${s.tool}\` at seq ${s.seq}`).join(', ')})`;
}

/** Global provenance controls that apply to every string argument of a consequential tool. */
export interface ConsequentialControls {
  untrusted: ControlEffect;
  sensitive: ControlEffect;
}

/** What the controls of a tool make of one argument path: the strongest effects, URL controls and reference. */
interface Coverage {
  untrusted: ControlEffect;
  sensitive: ControlEffect;
  /** The URL controls covering the path, in the order of the controls. */
  urls: readonly CompiledUrlControl[];
  reference: boolean;
}

const NO_URLS: readonly CompiledUrlControl[] = [];

/**
 * Coverage per argument path, per tool's compiled controls: argument names repeat from call to call, and matching
 * every path against every control (array indexes stripped) took a tenth of a decision. Bounded per tool; past the
 * bound a path's coverage is computed each time.
 */
const coverages = new WeakMap<readonly CompiledControl[], Map<string, Coverage>>();
const MAX_COVERED_PATHS = 1024;

function pathsOf(controls: readonly CompiledControl[]): Map<string, Coverage> {
  let paths = coverages.get(controls);
  if (paths === undefined) {
    paths = new Map();
    coverages.set(controls, paths);
  }
  return paths;
}

function coverageOf(controls: readonly CompiledControl[], paths: Map<string, Coverage>, path: string): Coverage {
  // INVARIANT: a path's coverage is that of this tool's controls, remembered or not (test/core/controls.test.ts
  // "applies each tool its own controls on an argument path").
  const known = paths.get(path);
  if (known !== undefined) return known;
  const bare = indexless(path);
  let untrusted: ControlEffect = 'off';
  let sensitive: ControlEffect = 'off';
  let urls = NO_URLS;
  let reference = false;
  for (const control of controls) {
    if (!coversLeaf(control.path, path, bare)) continue;
    untrusted = stronger(untrusted, control.untrusted);
    sensitive = stronger(sensitive, control.sensitive);
    reference ||= control.reference;
    if (control.url !== undefined) urls = [...urls, control.url];
  }
  const coverage: Coverage = { untrusted, sensitive, urls, reference };
  if (paths.size < MAX_COVERED_PATHS) paths.set(path, coverage);
  return coverage;
}

/** One evaluation of a call's controls, handed to the leaf visitor. */
interface Evaluation {
  leaves: number;
  controls: readonly CompiledControl[];
  paths: Map<string, Coverage>;
  consequential: ConsequentialControls | undefined;
  reader: ProvenanceReader | undefined;
  outcome: ControlOutcome;
  /** Uncontrolled string arguments still to trace for the record. */
  reportBudget: number;
}

/**
 * Evaluates the argument controls of one call. `reader` is the session's provenance index; without one, every
 * argument under a provenance control is of unknown provenance and violates it. With one, the first string arguments
 * under no control are traced too, for the record: their findings are reported and never violate anything. Reasons
 * are appended to `reasons`, which the outcome returns.
 */
export function evaluateControls(
  controls: readonly CompiledControl[],
  consequential: ConsequentialControls | undefined,
  args: unknown,
  reader: ProvenanceReader | undefined,
  reasons: Reason[] = [],
): ControlOutcome {
  const outcome: ControlOutcome = { reasons, findings: [] };
  if (controls.length === 0 && consequential === undefined && !reader) return outcome;
  const evaluation: Evaluation = {
    leaves: 0,
    controls,
    paths: pathsOf(controls),
    consequential,
    reader,
    outcome,
    reportBudget: REPORTED_LEAVES,
  };
  eachLeaf(args, evaluation, checkLeaf);
  return outcome;
}

function checkLeaf(evaluation: Evaluation, path: string, value: string, key: boolean): boolean {
  const { outcome, reader, consequential } = evaluation;
  const covered = coverageOf(evaluation.controls, evaluation.paths, path);
  // INVARIANT: a key reaches the tool as text does, so an embedded-URL control reads it, short or not; a control on a
  // URL argument does not (a key there names a field) (test/core/evasion.test.ts "object keys").
  for (const url of covered.urls) {
    if (url.embedded) checkEmbedded(outcome, path, value, url, reader);
    else if (!key) checkArgumentUrl(outcome, path, value, url, reader);
  }
  if (key && !mayCarryValue(value)) return false;
  // A key is covered as the object holding it, and reported as that argument (a top-level key names itself).
  const argument = key && path === '' ? value : path;
  const untrusted =
    consequential === undefined ? covered.untrusted : stronger(consequential.untrusted, covered.untrusted);
  const sensitive =
    consequential === undefined ? covered.sensitive : stronger(consequential.sensitive, covered.sensitive);
  if (untrusted === 'off' && sensitive === 'off') {
    // Not controlled: traced for the record (replay, audit), within a budget, never a violation.
    if (reader && evaluation.reportBudget > 0 && value.length <= MAX_REPORTED_LENGTH) {
      evaluation.reportBudget--;
      for (const scan of reader.scan(value)) {
        if (scan.kind !== 'evicted') outcome.findings.push(findingOf(argument, scan));
      }
    }
    return false;
  }
  if (!reader) {
    // INVARIANT: no index means unknown provenance, which violates (test/core/controls.test.ts "missing index").
    outcome.findings.push({ argument, labels: 'AB', kind: 'unknown', sources: [] });
    const message = `argument \`${argument}\` has unknown provenance: this session has no provenance index`;
    violate(outcome, stronger(untrusted, sensitive), 'provenance_unknown', message);
    return false;
  }
  for (const scan of reader.scan(value)) {
    outcome.findings.push(findingOf(argument, scan));
    checkScan(outcome, argument, scan, untrusted, sensitive);
  }
  return false;
}

/**
 * Checks an argument that is a URL. A line break or other control character inside it is refused: the URL parser
 * drops tabs and line breaks, and a tool that reads the argument as lines fetches each
 * (`https://docs.company.example/\nhttps://evil.example/` is one URL on docs.company.example to the parser).
 */
function checkArgumentUrl(
  outcome: ControlOutcome,
  path: string,
  value: string,
  url: CompiledUrlControl,
  reader: ProvenanceReader | undefined,
): void {
  // INVARIANT: a URL argument holding a control character is refused (test/core/evasion.test.ts "URLs over lines").
  if (CONTROL_CHARACTER.test(value.trim())) {
    violate(outcome, url.effect, 'url_invalid', `argument \`${path}\` holds a line break or control character`);
  }
  checkUrl(outcome, path, value, url, reader);
}

const CONTROL_CHARACTER = /\p{Cc}/u;

/** Checks every URL inside a text against an embedded-URL control. */
function checkEmbedded(
  outcome: ControlOutcome,
  path: string,
  text: string,
  url: CompiledUrlControl,
  reader: ProvenanceReader | undefined,
): void {
  const absolute = new Set<string>();
  const relative = new Set<string>();
  // INVARIANT: markdown drops the backslash of an escaped punctuation character in a link destination, so
  // `![x](https://files.company.example\)@evil.example)` fetches from evil.example: the text is read unescaped too
  // (test/core/evasion.test.ts "markdown escapes").
  const escaped = text.includes('\\') && MARKDOWN_ESCAPE.test(text);
  const read =
    readingsOf(text, absolute, relative) &&
    (!escaped || readingsOf(text.replace(MARKDOWN_ESCAPES, '$1'), absolute, relative));
  if (!read) {
    violate(outcome, url.effect, 'url_invalid', `argument \`${path}\` has more readings of its URLs than are checked`);
    return;
  }
  for (const found of absolute) checkUrl(outcome, path, found, url, reader);
  for (const found of relative) if (!absolute.has(found)) checkUrl(outcome, path, found, url, reader, RELATIVE_BASE);
}

/**
 * A backslash before ASCII punctuation: an escape to markdown (tested after a native search for a backslash: the
 * expression alone reads every character, 3 µs on a 3,000-character body).
 */
const MARKDOWN_ESCAPE = /\\[!-/:-@[-`{-~]/;
const MARKDOWN_ESCAPES = /\\([!-/:-@[-`{-~])/g;

/**
 * Adds the URLs inside a text to `absolute` (read on their own) and `relative` (scheme-relative ones, read against
 * {@link RELATIVE_BASE}); false when the text has more wider readings than are checked.
 */
function readingsOf(text: string, absolute: Set<string>, relative: Set<string>): boolean {
  for (const found of embeddedUrls(text)) absolute.add(found);
  // INVARIANT: a `www.` link meets the control like any other (test/core/evasion.test.ts "links without a scheme").
  for (const found of wwwUrls(text)) absolute.add(found);
  for (const found of looseUrls(text)) relative.add(found);
  // INVARIANT: the host a renderer reads past a quote or bracket meets the control too
  // (test/core/evasion.test.ts "embedded URLs a renderer reads further").
  const wider = widerUrls(text);
  if (wider.length > MAX_WIDER_READINGS) return false;
  for (const found of wider) relative.add(found);
  return true;
}

/** Records a violated control; its message is built by the caller only for an effect other than `off`. */
function violate(outcome: ControlOutcome, effect: ControlEffect, code: Reason['code'], message: string): void {
  if (effect === 'off') return;
  outcome.reasons.push({ code, message, rule: 6 });
  outcome.effect = outcome.effect === 'deny' || effect === 'deny' ? 'deny' : 'ask';
}

/** Uncontrolled string arguments traced per call (for the record only), and the longest one traced. */
const REPORTED_LEAVES = 64;
const MAX_REPORTED_LENGTH = 4096;

function findingOf(argument: string, scan: ProvenanceScan): ProvenanceFinding {
  const finding: ProvenanceFinding = {
    argument,
    labels: formatLegs(scan.labels),
    kind: scan.kind,
    sources: scan.sources,
  };
  if (scan.value !== undefined) finding.value = scan.value;
  if (scan.encoding !== undefined) finding.encoding = scan.encoding;
  return finding;
}

function checkScan(
  outcome: ControlOutcome,
  path: string,
  scan: ProvenanceScan,
  untrusted: ControlEffect,
  sensitive: ControlEffect,
): void {
  if (scan.kind === 'evicted') {
    // The index lost (or never had) data with these labels: the argument's provenance is unknown.
    const effect = scan.labels & LEG_A ? (scan.labels & LEG_B ? stronger(untrusted, sensitive) : untrusted) : sensitive;
    if (effect === 'off') return;
    violate(
      outcome,
      effect,
      'provenance_unknown',
      `argument \`${path}\` may carry a value this session saw but no longer remembers (labels ${formatLegs(scan.labels)}): its provenance is unknown`,
    );
    return;
  }
  if (scan.labels & LEG_A && untrusted !== 'off') {
    violate(
      outcome,
      untrusted,
      'argument_from_untrusted_output',
      `argument \`${path}\` ${carried(scan)} from an untrusted output${describeSources(scan.sources)}`,
    );
  }
  if (scan.labels & LEG_B && sensitive !== 'off') {
    violate(
      outcome,
      sensitive,
      'argument_carries_sensitive_value',
      `argument \`${path}\` ${carried(scan)} from a sensitive output${describeSources(scan.sources)}`,
    );
  }
}

/** What an argument carries, as a violation's message says it. */
function carried(scan: ProvenanceScan): string {
  return scan.kind === 'text'
    ? `carries text \`${scan.value}\`${encoded(scan)}`
    : `carries \`${scan.value}\`${encoded(scan)}`;
}

function encoded(scan: ProvenanceScan): string {
  return scan.encoding === undefined ? '' : ` (${scan.encoding}-encoded)`;
}

// A URL inside text is a scheme (a letter, then up to 31 letters, digits, `+`, `.` or `-`: bounded so a long run of
// letters costs nothing), `://` and at least one character up to spacing, a quote, an angle bracket or a closing
// parenthesis or bracket (markdown links and images). Only the text around each `://` is looked at, so a body without
// URLs costs one native search.
const MAX_SCHEME = 32;
const TRAILING_PUNCTUATION = new Set(['.', ',', ';', ':', '!', '?']);

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

function isSchemeChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

/** Whether a character ends an embedded URL: what `[\s"'<>)\]]` matches (JavaScript's `\s` is Unicode spacing). */
function endsUrl(c: number): boolean {
  return cutsUrl(c) || isSpacing(c);
}

/** Quotes, angle brackets, `)` and `]`: where we end a URL and a markdown destination or a linkifier may read on. */
function cutsUrl(c: number): boolean {
  return c === 34 || c === 39 || c === 60 || c === 62 || c === 41 || c === 93;
}

/** Whether a character is spacing, what `\s` matches: every reading of a URL ends there. */
function isSpacing(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 127) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** URLs inside a text, without trailing sentence punctuation. */
export function embeddedUrls(text: string, ends: (c: number) => boolean = endsUrl): string[] {
  // INVARIANT: finds what `/[a-z][a-z0-9+.-]{0,31}:\/\/[^\s"'<>)\]]+/gi` finds, in linear time
  // (test/core/controls.test.ts "embedded URLs").
  const out: string[] = [];
  let from = 0;
  for (let at = text.indexOf('://'); at >= 0; at = text.indexOf('://', at + 1)) {
    // The scheme is the run of scheme characters before `://` from its first letter, at most MAX_SCHEME long.
    let start = at;
    while (start > from && at - start < MAX_SCHEME && isSchemeChar(text.charCodeAt(start - 1))) start--;
    while (start < at && !isLetter(text.charCodeAt(start))) start++;
    // No scheme: the text after `://` is not read, so a run of `://` without one stays linear.
    if (start === at) continue;
    let end = at + 3;
    while (end < text.length && !ends(text.charCodeAt(end))) end++;
    if (end === at + 3) continue;
    let kept = end;
    while (kept > start && TRAILING_PUNCTUATION.has(text[kept - 1] as string)) kept--;
    out.push(text.slice(start, kept));
    from = end;
    at = end - 1;
  }
  return out;
}

/** Schemes whose URLs browsers read without `//` (`https:/x`, `https:\\x`, `https:x`): WHATWG's special schemes. */
const SPECIAL_SCHEMES = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'file']);

function isSlash(c: number): boolean {
  return c === 47 || c === 92;
}

/**
 * Whether a character can stand before a scheme-relative URL: spacing, `(`, `"`, `'`, `=`, `<`, `[`, or `,` (a
 * browser splits `srcset` at commas: `a.png 1x,//evil.example/b.png 2x`).
 */
function opensUrl(c: number): boolean {
  return c === 40 || c === 61 || c === 91 || c === 44 || (c !== 41 && c !== 62 && c !== 93 && endsUrl(c));
}

/**
 * URLs inside a text that {@link embeddedUrls} does not find and a browser or markdown renderer still fetches: a
 * special scheme without `//` (`https:/evil.example`, `https:\\evil.example`, `http:evil.example`), and a
 * scheme-relative run of slashes or backslashes after spacing, `(`, `"`, `'`, `=`, `<`, `[` or `,` (`![x](//evil.example)`,
 * `src=\\evil.example`); without trailing sentence punctuation.
 */
export function looseUrls(text: string, ends: (c: number) => boolean = endsUrl): string[] {
  // INVARIANT: finds what the two regular expressions of test/core/adversarial.test.ts "loose URLs" find, in linear
  // time; a markdown image of a scheme-relative URL is checked like any other (same test file, "embedded URLs").
  const out: string[] = [];
  for (let colon = text.indexOf(':'); colon >= 0; colon = text.indexOf(':', colon + 1)) {
    // Every special scheme ends in `p`, `s` or `e`: most colons of prose are passed over on that alone.
    const last = text.charCodeAt(colon - 1) | 32;
    if ((last !== 112 && last !== 115 && last !== 101) || text.startsWith('//', colon + 1)) continue;
    let start = colon;
    while (start > 0 && colon - start <= MAX_SCHEME && isSchemeChar(text.charCodeAt(start - 1))) start--;
    if (colon - start < 2 || colon - start > 5 || !SPECIAL_SCHEMES.has(text.slice(start, colon).toLowerCase()))
      continue;
    colon = pushUrl(text, start, colon + 1, out, ends);
  }
  // Pairs are found by native searches for `//` and for a backslash (which pairs with the character before or after
  // it), each kept until the scan passes it; a run starts where its first two characters are.
  let pair = text.indexOf('//');
  let back = text.indexOf('\\');
  while (pair >= 0 || back >= 0) {
    const found = back < 0 || (pair >= 0 && pair < back) ? pair : back;
    const at = found === back && found > 0 && text.charCodeAt(found - 1) === 47 ? found - 1 : found;
    let done = found;
    if (isSlash(text.charCodeAt(at + 1)) && (at === 0 || opensUrl(text.charCodeAt(at - 1)))) {
      let run = at + 2;
      while (run < text.length && isSlash(text.charCodeAt(run))) run++;
      done = Math.max(done, pushUrl(text, at, run, out, ends));
    }
    if (pair >= 0 && pair <= done) pair = text.indexOf('//', done + 1);
    if (back >= 0 && back <= done) back = text.indexOf('\\', done + 1);
  }
  return out;
}

/**
 * Adds the URL from `start` whose body begins at `body`, when it has one, without trailing sentence punctuation;
 * returns where the scan goes on (the last character read).
 */
function pushUrl(text: string, start: number, body: number, out: string[], ends: (c: number) => boolean): number {
  let end = body;
  while (end < text.length && !ends(text.charCodeAt(end))) end++;
  let kept = end;
  while (kept > body && TRAILING_PUNCTUATION.has(text[kept - 1] as string)) kept--;
  if (kept > body) out.push(text.slice(start, kept));
  return Math.max(end, body) - 1;
}

/**
 * Links without a scheme that GitHub-flavoured markdown renders (`www.evil.example/login` as
 * `http://www.evil.example/login`), at the start of the text or after spacing, an opener as for {@link looseUrls}, or
 * `*`, `_` or `~`; in any case (other linkifiers ignore it), without trailing sentence punctuation, as `http://` URLs.
 */
export function wwwUrls(text: string, ends: (c: number) => boolean = endsUrl): string[] {
  const found: string[] = [];
  // Each `www.` is found by a native search for its dot and its letters read back: a case-insensitive expression
  // reads every character (1 µs on a 3,000-character body).
  for (let dot = text.indexOf('.', 3); dot >= 0; dot = text.indexOf('.', dot + 1)) {
    const at = dot - 3;
    if (!isW(text.charCodeAt(at)) || !isW(text.charCodeAt(at + 1)) || !isW(text.charCodeAt(at + 2))) continue;
    const before = text.charCodeAt(at - 1);
    if (at > 0 && !opensUrl(before) && before !== 42 && before !== 95 && before !== 126) continue;
    dot = pushUrl(text, at, dot + 1, found, ends);
  }
  return found.map((url) => `http://${url}`);
}

/** `w` or `W`. */
function isW(c: number): boolean {
  return c === 119 || c === 87;
}

/** Most {@link widerUrls} readings of one text that are checked; a text with more is refused. */
export const MAX_WIDER_READINGS = 16;

/**
 * Readings of the URLs in a text that a renderer takes further than {@link embeddedUrls} and {@link looseUrls} do,
 * where an `@` there makes what they read as the host a user name: past a quote, an angle bracket, `)` or `]` (a
 * markdown destination, a linkifier: markdown-it and marked render `![x](https://a'@b/p.png)` as an image from `b`),
 * and past spacing inside a quoted HTML attribute or a markdown `<…>` destination (`src="https://a b@b/p.png"`).
 * Each ends after the host that follows such an `@`; and a reading across a tab or line break in the authority, which
 * the URL parser removes. Stops after {@link MAX_WIDER_READINGS} + 1.
 */
export function widerUrls(text: string): string[] {
  const out: string[] = [];
  const userinfo = text.includes('@');
  if (!userinfo && !hasLineBreakOrTab(text)) return out;
  const wide =
    userinfo && cutBeforeUserinfo(text)
      ? [...embeddedUrls(text, isSpacing), ...looseUrls(text, isSpacing), ...wwwUrls(text, isSpacing)]
      : [];
  for (const url of wide) if (!addReadings(url, 0, url.length, out)) return out;
  // Each span runs from its opener to the next closer (for `<`, the next `<` too), found by one native search per
  // closer kept until the scan passes it, so spans cost linear time.
  const next = new Map<string, number>();
  const closing = (closer: string, from: number): number => {
    let at = next.get(closer) ?? -1;
    if (at < from) {
      at = text.indexOf(closer, from);
      if (at < 0) at = text.length;
      next.set(closer, at);
    }
    return at;
  };
  OPENERS.lastIndex = 0;
  while (OPENERS.test(text)) {
    const start = OPENERS.lastIndex;
    if (!startsUrl(text, start)) continue;
    const opener = text[start - 1] as string;
    const end = opener === '<' ? Math.min(closing('>', start), closing('<', start)) : closing(opener, start);
    if (!addReadings(text, start, end, out)) return out;
  }
  return out;
}

/**
 * Whether an `@` follows a cut (a quote, an angle bracket, `)` or `]`) with no spacing between: only then can reading
 * past the cut make a host a user name. Each character is read at most once, back from each `@` to the one before.
 */
export function cutBeforeUserinfo(text: string): boolean {
  let scanned = 0;
  let cut = false;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let i = at - 1;
    let seen = false;
    for (; i >= scanned; i--) {
      const c = text.charCodeAt(i);
      if (isSpacing(c)) break;
      if (cutsUrl(c)) seen = true;
    }
    // Spacing since the last `@` starts a new run; otherwise the run goes on from there.
    cut = i >= scanned ? seen : cut || seen;
    if (cut) return true;
    scanned = at;
  }
  return false;
}

const OPENERS = /["'<]/g;
/** Whether a text holds a tab or line break; three native searches are several times faster than `/[\t\n\r]/`. */
function hasLineBreakOrTab(text: string): boolean {
  return text.includes('\n') || text.includes('\t') || text.includes('\r');
}

/** Whether a URL with a host starts at `at`: two slashes, a scheme and two slashes, or a special scheme. */
function startsUrl(text: string, at: number): boolean {
  if (isSlash(text.charCodeAt(at)) && isSlash(text.charCodeAt(at + 1))) return true;
  let colon = at;
  while (colon < text.length && colon - at < MAX_SCHEME && isSchemeChar(text.charCodeAt(colon))) colon++;
  if (colon === at || !isLetter(text.charCodeAt(at)) || text.charCodeAt(colon) !== 58) return false;
  const slashes = isSlash(text.charCodeAt(colon + 1)) && isSlash(text.charCodeAt(colon + 2));
  return slashes || SPECIAL_SCHEMES.has(text.slice(at, colon).toLowerCase());
}

/**
 * Adds the readings of the URL in `text` from `start` to `end` that end after a host following an `@` that follows a
 * cut or spacing in its authority; false when that makes more than {@link MAX_WIDER_READINGS}.
 */
function addReadings(text: string, start: number, end: number, out: string[]): boolean {
  let at = isSlash(text.charCodeAt(start)) ? start : text.indexOf(':', start) + 1;
  while (at < end && isSlash(text.charCodeAt(at))) at++;
  let cut = false;
  let removed = false;
  for (; at < end && !endsAuthority(text.charCodeAt(at)); at++) {
    const c = text.charCodeAt(at);
    if (c === 9 || c === 10 || c === 13) removed = true;
    if (cutsUrl(c) || isSpacing(c)) cut = true;
    else if (c === 64 && cut) {
      let host = at + 1;
      while (host < end && !endsHost(text.charCodeAt(host))) host++;
      out.push(text.slice(start, host));
      if (out.length > MAX_WIDER_READINGS) return false;
    }
  }
  // The URL parser removes tabs and line breaks: `https://files.company.example\n.evil.example` is a subdomain of
  // evil.example to a browser. Such a reading counts when it parses.
  const reading = removed ? text.slice(start, at) : '';
  if (removed && parseUrl(reading, RELATIVE_BASE) !== null) out.push(reading);
  return out.length <= MAX_WIDER_READINGS;
}

/** `/`, `\`, `?` and `#`: where the WHATWG parser ends the authority of a special URL. */
function endsAuthority(c: number): boolean {
  return c === 47 || c === 92 || c === 63 || c === 35;
}

/** Where a host after an `@` ends in a reading: the authority's end, a port, another `@`, a cut or spacing. */
function endsHost(c: number): boolean {
  return endsAuthority(c) || c === 58 || c === 64 || cutsUrl(c) || isSpacing(c);
}

/** A base for scheme-relative URLs in text: a renderer resolves them against its own page's scheme. */
const RELATIVE_BASE = 'https://relative.invalid/';

/**
 * A URL (relative to `base`, when given), or null when the text is not one; without the exception `new URL` throws,
 * whose stack trace cost more than the rest of a decision. `URL.parse` is Node 22.1 on; before, the text is tested
 * first and then parsed.
 */
const parseUrl: (text: string, base?: string) => URL | null =
  typeof URL.parse === 'function'
    ? (text, base) => URL.parse(text, base)
    : (text, base) => (URL.canParse(text, base) ? new URL(text, base) : null);

function checkUrl(
  outcome: ControlOutcome,
  path: string,
  value: string,
  url: CompiledUrlControl,
  reader: ProvenanceReader | undefined,
  base?: string,
): void {
  // Absolute first: with a base of the same scheme, `https:/evil.example` would read as a path on the base's host.
  const parsed = parseUrl(value) ?? (base === undefined ? null : parseUrl(value, base));
  if (parsed === null) {
    violate(outcome, url.effect, 'url_invalid', `argument \`${path}\` is not a URL`);
    return;
  }
  // INVARIANT: a host with a trailing dot (the same host to DNS) meets the same allow and deny patterns
  // (test/core/adversarial.test.ts "URL hosts").
  const host = hostOf(parsed);
  checkHost(outcome, path, host, url);
  // INVARIANT: the other addresses a host's socket reaches meet the patterns too (test/core/evasion.test.ts
  // "IP addresses").
  for (const alias of aliasesOf(host)) checkHost(outcome, path, alias, url);
  // INVARIANT: the host a client of RFC 3986 reads meets the patterns too (same test).
  const other = value.includes('\\') ? rfcHost(value) : undefined;
  if (other !== undefined && other !== host) checkHost(outcome, path, other, url);
  if (url.fromTrusted && !reader?.trustedUrl(value)) {
    const shown = value.length > 80 ? `${value.slice(0, 79)}…` : value;
    violate(
      outcome,
      url.effect,
      'url_not_from_trusted_source',
      `argument \`${path}\` has URL \`${shown}\`, which no trusted source gave verbatim`,
    );
  }
}

/** Records a violation when a host is denied or not allowed. */
function checkHost(outcome: ControlOutcome, path: string, host: string, url: CompiledUrlControl): void {
  if (url.deny !== undefined && matchesAny(url.deny, host)) {
    violate(outcome, url.effect, 'url_host_denied', `argument \`${path}\` points to denied host \`${host}\``);
  } else if (url.allow !== undefined && !matchesAny(url.allow, host)) {
    violate(
      outcome,
      url.effect,
      'url_host_denied',
      `argument \`${path}\` points to host \`${host}\`, which is not on the allow-list`,
    );
  }
}

/**
 * Other addresses a connection to a host reaches: an IPv4-mapped IPv6 address's IPv4 address, and the loopback
 * address the unspecified address reaches (`0.0.0.0` and `[::]` connect to this machine on Linux and macOS).
 */
function aliasesOf(host: string): string[] {
  const mapped = MAPPED_IPV4.exec(host);
  const ipv4 = mapped === null ? host : dottedQuad(mapped[1] as string, mapped[2] as string);
  const aliases = ipv4 === host ? [] : [ipv4];
  if (ipv4 === '0.0.0.0') aliases.push('127.0.0.1');
  if (host === '[::]') aliases.push('[::1]');
  return aliases;
}

/** An IPv4-mapped IPv6 address as the URL parser writes it (`[::ffff:a9fe:a9fe]`): a socket reaches the IPv4 one. */
const MAPPED_IPV4 = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/;

/** The dotted IPv4 address of the two hexadecimal groups of a mapped address. */
function dottedQuad(high: string, low: string): string {
  const h = Number.parseInt(high, 16);
  const l = Number.parseInt(low, 16);
  return `${h >> 8}.${h & 255}.${l >> 8}.${l & 255}`;
}

/** A scheme and `//`. */
const SCHEME_SLASHES = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The host a client of RFC 3986 (curl, Python's `urlsplit`) reads: its authority ends at `/`, `?` or `#` only, so in
 * `https://a\@b/` it is `b`, where the WHATWG parser (Node's `fetch`) ends the authority at the backslash and reads
 * `a`. Normalized as the WHATWG parser would (lower case, punycode); lower case as written when it does not parse.
 */
function rfcHost(text: string): string | undefined {
  // Every parser skips leading spacing and control characters.
  let skipped = 0;
  while (skipped < text.length && text.charCodeAt(skipped) <= 32) skipped++;
  const scheme = SCHEME_SLASHES.exec(text.slice(skipped))?.[0].length;
  if (scheme === undefined) return undefined;
  const start = skipped + scheme;
  let end = start;
  while (end < text.length && !AUTHORITY_END.has(text.charCodeAt(end))) end++;
  const authority = text.slice(Math.max(start, text.lastIndexOf('@', end - 1) + 1), end);
  const raw = authority.startsWith('[')
    ? authority.slice(0, authority.indexOf(']') + 1)
    : (authority.split(':')[0] ?? '');
  const parsed = parseUrl(`http://${raw}/`);
  return parsed === null ? raw.toLowerCase() : hostOf(parsed);
}

/** `/`, `?` and `#`. */
const AUTHORITY_END = new Set([47, 63, 35]);

/** A URL's host as patterns see it: lower case, without the trailing dots that name the same host. */
function hostOf(url: URL): string {
  const host = url.hostname.toLowerCase();
  return host.charCodeAt(host.length - 1) === 46 ? host.replace(TRAILING_DOTS, '') : host;
}

const TRAILING_DOTS = /\.+$/;

function matchesAny(patterns: readonly RegExp[], text: string): boolean {
  for (const pattern of patterns) if (pattern.test(text)) return true;
  return false;
}

/** Legs a call's references add: B when an argument under a reference control holds a non-empty id. */
export function referenceLegs(controls: readonly CompiledControl[], args: unknown): LegMask {
  if (!controls.some((c) => c.reference)) return 0;
  // The walk stops at the first such argument.
  return eachLeaf(args, { leaves: 0, controls, paths: pathsOf(controls) }, isReference) ? LEG_B : 0;
}

function isReference(
  context: { controls: readonly CompiledControl[]; paths: Map<string, Coverage> },
  path: string,
  value: string,
): boolean {
  return value !== '' && coverageOf(context.controls, context.paths, path).reference;
}
