/**
 * Argument-level controls: provenance conditions (a value from an untrusted or sensitive output), URL controls and
 * references to sensitive objects. Compiled from a tool's `args` and the policy's `provenance` section; evaluated by
 * {@link decide} against a session's provenance index. Each control only adds restrictions.
 */
import type { Reason } from './decision.ts';
import type { ArgumentControl, ControlEffect, GateEffect, UrlControl } from './document.ts';
import { formatLegs, LEG_A, LEG_B, type LegMask } from './legs.ts';
import { type CompiledLists, patternsOf } from './match.ts';
import type { ProvenanceReader, ProvenanceScan, ProvenanceSource } from './provenance.ts';

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
  if (url.allow !== undefined) out.allow = patternsOf(url.allow, lists);
  if (url.deny !== undefined) out.deny = patternsOf(url.deny, lists);
  return out;
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

/** Every string (and number) in the arguments with its dot path. */
export function argumentLeaves(args: unknown): { path: string; value: string }[] {
  const out: { path: string; value: string }[] = [];
  eachLeaf(args, (path, value) => {
    out.push({ path, value });
    return false;
  });
  return out;
}

/**
 * Calls `each` with every string (and number) in the arguments and its dot path, depth-first, until it returns true;
 * returns whether one did. Throws past {@link MAX_ARGUMENT_LEAVES} leaves or 64 levels.
 */
function eachLeaf(args: unknown, each: (path: string, value: string) => boolean): boolean {
  let leaves = 0;
  const walk = (value: unknown, path: string, depth: number): boolean => {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
      if (++leaves > MAX_ARGUMENT_LEAVES) throw new Error(`arguments have more than ${MAX_ARGUMENT_LEAVES} values`);
      return each(path, typeof value === 'string' ? value : String(value));
    }
    if (value === null || typeof value !== 'object') return false;
    if (depth > 64) throw new Error('arguments nest deeper than 64 levels');
    // Keys rather than entries: no array per property on the decision path.
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (walk(value[i], path === '' ? String(i) : `${path}.${i}`, depth + 1)) return true;
      }
      return false;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (walk(record[key], path === '' ? key : `${path}.${key}`, depth + 1)) return true;
    }
    return false;
  };
  return walk(args, '', 0);
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

/**
 * Evaluates the argument controls of one call. `reader` is the session's provenance index; without one, every
 * argument under a provenance control is of unknown provenance and violates it. With one, the first string arguments
 * under no control are traced too, for the record: their findings are reported and never violate anything.
 */
