import type { MatchSpec, ValueMatcher } from './document.ts';
import { globToRegExp, type Wildcard } from './glob.ts';
import { compileRegex } from './regex.ts';

/** A compiled test on a whole argument or output object. */
export type Predicate = (subject: unknown) => boolean;

/** Named value lists of a policy: their globs, compiled where they are used (allow and deny patterns differ). */
export type CompiledLists = ReadonlyMap<string, readonly string[]>;

/** Reads a dot path (`message.to`, or its keys) from a value, own properties only; undefined when absent. */
export function readPath(subject: unknown, path: string | readonly string[]): unknown {
  let current: unknown = subject;
  for (const key of typeof path === 'string' ? path.split('.') : path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= current.length) return undefined;
      current = current[index];
    } else {
      if (!Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    }
  }
  return current;
}

/** Compiles a match spec: every path's test must hold. An empty spec always holds. */
export function compileMatch(spec: MatchSpec, lists: CompiledLists): Predicate {
  const tests = Object.entries(spec).map(([path, matcher]) => {
    const test = compileValueMatcher(matcher, lists);
    const keys = path.split('.');
    return (subject: unknown) => test(readPath(subject, keys));
  });
  return (subject) => tests.every((test) => test(subject));
}

type ValueTest = (value: unknown) => boolean;

function compileValueMatcher(matcher: ValueMatcher, lists: CompiledLists): ValueTest {
  if (matcher === null || typeof matcher !== 'object') {
    return (value) => everyScalar(value, (v) => v === matcher);
  }
  const tests: ValueTest[] = [];
  if (matcher.exists !== undefined) {
    const wanted = matcher.exists;
    tests.push((value) => (value !== undefined) === wanted);
  }
  if (matcher.equals !== undefined) {
    const wanted = matcher.equals;
    tests.push((value) => everyScalar(value, (v) => v === wanted));
  }
  if (matcher.in !== undefined) {
    const patterns = patternsOf(matcher.in, lists, 'item');
    tests.push((value) => everyScalar(value, (v) => typeof v === 'string' && patterns.some((p) => p.test(v))));
  }
  if (matcher.notIn !== undefined) {
    const patterns = patternsOf(matcher.notIn, lists, 'any');
    tests.push((value) => everyScalar(value, (v) => typeof v === 'string' && !patterns.some((p) => p.test(v))));
  }
  if (matcher.regex !== undefined) {
    // INVARIANT: a value the model chose is matched in time linear in its length, never by the backtracking engine
    // (test/core/regex.test.ts "catastrophic expressions"); an error while matching throws, and the decision denies.
    const regex = compileRegex(matcher.regex);
    tests.push((value) => everyScalar(value, (v) => typeof v === 'string' && regex.test(v)));
  }
  const bounds: [number | undefined, (v: number, b: number) => boolean][] = [
    [matcher.lt, (v, b) => v < b],
    [matcher.lte, (v, b) => v <= b],
    [matcher.gt, (v, b) => v > b],
    [matcher.gte, (v, b) => v >= b],
  ];
  for (const [bound, compare] of bounds) {
    if (bound === undefined) continue;
    tests.push((value) => everyScalar(value, (v) => typeof v === 'number' && compare(v, bound)));
  }
  return (value) => tests.every((test) => test(value));
}

/**
 * A scalar must pass the test; an array passes when it is non-empty and every element passes, so one outsider
 * among many recipients keeps the call at its declared legs.
 */
function everyScalar(value: unknown, test: (v: unknown) => boolean): boolean {
  if (!Array.isArray(value)) return value !== undefined && test(value);
  if (value.length === 0) return false;
  // INVARIANT: a hole is an element too, and fails (`every` skips holes, so `[, 'bob@example.com']` passed;
  // test/core/adversarial.test.ts "recipient allow-lists").
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    if (!(i in value) || Array.isArray(item) || !test(item)) return false;
  }
  return true;
}

/**
 * Patterns of an inline glob list or of a named list; `item` wildcards for what a match allows, `any` for what it
 * denies, so each fails closed on a string holding several items. `normalize` rewrites each glob first (into the
 * form the values it is matched against take).
 */
export function patternsOf(
  source: string[] | string,
  lists: CompiledLists,
  wildcard: Wildcard,
  normalize: (glob: string) => string = (glob) => glob,
): readonly RegExp[] {
  const globs = typeof source === 'string' ? lists.get(source) : source;
  // The validator rejects unknown list names; reaching here without one is a bug, and failing loudly denies.
  if (globs === undefined) throw new Error(`unknown list \`${source}\``);
  return globs.map((glob) => globToRegExp(normalize(glob), wildcard));
}
