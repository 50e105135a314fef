/** One of the three Rule-of-Two properties: A untrusted input, B sensitive data or systems, C state change. */
export type Leg = 'A' | 'B' | 'C';

/** A set of legs as a bit mask: A = 1, B = 2, C = 4. */
export type LegMask = number;

/** Bit of leg A (untrusted input). */
export const LEG_A: LegMask = 1;
/** Bit of leg B (sensitive data or systems). */
export const LEG_B: LegMask = 2;
/** Bit of leg C (state change or external communication). */
export const LEG_C: LegMask = 4;
/** All three legs: the lethal trifecta. */
export const ALL_LEGS: LegMask = 7;
/** The empty set of legs. */
export const NO_LEGS: LegMask = 0;

const BITS: Record<Leg, LegMask> = { A: LEG_A, B: LEG_B, C: LEG_C };
const ORDER: readonly Leg[] = ['A', 'B', 'C'];

/** The bit of one leg. */
export function legBit(leg: Leg): LegMask {
  return BITS[leg];
}

/** Whether a string is a leg name. */
export function isLeg(value: unknown): value is Leg {
  return value === 'A' || value === 'B' || value === 'C';
}

/** Formats a mask as its legs in order, e.g. `AB`; the empty set is the empty string. */
export function formatLegs(mask: LegMask): string {
  return FORMATTED[mask & ALL_LEGS] as string;
}

// Every mask's text, built once: decisions format legs several times each.
const FORMATTED: readonly string[] = Array.from({ length: 8 }, (_, mask) =>
  ORDER.filter((leg) => mask & BITS[leg]).join(''),
);

/** The legs of a mask as an array, in order; shared and read-only, made once per mask. */
export function legList(mask: LegMask): readonly Leg[] {
  return LISTS[mask & ALL_LEGS] as readonly Leg[];
}

const LISTS: readonly (readonly Leg[])[] = Array.from({ length: 8 }, (_, mask) =>
  Object.freeze(ORDER.filter((leg) => mask & BITS[leg])),
);

/**
 * Parses legs written as a string (`"AB"`, `"A+B"`, `"A,B"`, `""`, `"none"`) or an array of leg names.
 * Returns undefined for anything else, so callers can report where the bad value is.
 */
export function parseLegs(value: unknown): LegMask | undefined {
  if (Array.isArray(value)) {
    let mask = NO_LEGS;
    for (const item of value) {
      if (!isLeg(item)) return undefined;
      mask |= BITS[item];
    }
    return mask;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '' || text.toLowerCase() === 'none') return NO_LEGS;
  let mask = NO_LEGS;
  for (const ch of text.replace(/[\s,+]/g, '')) {
    if (!isLeg(ch)) return undefined;
    mask |= BITS[ch];
  }
  return mask;
}
