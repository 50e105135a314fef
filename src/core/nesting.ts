/**
 * Whether a value holds an object or array more than `levels` levels below its top (a cycle always does). Reads each
 * enumerable property once, stopping at the first level too deep; a typed array's elements are not walked.
 */
export function nestsDeeperThan(value: unknown, levels: number): boolean {
  return fault(value, 0, levels, false) !== undefined;
}

/** What makes a call's arguments unfit to decide on, and where (a path such as `$.memo[1].x`). */
export type ArgumentFault = { kind: 'deep' } | { kind: 'number'; path: string; value: number };

/**
 * The first fault of a call's arguments: nesting deeper than `levels`, or a number JSON cannot carry (NaN, ±Infinity:
 * `1e999` parses as Infinity and is written back as `null`, so a tool would run with a value no decision saw). One
 * walk, as {@link nestsDeeperThan}; undefined when there is none.
 */
export function argumentFault(value: unknown, levels: number): ArgumentFault | undefined {
  const found = fault(value, 0, levels, true);
  if (found === undefined || found === DEEP) return found && { kind: 'deep' };
  return { kind: 'number', path: `$${found.path}`, value: found.value };
}

/** A non-finite number and the path to it, built only as a fault unwinds. */
class NotFinite {
  path = '';
  value: number;
  constructor(value: number) {
    this.value = value;
  }
}

const DEEP = 'deep';

/** A key as a path step: `.name` when it reads as an identifier, else a quoted `["odd key"]`. */
function step(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function fault(value: unknown, depth: number, levels: number, numbers: boolean): NotFinite | typeof DEEP | undefined {
  if (typeof value === 'number') return numbers && !Number.isFinite(value) ? new NotFinite(value) : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > levels) return DEEP;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = fault(value[i], depth + 1, levels, numbers);
      if (found === undefined) continue;
      if (found !== DEEP) found.path = `[${i}]${found.path}`;
      return found;
    }
    return undefined;
  }
  // A typed array's elements are numbers: a large buffer handed to a wrapped tool is not walked element by element.
  if (ArrayBuffer.isView(value)) return undefined;
  // `for in` rather than Object.keys: no array per object on the decision path (inherited keys only add reads).
  for (const key in value) {
    const found = fault((value as Record<string, unknown>)[key], depth + 1, levels, numbers);
    if (found === undefined) continue;
    if (found !== DEEP) found.path = step(key) + found.path;
    return found;
  }
  return undefined;
}
