import { canonicalHash } from './canonical.ts';
import { type CompiledControl, type ConsequentialControls, compileControls, referenceLegs } from './controls.ts';
import type { NarrowSchema } from './declassify.ts';
import type { Configuration, GateEffect, InputTrust, PolicyDocument, ToolDocument } from './document.ts';
import { globToRegExp, isGlob } from './glob.ts';
import { ALL_LEGS, LEG_A, LEG_B, LEG_C, type LegMask, parseLegs } from './legs.ts';
import { type CompiledLineage, compileLineage } from './lineage.ts';
import { type CompiledLists, compileMatch, type Predicate } from './match.ts';

/** Names of the lists a `notIn` test or a URL control's `deny` refers to. */
function listsThatDeny(document: PolicyDocument): Set<string> {
  const names = new Set<string>();
  const add = (source: string[] | string | undefined) => {
    if (typeof source === 'string') names.add(source);
  };
  for (const tool of Object.values(document.tools ?? {})) {
    for (const condition of [...(tool.when ?? []), ...(tool.results ?? [])]) {
      for (const matcher of Object.values(condition.match ?? {})) {
        if (matcher !== null && typeof matcher === 'object') add(matcher.notIn);
      }
    }
    for (const control of Object.values(tool.args ?? {})) add(control.url?.deny);
  }
  return names;
}

/** Legs a call confers when decided (`pre`) and legs its output may bring (`post`). */
export interface CallLegs {
  pre: LegMask;
  post: LegMask;
  /** Which profile entry chose the legs: `base`, or `when[i]` for an argument condition. */
  source: string;
}

/** A compiled tool profile. */
export interface ToolProfile {
  /** The policy key that matched: an exact name, a glob, or `*unknown*`. */
  readonly key: string;
  readonly known: boolean;
  readonly gate: GateEffect;
  /** Legs for a call with these arguments (first matching argument condition, else the base legs). */
  legsFor(args: unknown): CallLegs;
  /** Legs an output brings, never more than `reserved` (what the call's decision reserved). */
  resultLegs(output: unknown, reserved: LegMask): LegMask;
  /** Every leg profile the tool can have, for static analysis. */
  readonly variants: readonly CallLegs[];
  /** Argument-level controls (provenance, URLs, references). */
  readonly controls: readonly CompiledControl[];
  /** Whether any variant of the tool is consequential (C): the policy's `provenance.consequential` applies. */
  readonly consequential: boolean;
  readonly lineage?: CompiledLineage;
  /** An output that validates against this schema brings no A. */
  readonly declassify?: NarrowSchema;
}

/** A compiled, immutable policy. */
export interface Policy {
  readonly document: PolicyDocument;
  readonly name: string;
  /** Content hash of the document; approvals are bound to it. */
  readonly version: string;
  readonly configuration: Configuration;
  readonly input: InputTrust;
  readonly gate: GateEffect;
  readonly approvalTtlMs: number;
  readonly unknown: ToolProfile;
  /** The profile of a tool: exact name first, then globs in file order, else the unknown-tool default. */
  resolve(tool: string): ToolProfile;
  /** Every named profile in file order. */
  readonly profiles: readonly ToolProfile[];
  /** Provenance controls for every string argument of a consequential tool, when the policy sets any. */
  readonly consequential?: ConsequentialControls;
  /** Literal values of the policy's lists: trusted input, never flagged by provenance. */
  readonly constants: readonly string[];
}

/** Default time an approval request stays valid. */
export const DEFAULT_APPROVAL_TTL_MS = 5 * 60_000;

/** Splits shorthand legs into the call part (B, C) and the output part (A, B). */
export function splitLegs(mask: LegMask): { pre: LegMask; post: LegMask } {
  return { pre: mask & (LEG_B | LEG_C), post: mask & (LEG_A | LEG_B) };
}

/**
 * The longest duration: what a timer holds (2^31-1 ms, 596h and some). A longer one is cut to 1 ms by the host's
 * timers, so an approver or an upstream would be given up on at once.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** Parses a duration such as `90s`, `5m`, `1h`, `250ms` or a number of milliseconds, up to `max`. */
export function parseDuration(text: string | number, max = MAX_DURATION_MS): number | undefined {
  let ms: number;
  if (typeof text === 'number') ms = text;
  else {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text.trim());
    if (!match) return undefined;
    ms = Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  }
  // INVARIANT: no duration is longer than a timer holds (test/policy/bad-input.test.ts "durations past what a timer").
  return ms > 0 && ms <= max ? ms : undefined;
}

/** What is wrong with a duration {@link parseDuration} refused: too long, or not a duration at all. */
export function durationProblem(text: unknown, example: string): string {
  const long = (typeof text === 'string' || typeof text === 'number') && parseDuration(text, Infinity) !== undefined;
  return long ? 'a duration can be at most 596h (what a timer holds)' : `expected a duration such as ${example}`;
}

function legsOrThrow(text: string | undefined, fallback: LegMask, where: string): LegMask {
  if (text === undefined) return fallback;
  const mask = parseLegs(text);
  if (mask === undefined) throw new Error(`invalid legs \`${text}\` at ${where}`);
  return mask;
}

function baseLegs(doc: ToolDocument, where: string): { pre: LegMask; post: LegMask } {
  const short = splitLegs(legsOrThrow(doc.legs, 0, `${where}.legs`));
  return {
    pre: short.pre | legsOrThrow(doc.call, 0, `${where}.call`),
    post: short.post | legsOrThrow(doc.output, 0, `${where}.output`),
  };
}

