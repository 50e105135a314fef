/**
 * Whether a value holds an object or array more than `levels` levels below its top (a cycle always does). Reads each
 * enumerable property once, stopping at the first level too deep; a typed array's elements are not walked.
 */
export function nestsDeeperThan(value: unknown, levels: number): boolean {
  return deeper(value, 0, levels);
}

function deeper(value: unknown, depth: number, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > levels) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (deeper(value[i], depth + 1, levels)) return true;
    return false;
  }
  // A typed array's elements are numbers: a large buffer handed to a wrapped tool is not walked element by element.
  if (ArrayBuffer.isView(value)) return false;
  // `for in` rather than Object.keys: no array per object on the decision path (inherited keys only add reads).
  for (const key in value) if (deeper((value as Record<string, unknown>)[key], depth + 1, levels)) return true;
  return false;
}
