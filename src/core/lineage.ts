/**
 * Author lineage: the items of an output (issue comments, chat messages, pull-request reviews) carry their author.
 * Items by trusted authors bring no A; items by anyone else are removed before the model sees them (`filter`) or
 * bring A (`taint`). Anything that cannot be read as items with authors brings A: lineage never fails open.
 */
import type { LineageDocument } from './document.ts';
import { type CompiledLists, patternsOf, readPath } from './match.ts';

/** A compiled lineage spec. */
export interface CompiledLineage {
  items?: string;
  author: string;
  id?: string;
  trusted: readonly RegExp[];
  trustedItems: ReadonlySet<string>;
  untrusted: 'filter' | 'taint';
}

/** Authors and items a reviewer marked trusted at run time (`ruleoftwo lineage allow`). */
export interface LineageAllowances {
  authors: ReadonlySet<string>;
  items: ReadonlySet<string>;
}

/** What lineage made of an output. */
export interface LineageOutcome {
  /** The output the model may see: with untrusted items removed under `filter`. */
  output: unknown;
  /** Whether what remains still brings A. */
  untrusted: boolean;
  items: number;
  /** Items by untrusted authors (filtered out or tainting). */
  untrustedItems: number;
  /** Why the output as a whole counts as untrusted, when it does without untrusted items. */
  problem?: string;
}

/** No run-time allowances. */
export const NO_ALLOWANCES: LineageAllowances = { authors: new Set(), items: new Set() };

/** Compiles a lineage spec. */
export function compileLineage(doc: LineageDocument, lists: CompiledLists): CompiledLineage {
  const out: CompiledLineage = {
    author: doc.author,
    trusted: doc.trusted === undefined ? [] : patternsOf(doc.trusted, lists, 'item'),
    trustedItems: new Set(doc.trustedItems ?? []),
    untrusted: doc.untrusted ?? 'taint',
  };
  if (doc.items !== undefined) out.items = doc.items;
  if (doc.id !== undefined) out.id = doc.id;
  return out;
}

/** Applies lineage to an output. Pure: the output is copied, never changed in place. */
export function applyLineage(lineage: CompiledLineage, output: unknown, allowed: LineageAllowances): LineageOutcome {
  const list = lineage.items === undefined ? output : readPath(output, lineage.items);
  // INVARIANT: an object holding the items that names an author of its own (an issue holding its comments) is an item
  // too, and one by an untrusted author withholds or taints the output (test/core/evasion.test.ts "lineage").
  const holder = untrustedHolder(lineage, output, allowed);
  if (!Array.isArray(list) || holder !== undefined) {
    const where = lineage.items === undefined ? 'the output' : `\`${lineage.items}\``;
    const problem = holder ?? `${where} is not a list of items`;
    // INVARIANT: under `filter` an output whose items cannot be read is withheld, never passed on
    // (test/core/lineage.test.ts "unreadable output is withheld").
    if (lineage.untrusted === 'filter')
      return { output: { withheld: problem }, untrusted: false, items: 0, untrustedItems: 0, problem };
    return { output, untrusted: true, items: 0, untrustedItems: 0, problem };
  }
  // INVARIANT: an item is kept only when every object inside it that names an author (a reply in a thread) is
  // trusted too (test/core/evasion.test.ts "lineage").
  const walk = { nodes: 0 };
  const kept = list.filter(
    (item) => isTrusted(lineage, item, allowed) && !untrustedInside(lineage, item, allowed, 0, walk),
  );
  const untrustedItems = list.length - kept.length;
  if (lineage.untrusted === 'taint' || untrustedItems === 0) {
    return { output, untrusted: untrustedItems > 0, items: list.length, untrustedItems };
  }
  const filtered = lineage.items === undefined ? kept : replaceAt(output, lineage.items.split('.'), kept);
  return { output: filtered, untrusted: false, items: list.length, untrustedItems };
}

/** Whether an item is by a trusted author or was trusted itself. */
function isTrusted(lineage: CompiledLineage, item: unknown, allowed: LineageAllowances): boolean {
  const author = readPath(item, lineage.author);
  if (typeof author === 'string' && (allowed.authors.has(author) || lineage.trusted.some((p) => p.test(author))))
    return true;
  if (lineage.id === undefined) return false;
  const id = readPath(item, lineage.id);
  if (typeof id !== 'string' && typeof id !== 'number') return false;
  return allowed.items.has(String(id)) || lineage.trustedItems.has(String(id));
}

/** Deepest nesting, and most objects in all, read inside the items of one output; past either, an item is untrusted. */
const MAX_ITEM_DEPTH = 64;
const MAX_ITEM_OBJECTS = 100_000;

/** Whether an object inside `value` names an author (at the author path) and is not trusted. */
function untrustedInside(
  lineage: CompiledLineage,
  value: unknown,
  allowed: LineageAllowances,
  depth: number,
  walk: { nodes: number },
): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > MAX_ITEM_DEPTH || ++walk.nodes > MAX_ITEM_OBJECTS) return true;
  for (const inner of Array.isArray(value) ? value : Object.values(value)) {
    if (inner === null || typeof inner !== 'object') continue;
    if (readPath(inner, lineage.author) !== undefined && !isTrusted(lineage, inner, allowed)) return true;
    if (untrustedInside(lineage, inner, allowed, depth + 1, walk)) return true;
  }
  return false;
}

/**
 * Why an object on the path to the items (the output itself included) counts as untrusted: it has a value at the
 * author path (an issue's `user.login` next to its comments) and is not trusted as an item would be.
 */
function untrustedHolder(lineage: CompiledLineage, output: unknown, allowed: LineageAllowances): string | undefined {
  if (lineage.items === undefined) return undefined;
  const keys = lineage.items.split('.');
  for (let depth = 0; depth < keys.length; depth++) {
    const holder = depth === 0 ? output : readPath(output, keys.slice(0, depth));
    if (readPath(holder, lineage.author) !== undefined && !isTrusted(lineage, holder, allowed)) {
      const where = depth === 0 ? 'the output' : `\`${keys.slice(0, depth).join('.')}\``;
      return `${where} holds the items and is by an untrusted author`;
    }
  }
  return undefined;
}

function replaceAt(value: unknown, path: readonly string[], replacement: unknown): unknown {
  const [key, ...rest] = path;
  if (key === undefined) return replacement;
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[Number(key)] = replaceAt(value[Number(key)], rest, replacement);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  copy[key] = replaceAt(copy[key], rest, replacement);
  return copy;
}

/** Describes what lineage did, for the audit log and `replay`. */
export function describeLineage(outcome: LineageOutcome, mode: CompiledLineage['untrusted']): string {
  if (outcome.problem)
    return `${outcome.problem}; ${mode === 'filter' ? 'the output was withheld' : 'the output brings A'}`;
  if (outcome.untrustedItems === 0) return `all ${outcome.items} item(s) by trusted authors; no A`;
  return mode === 'filter'
    ? `removed ${outcome.untrustedItems} of ${outcome.items} item(s) by untrusted authors; no A`
    : `${outcome.untrustedItems} of ${outcome.items} item(s) by untrusted authors; the output brings A`;
}