export function evaluateControls(
  controls: readonly CompiledControl[],
  consequential: ConsequentialControls | undefined,
  args: unknown,
  reader: ProvenanceReader | undefined,
): ControlOutcome {
  const outcome: ControlOutcome = { reasons: [], findings: [] };
  if (controls.length === 0 && consequential === undefined && !reader) return outcome;
  let reportBudget = REPORTED_LEAVES;
  const violate = (effect: ControlEffect, reason: Omit<Reason, 'rule'>) => {
    if (effect === 'off') return;
    outcome.reasons.push({ ...reason, rule: 6 });
    outcome.effect = outcome.effect === 'deny' || effect === 'deny' ? 'deny' : 'ask';
  };
  for (const leaf of argumentLeaves(args)) {
    let untrusted: ControlEffect = consequential?.untrusted ?? 'off';
    let sensitive: ControlEffect = consequential?.sensitive ?? 'off';
    const bare = indexless(leaf.path);
    for (const control of controls) {
      if (!coversLeaf(control.path, leaf.path, bare)) continue;
      untrusted = stronger(untrusted, control.untrusted);
      sensitive = stronger(sensitive, control.sensitive);
      const url = control.url;
      if (url === undefined) continue;
      if (!url.embedded) checkUrl(leaf.path, leaf.value, url, reader, violate);
      else for (const found of embeddedUrls(leaf.value)) checkUrl(leaf.path, found, url, reader, violate);
    }
    if (untrusted === 'off' && sensitive === 'off') {
      // Not controlled: traced for the record (replay, audit), within a budget, never a violation.
      if (reader && reportBudget > 0 && leaf.value.length <= MAX_REPORTED_LENGTH) {
        reportBudget--;
        for (const scan of reader.scan(leaf.value)) {
          if (scan.kind !== 'evicted') outcome.findings.push(findingOf(leaf.path, scan));
        }
      }
      continue;
    }
    if (!reader) {
      // INVARIANT: no index means unknown provenance, which violates (test/core/controls.test.ts "missing index").
      outcome.findings.push({ argument: leaf.path, labels: 'AB', kind: 'unknown', sources: [] });
      const message = `argument \`${leaf.path}\` has unknown provenance: this session has no provenance index`;
      violate(stronger(untrusted, sensitive), { code: 'provenance_unknown', message });
      continue;
    }
    for (const scan of reader.scan(leaf.value)) {
      outcome.findings.push(findingOf(leaf.path, scan));
      checkScan(leaf.path, scan, untrusted, sensitive, violate);
    }
  }
  return outcome;
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
  path: string,
  scan: ProvenanceScan,
  untrusted: ControlEffect,
  sensitive: ControlEffect,
  violate: (effect: ControlEffect, reason: Omit<Reason, 'rule'>) => void,
): void {
  const what =
    scan.kind === 'evicted'
      ? 'may carry a value this session saw but no longer remembers'
      : scan.kind === 'text'
        ? `carries text \`${scan.value}\`${encoded(scan)}`
        : `carries \`${scan.value}\`${encoded(scan)}`;
  const from = describeSources(scan.sources);
  if (scan.kind === 'evicted') {
    // The index lost (or never had) data with these labels: the argument's provenance is unknown.
    const effect = scan.labels & LEG_A ? (scan.labels & LEG_B ? stronger(untrusted, sensitive) : untrusted) : sensitive;
    violate(effect, {
      code: 'provenance_unknown',
      message: `argument \`${path}\` ${what} (labels ${formatLegs(scan.labels)}): its provenance is unknown`,
    });
    return;
  }
  if (scan.labels & LEG_A) {
    violate(untrusted, {
      code: 'argument_from_untrusted_output',
      message: `argument \`${path}\` ${what} from an untrusted output${from}`,
    });
  }
  if (scan.labels & LEG_B) {
    violate(sensitive, {
      code: 'argument_carries_sensitive_value',
      message: `argument \`${path}\` ${what} from a sensitive output${from}`,
    });
  }
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
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 127) return c === 34 || c === 39 || c === 60 || c === 62 || c === 41 || c === 93;
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
export function embeddedUrls(text: string): string[] {
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
    while (end < text.length && !endsUrl(text.charCodeAt(end))) end++;
    if (end === at + 3) continue;
    let kept = end;
    while (kept > start && TRAILING_PUNCTUATION.has(text[kept - 1] as string)) kept--;
    out.push(text.slice(start, kept));
    from = end;
    at = end - 1;
  }
  return out;
}

/**
 * A URL, or null when the text is not one; without the exception `new URL` throws, whose stack trace cost more than
 * the rest of a decision. `URL.parse` is Node 22.1 on; before, the text is tested first and then parsed.
 */
const parseUrl: (text: string) => URL | null =
  typeof URL.parse === 'function' ? (text) => URL.parse(text) : (text) => (URL.canParse(text) ? new URL(text) : null);

function checkUrl(
  path: string,
  value: string,
  url: CompiledUrlControl,
  reader: ProvenanceReader | undefined,
  violate: (effect: ControlEffect, reason: Omit<Reason, 'rule'>) => void,
): void {
  const parsed = parseUrl(value);
  if (parsed === null) {
    violate(url.effect, { code: 'url_invalid', message: `argument \`${path}\` is not a URL` });
    return;
  }
  const host = parsed.hostname.toLowerCase();
  const shown = value.length > 80 ? `${value.slice(0, 79)}…` : value;
  if (url.deny?.some((p) => p.test(host))) {
    violate(url.effect, { code: 'url_host_denied', message: `argument \`${path}\` points to denied host \`${host}\`` });
  } else if (url.allow && !url.allow.some((p) => p.test(host))) {
    violate(url.effect, {
      code: 'url_host_denied',
      message: `argument \`${path}\` points to host \`${host}\`, which is not on the allow-list`,
    });
  }
  if (url.fromTrusted && !reader?.trustedUrl(value)) {
    violate(url.effect, {
      code: 'url_not_from_trusted_source',
      message: `argument \`${path}\` has URL \`${shown}\`, which no trusted source gave verbatim`,
    });
  }
}

/** Legs a call's references add: B when an argument under a reference control holds a non-empty id. */
export function referenceLegs(controls: readonly CompiledControl[], args: unknown): LegMask {
  const references = controls.filter((c) => c.reference);
  if (references.length === 0) return 0;
  // The walk stops at the first such argument.
  const referenced = eachLeaf(args, (path, value) => {
    if (value === '') return false;
    const bare = indexless(path);
    return references.some((c) => coversLeaf(c.path, path, bare));
  });
  return referenced ? LEG_B : 0;
}
