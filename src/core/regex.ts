import { type AST, RegExpParser } from '@eslint-community/regexpp';

type Alternative = AST.Alternative;
type Element = AST.Element;
type Node = AST.Node;

/**
 * Policy regular expressions, matched in time linear in the value: a value the model or a tool chose runs inside
 * the decision, so JavaScript's backtracking engine (exponential on `(a+)+` and `a`s then `!`) must never see it.
 *
 * The expression is parsed as JavaScript (`u` flag) and compiled to a Thompson automaton that is simulated over
 * every reachable state at once (Pike's method without captures: only whether the whole value matches is asked).
 * Every question about a single character is answered by V8 itself, with the expression's own class, escape or
 * property compiled natively and tested on that one character; only the structure (sequence, alternation,
 * repetition, `^`, `$`, `\b`) is the automaton's. That keeps JavaScript's meaning of `.`, `\s`, `\w`, `\p{...}`,
 * `[^]` and the rest exactly, with no table of ours to drift from the runtime's Unicode version. `test` runs on a
 * lazily built deterministic automaton (each reached set of states cached, as RE2 does), within a memory budget past
 * which the simulation answers; both take a bounded number of steps per character of the value.
 */

/** A compiled policy expression; `test` matches the value as a whole. */
export interface LinearRegex {
  /** Whether the expression matches the whole value. */
  test(value: string): boolean;
  /** The match by the simulation alone, and the steps it took: at most `2 * size * (length + 1)`. */
  run(value: string): { matched: boolean; steps: number };
  /** States of the automaton, which bound the work per character of the value. */
  readonly size: number;
}

/** Why an expression cannot be a policy expression: not JavaScript, or JavaScript the linear engine cannot run. */
export interface RegexProblem {
  code: 'invalid_regex' | 'unsupported_regex';
  message: string;
}

/** Most automaton states an expression may compile to; counted repetitions expand (`x{1,100}` is 100 copies). */
export const MAX_REGEX_STATES = 10_000;

/** An expression the linear engine cannot run, with the reason. */
export class UnsupportedRegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const parser = new RegExpParser({ ecmaVersion: 2025 });

/** Why a policy expression cannot be used, or undefined when it compiles. */
export function regexProblem(source: string): RegexProblem | undefined {
  const compiled = tryCompileRegex(source);
  return 'problem' in compiled ? compiled.problem : undefined;
}

/** A policy expression compiled for the linear engine, or why it cannot be. */
export function tryCompileRegex(source: string): { regex: LinearRegex } | { problem: RegexProblem } {
  try {
    new RegExp(source, 'u');
  } catch (error) {
    const message = (error as Error).message.replace(/^Invalid regular expression: /, '');
    return { problem: { code: 'invalid_regex', message: `invalid regular expression: ${message}` } };
  }
  try {
    return { regex: compileRegex(source) };
  } catch (error) {
    return { problem: { code: 'unsupported_regex', message: (error as Error).message } };
  }
}

// Instruction kinds of the automaton.
const CHAR = 0;
const CLASS = 1;
const SPLIT = 2;
const START = 3;
const END = 4;
const WORD_BOUNDARY = 5;
const NOT_WORD_BOUNDARY = 6;
const MATCH = 7;

// Whether the value ends at a position: `$` holds, fails, or is decided later.
const NO = 0;
const YES = 1;
const PENDING = 2;

// Budget of the cached automaton of one expression: sets of states, and states summed over them.
const MAX_CACHED_SETS = 256;
const MAX_CACHED_ENTRIES = 65_536;
// Characters outside ASCII are cached by signature only for expressions with at most this many classes (a signature
// is a bit per class times the literal's number, kept below 2^53), up to this many moves and as many signatures.
const MAX_WIDE_CLASSES = 16;
const MAX_WIDE_MOVES = 65_536;

/** A character test answered by a native expression, memoised for ASCII where values spend most of their time. */
function nativeTest(raw: string): (cp: number) => boolean {
  const regex = new RegExp(`^(?:${raw})$`, 'u');
  const ascii = new Uint8Array(128);
  return (cp) => {
    if (cp < 128) {
      let known = ascii[cp] as number;
      if (known === 0) {
        known = regex.test(String.fromCharCode(cp)) ? 1 : 2;
        ascii[cp] = known;
      }
      return known === 1;
    }
    return regex.test(String.fromCodePoint(cp));
  };
}