function compileProfile(
  key: string,
  doc: ToolDocument,
  lists: CompiledLists,
  defaultGate: GateEffect,
  known: boolean,
): ToolProfile {
  const where = `tools.${key}`;
  // Lineage that filters untrusted items means the output can never bring A.
  const outputMask = doc.lineage?.untrusted === 'filter' ? ~LEG_A : ALL_LEGS;
  const declared = baseLegs(doc, where);
  const base = { pre: declared.pre, post: declared.post & outputMask };
  const conditions = (doc.when ?? []).map((condition, i) => ({
    test: compileMatch(condition.match, lists),
    legs: {
      pre: legsOrThrow(condition.call, base.pre, `${where}.when[${i}].call`),
      post: legsOrThrow(condition.output, base.post, `${where}.when[${i}].output`) & outputMask,
      source: `when[${i}]`,
    } satisfies CallLegs,
  }));
  const results: { test: Predicate; post: LegMask }[] = (doc.results ?? []).map((condition, i) => ({
    test: compileMatch(condition.match, lists),
    post: legsOrThrow(condition.output, base.post, `${where}.results[${i}].output`),
  }));
  const baseCall: CallLegs = { ...base, source: 'base' };
  const controls = compileControls(doc.args, lists);
  const plain = [baseCall, ...conditions.map((c) => c.legs)];
  const references = controls.some((c) => c.reference);
  // A reference to a sensitive object adds B to whichever legs the conditions chose.
  const variants = references ? [...plain, ...plain.map((v) => withReference(v))] : plain;
  const profile: ToolProfile = {
    key,
    known,
    gate: doc.gate ?? defaultGate,
    legsFor(args) {
      let legs = baseCall;
      for (const condition of conditions) {
        if (condition.test(args)) {
          legs = condition.legs;
          break;
        }
      }
      return references && referenceLegs(controls, args) ? withReference(legs) : legs;
    },
    resultLegs(output, reserved) {
      for (const result of results) if (result.test(output)) return result.post & reserved;
      return reserved;
    },
    variants,
    controls,
    consequential: variants.some((v) => v.pre & LEG_C),
    ...(doc.lineage === undefined ? {} : { lineage: compileLineage(doc.lineage, lists) }),
    ...(doc.declassify === undefined ? {} : { declassify: doc.declassify }),
  };
  return profile;
}

function withReference(legs: CallLegs): CallLegs {
  return { pre: legs.pre | LEG_B, post: legs.post, source: `${legs.source}+reference` };
}

/** Compiles a validated document. Throws on a document the validator would reject. */
export function compilePolicy(document: PolicyDocument): Policy {
  const lists: CompiledLists = new Map(Object.entries(document.lists ?? {}));
  const gate = document.approvals?.gate ?? 'ask';
  const exact = new Map<string, ToolProfile>();
  const globs: { regex: RegExp; profile: ToolProfile }[] = [];
  const profiles: ToolProfile[] = [];
  for (const [key, entry] of Object.entries(document.tools ?? {})) {
    // The file format allows the shorthand `tool: AB`; a document that skipped validation may still hold it.
    const doc: ToolDocument = typeof entry === 'string' ? { legs: entry } : entry;
    const profile = compileProfile(key, doc, lists, gate, true);
    profiles.push(profile);
    if (isGlob(key)) globs.push({ regex: globToRegExp(key), profile });
    else exact.set(key, profile);
  }
  const unknownDoc = document.unknownTools;
  const unknownLegs =
    unknownDoc === undefined
      ? { legs: 'ABC' }
      : typeof unknownDoc === 'string'
        ? { legs: unknownDoc }
        : (unknownDoc as ToolDocument);
  const unknown = compileProfile('*unknown*', unknownLegs, lists, gate, false);
  const ttl = document.approvals?.ttl;
  const approvalTtlMs = ttl === undefined ? DEFAULT_APPROVAL_TTL_MS : parseDuration(ttl);
  if (approvalTtlMs === undefined) throw new Error(`invalid duration \`${ttl}\` at approvals.ttl`);
  const version = canonicalHash(document).slice(0, 16);
  const consequential = document.provenance?.consequential;
  // INVARIANT: the values of a list that some pattern denies with name what to refuse and are never trusted input
  // (test/guard/evasion.test.ts "values of deny lists").
  const denying = listsThatDeny(document);
  const constants = Object.entries(document.lists ?? {})
    .filter(([name]) => !denying.has(name))
    .flatMap(([, values]) => values)
    .filter((v) => !isGlob(v));
  return {
    ...(consequential === undefined
      ? {}
      : {
          consequential: { untrusted: consequential.untrusted ?? 'off', sensitive: consequential.sensitive ?? 'off' },
        }),
    constants,
    document,
    name: document.name ?? 'policy',
    version,
    configuration: document.session?.configuration ?? 'dynamic',
    input: document.session?.input ?? 'untrusted',
    gate,
    approvalTtlMs,
    unknown,
    profiles,
    resolve(tool) {
      const hit = exact.get(tool);
      if (hit) return hit;
      for (const glob of globs) if (glob.regex.test(tool)) return glob.profile;
      return unknown;
    },
  };
}

/** The legs a configuration admits before any drop. */
export function configurationMask(configuration: Configuration): LegMask {
  switch (configuration) {
    case 'dynamic':
      return ALL_LEGS;
    case 'AB':
      return LEG_A | LEG_B;
    case 'AC':
      return LEG_A | LEG_C;
    case 'BC':
      return LEG_B | LEG_C;
  }
}