/** Builds the automaton backwards: each part compiles to its entry state, given the state that follows it. */
class Builder {
  readonly source: string;
  readonly op: number[] = [];
  readonly next: number[] = [];
  readonly alt: number[] = [];
  readonly arg: (number | ((cp: number) => boolean))[] = [];
  /** Each distinct literal character, numbered. */
  readonly literals = new Map<number, number>();
  readonly #tests = new Map<string, (cp: number) => boolean>();

  constructor(source: string) {
    this.source = source;
  }

  /** Each distinct character class, escape or property test. */
  classes(): ((cp: number) => boolean)[] {
    return [...this.#tests.values()];
  }

  state(op: number, next: number, alt = -1, arg: number | ((cp: number) => boolean) = 0): number {
    if (this.op.length >= MAX_REGEX_STATES) {
      throw new UnsupportedRegexError(
        `unsupported regular expression \`${this.source}\`: it expands to more than ${MAX_REGEX_STATES} states; use smaller repetition counts`,
      );
    }
    this.op.push(op);
    this.next.push(next);
    this.alt.push(alt);
    this.arg.push(arg);
    return this.op.length - 1;
  }

  unsupported(node: Node, what: string): never {
    const why =
      what === 'modifier group'
        ? 'is not supported; write the cases out, such as `[aA]`'
        : 'needs backtracking; policy expressions run in linear time, without lookaround or backreferences';
    throw new UnsupportedRegexError(
      `unsupported regular expression \`${this.source}\`: the ${what} \`${node.raw}\` ${why}`,
    );
  }

  /** Compiles alternatives to a state that continues at `next` after any of them. */
  alternatives(alternatives: readonly Alternative[], next: number): number {
    const entries = alternatives.map((alternative) => this.sequence(alternative.elements, next));
    let entry = entries.pop() as number;
    while (entries.length > 0) entry = this.state(SPLIT, entries.pop() as number, entry);
    return entry;
  }

  sequence(elements: readonly Element[], next: number): number {
    let entry = next;
    for (let i = elements.length - 1; i >= 0; i--) entry = this.element(elements[i] as Element, entry);
    return entry;
  }

  element(node: Element, next: number): number {
    switch (node.type) {
      case 'Character':
        if (!this.literals.has(node.value)) this.literals.set(node.value, this.literals.size);
        return this.state(CHAR, next, -1, node.value);
      case 'CharacterClass':
      case 'CharacterSet':
      case 'ExpressionCharacterClass': {
        let test = this.#tests.get(node.raw);
        if (test === undefined) {
          test = nativeTest(node.raw);
          this.#tests.set(node.raw, test);
        }
        return this.state(CLASS, next, -1, test);
      }
      case 'Group':
        if (node.modifiers !== null) this.unsupported(node, 'modifier group');
        return this.alternatives(node.alternatives, next);
      case 'CapturingGroup':
        return this.alternatives(node.alternatives, next);
      case 'Assertion':
        if (node.kind === 'start') return this.state(START, next);
        if (node.kind === 'end') return this.state(END, next);
        if (node.kind === 'word') return this.state(node.negate ? NOT_WORD_BOUNDARY : WORD_BOUNDARY, next);
        return this.unsupported(node, node.kind === 'lookahead' ? 'lookahead' : 'lookbehind');
      case 'Backreference':
        return this.unsupported(node, 'backreference');
      case 'Quantifier': {
        // Optional copies nest, `x{0,2}` as `(?:x(?:x)?)?`, then the required copies go in front.
        let entry = next;
        if (node.max === Number.POSITIVE_INFINITY) {
          const loop = this.state(SPLIT, -1, next);
          this.next[loop] = this.element(node.element, loop);
          entry = loop;
        } else {
          for (let i = node.min; i < node.max; i++) {
            const split = this.state(SPLIT, -1, next);
            this.next[split] = this.element(node.element, entry);
            entry = split;
          }
        }
        for (let i = 0; i < node.min; i++) entry = this.element(node.element, entry);
        return entry;
      }
    }
  }
}

/** Whether the UTF-16 unit is a word character for `\b` (ASCII only, as JavaScript has it without the `i` flag). */
function isWordUnit(unit: number): boolean {
  return (
    (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5a) || (unit >= 0x61 && unit <= 0x7a) || unit === 0x5f
  );
}

/**
 * Compiles a policy expression, matched against whole values, to the linear engine. Throws a `SyntaxError` for what
 * JavaScript rejects and an {@link UnsupportedRegexError} for lookaround, backreferences, modifiers or an expression
 * that expands past {@link MAX_REGEX_STATES}.
 */
export function compileRegex(source: string): LinearRegex {
  new RegExp(source, 'u');
  const pattern = parser.parsePattern(source, 0, source.length, { unicode: true });
  const builder = new Builder(source);
  const match = builder.state(MATCH, -1);
  const start = builder.alternatives(pattern.alternatives, match);
  const op = Int8Array.from(builder.op);
  const nextOf = Int32Array.from(builder.next);
  const altOf = Int32Array.from(builder.alt);
  const arg = builder.arg;
  const size = op.length;

  // Work lists are reused across runs (a run never re-enters: nothing it calls can call back into the guard);
  // `seen` marks a state added at the current position by a generation number that only grows.
  let current = new Int32Array(size);
  let following = new Int32Array(size);
  const seen = new Int32Array(size);
  // Each state enters `seen` once and a split pushes two, so the stack never holds more than size + 1; a typed array
  // would drop a write past its end silently, hence the margin.
  const stack = new Int32Array(2 * size + 2);
  let generation = 0;
  let steps = 0;

  const nextGeneration = (): void => {
    if (generation > 0x3fffffff) {
      seen.fill(0);
      generation = 0;
    }
    generation++;
  };

  /**
   * Adds `from` and every state reachable from it without reading a character to `list` from `length` on, and
   * returns the new length. `^` holds when `atStart`. `$` holds or fails by `atEnd`, and `\b` by `before` and
   * `after`; when `atEnd` or `after` is `PENDING` (building the cached automaton, before the next character is read)
   * the assertion stays in the list, to be added again once the position is known.
   */
  const add = (
    list: Int32Array,
    length: number,
    from: number,
    atStart: boolean,
    atEnd: number,
    before: boolean,
    after: number,
  ): number => {
    let top = 0;
    stack[top++] = from;
    while (top > 0) {
      const s = stack[--top] as number;
      if (seen[s] === generation) continue;
      seen[s] = generation;
      steps++;
      switch (op[s]) {
        case SPLIT:
          stack[top++] = altOf[s] as number;
          stack[top++] = nextOf[s] as number;
          break;
        case START:
          if (atStart) stack[top++] = nextOf[s] as number;
          break;
        case END:
          if (atEnd === YES) stack[top++] = nextOf[s] as number;
          else if (atEnd === PENDING) list[length++] = s;
          break;
        case WORD_BOUNDARY:
        case NOT_WORD_BOUNDARY:
          if (after === PENDING) list[length++] = s;
          else if ((before !== (after === YES)) === (op[s] === WORD_BOUNDARY)) stack[top++] = nextOf[s] as number;
          break;
        default:
          list[length++] = s;
      }
    }
    return length;
  };

  /** Moves the `count` states of `current` over one character into `following`; returns how many there are. */
  const step = (count: number, cp: number, atEnd: number, before: boolean, after: number): number => {
    nextGeneration();
    let length = 0;
    for (let i = 0; i < count; i++) {
      const s = current[i] as number;
      steps++;
      const kind = op[s];
      const holds = kind === CHAR ? arg[s] === cp : kind === CLASS && (arg[s] as (cp: number) => boolean)(cp);
      if (holds) length = add(following, length, nextOf[s] as number, false, atEnd, before, after);
    }
    return length;
  };

  const swap = (): void => {
    const list = current;
    current = following;
    following = list;
  };

  const run = (value: string): { matched: boolean; steps: number } => {
    steps = 0;
    const wordAt = (index: number) => (index < value.length && isWordUnit(value.charCodeAt(index)) ? YES : NO);
    nextGeneration();
    let count = add(current, 0, start, true, value.length === 0 ? YES : NO, false, wordAt(0));
    let index = 0;
    while (index < value.length && count > 0) {
      const cp = value.codePointAt(index) as number;
      const after = index + (cp > 0xffff ? 2 : 1);
      const before = isWordUnit(value.charCodeAt(after - 1));
      count = step(count, cp, after === value.length ? YES : NO, before, wordAt(after));
      swap();
      index = after;
    }
    let matched = false;
    for (let i = 0; i < count; i++) if (op[current[i] as number] === MATCH) matched = true;
    return { matched, steps };
  };

  // A lazily built deterministic automaton, as RE2 keeps one: each set of states the simulation reaches becomes one
  // cached state, and an ASCII character's move from it a table lookup. A cached state keeps `$` and `\b` pending
  // with whether it is the start and whether a word character precedes it, and decides them when the next character
  // (or the end) is known. The cache has a memory budget; past it the simulation answers, so time stays linear.
  const sets: Int32Array[] = [];
  const starts: boolean[] = [];
  const words: boolean[] = [];
  const accepts: boolean[] = [];
  const ids = new Map<string, number>();
  let moves = new Int32Array(0);
  let cached = 0;
  let dead = -1;

  /** The cached state for the `count` states in `list`, or -1 when the budget is spent. */
  const intern = (list: Int32Array, count: number, atStart: boolean, before: boolean): number => {
    const set = list.slice(0, count).sort();
    // The flags matter only to pending assertions; every empty set is the one dead state.
    const key = count === 0 ? '' : `${atStart ? 's' : ''}${before ? 'w' : ''}:${set.join(',')}`;
    const known = ids.get(key);
    if (known !== undefined) return known;
    if (sets.length >= MAX_CACHED_SETS || cached + count > MAX_CACHED_ENTRIES) return -1;
    const id = sets.length;
    sets.push(set);
    starts.push(atStart);
    words.push(before);
    ids.set(key, id);
    cached += count;
    if (count === 0) dead = id;
    if (moves.length < (id + 1) * 128) {
      const grown = new Int32Array(Math.max(128, moves.length * 2)).fill(-1);
      grown.set(moves);
      moves = grown;
    }
    // Whether the value may end here: the pending assertions decided at the end, then a match state reached.
    nextGeneration();
    let length = 0;
    for (const s of set) length = add(following, length, s, atStart, YES, before, NO);
    accepts.push(following.subarray(0, length).some((s) => op[s] === MATCH));
    return id;
  };

  /** The cached state after reading `cp` from cached state `from`, or -1 when the budget is spent. */
  const move = (from: number, cp: number): number => {
    const set = sets[from] as Int32Array;
    const word = isWordUnit(cp);
    // Decide the pending assertions now that the next character is known, then read it.
    nextGeneration();
    let count = 0;
    for (const s of set)
      count = add(current, count, s, starts[from] as boolean, NO, words[from] as boolean, word ? YES : NO);
    const length = step(count, cp, PENDING, word, PENDING);
    const to = intern(following, length, false, word);
    if (to >= 0 && cp < 128) moves[from * 128 + cp] = to;
    return to;
  };

  // Other characters are cached by what the expression can tell of them: which of its literals they are, and which
  // of its classes take them (never a word character for `\b`). Characters alike in that move alike from every state.
  const literals = builder.literals;
  const classes = builder.classes();
  const wideCache = classes.length <= MAX_WIDE_CLASSES;
  const wide = new Map<number, number>();
  const signatures = new Map<number, number>();
  const signature = (cp: number): number => {
    let sig = signatures.get(cp);
    if (sig !== undefined) return sig;
    sig = (literals.get(cp) ?? -1) + 1;
    for (const holds of classes) sig = sig * 2 + (holds(cp) ? 1 : 0);
    if (signatures.size < MAX_WIDE_MOVES) signatures.set(cp, sig);
    return sig;
  };

  /** {@link move} for a character outside ASCII, through the cache by signature. */
  const moveWide = (from: number, cp: number): number => {
    if (!wideCache) return move(from, cp);
    const key = signature(cp) * MAX_CACHED_SETS + from;
    const known = wide.get(key);
    if (known !== undefined) return known;
    const to = move(from, cp);
    if (to >= 0 && wide.size < MAX_WIDE_MOVES) wide.set(key, to);
    return to;
  };

  let initial = -1;
  const test = (value: string): boolean => {
    if (initial < 0) {
      nextGeneration();
      initial = intern(current, add(current, 0, start, true, PENDING, false, PENDING), true, false);
      if (initial < 0) return run(value).matched;
    }
    let state = initial;
    let index = 0;
    while (index < value.length) {
      const unit = value.charCodeAt(index);
      const known = unit < 128 ? (moves[state * 128 + unit] as number) : -1;
      if (known >= 0) {
        // No state left: nothing later in the value can match.
        if (known === dead) return false;
        state = known;
        index++;
        continue;
      }
      const cp = value.codePointAt(index) as number;
      state = cp < 128 ? move(state, cp) : moveWide(state, cp);
      if (state < 0) return run(value).matched;
      if (state === dead) return false;
      index += cp > 0xffff ? 2 : 1;
    }
    return accepts[state] as boolean;
  };

  return { size, run, test };
}
