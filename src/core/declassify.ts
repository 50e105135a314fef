import { type RegexProblem, tryCompileRegex } from './regex.ts';

/**
 * Narrow schemas that cannot carry instructions: a value that validates against one may lose its A label.
 * Free text never declassifies.
 */
export type NarrowSchema =
  | { type: 'boolean' }
  | { type: 'number'; min?: number; max?: number; integer?: boolean }
  | { type: 'enum'; values: readonly (string | number | boolean)[] }
  | { type: 'date' }
  | { type: 'id'; pattern: string; maxLength: number };

/** Longest id a schema may admit; longer strings can hold a sentence. */
export const MAX_ID_LENGTH = 64;
/** Longest enum member accepted as a string. */
export const MAX_ENUM_LENGTH = 64;

/** The outcome of a declassification. */
export type DeclassifyOutcome = { ok: true; value: unknown } | { ok: false; message: string };

const ID_CHARS = /^[A-Za-z0-9._:-]+$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

type CompiledPattern = ReturnType<typeof tryCompileRegex>;

const idPatterns = new Map<string, CompiledPattern>();

/** An id pattern compiled once for the linear engine, or why it cannot be; the policy's patterns are few. */
function idPattern(pattern: string): CompiledPattern {
  let compiled = idPatterns.get(pattern);
  if (compiled === undefined) {
    compiled = tryCompileRegex(pattern);
    // Patterns come from policies, not from values; the bound only keeps a caller that builds schemas in a loop small.
    if (idPatterns.size >= 256) idPatterns.clear();
    idPatterns.set(pattern, compiled);
  }
  return compiled;
}

/**
 * Why an id pattern cannot be used (with the regex problem's code, for policy validation), or undefined. The pattern
 * is compiled here once and kept for declassifying with it.
 */
export function idPatternProblem(pattern: string): RegexProblem | undefined {
  const compiled = idPattern(pattern);
  return 'problem' in compiled ? compiled.problem : undefined;
}

/** Checks that a schema is narrow enough to declassify with; returns the problem, or undefined. */
export function narrowSchemaProblem(schema: NarrowSchema): string | undefined {
  switch (schema.type) {
    case 'boolean':
    case 'date':
      return undefined;
    case 'number':
      return schema.min !== undefined && schema.max !== undefined && schema.min > schema.max
        ? 'min is above max'
        : undefined;
    case 'enum':
      if (schema.values.length === 0) return 'an enum needs at least one value';
      return schema.values.some((v) => typeof v === 'string' && (v.length > MAX_ENUM_LENGTH || !ID_CHARS.test(v)))
        ? `enum strings must be identifiers of at most ${MAX_ENUM_LENGTH} characters`
        : undefined;
    case 'id': {
      if (!Number.isInteger(schema.maxLength) || schema.maxLength < 1 || schema.maxLength > MAX_ID_LENGTH) {
        return `an id's maxLength must be an integer from 1 to ${MAX_ID_LENGTH}`;
      }
      const problem = idPatternProblem(schema.pattern);
      return problem && `id pattern: ${problem.message}`;
    }
    default:
      return `unknown schema type \`${(schema as { type: unknown }).type}\``;
  }
}

/** Validates a value against a narrow schema; only a value that passes may drop its A label. */
export function declassify(value: unknown, schema: NarrowSchema): DeclassifyOutcome {
  const problem = narrowSchemaProblem(schema);
  if (problem !== undefined) return { ok: false, message: `schema is not narrow: ${problem}` };
  const fail = (what: string): DeclassifyOutcome => ({ ok: false, message: `value is not ${what}` });
  switch (schema.type) {
    case 'boolean':
      return typeof value === 'boolean' ? { ok: true, value } : fail('a boolean');
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail('a finite number');
      if (schema.integer && !Number.isInteger(value)) return fail('an integer');
      if (schema.min !== undefined && value < schema.min) return fail(`at least ${schema.min}`);
      if (schema.max !== undefined && value > schema.max) return fail(`at most ${schema.max}`);
      return { ok: true, value };
    }
    case 'enum':
      return schema.values.includes(value as string | number | boolean)
        ? { ok: true, value }
        : fail('one of the enum values');
    case 'date': {
      const match = typeof value === 'string' ? ISO_DATE.exec(value) : null;
      if (!match) return fail('a date (YYYY-MM-DD)');
      const date = new Date(`${value}T00:00:00Z`);
      return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value as string)
        ? { ok: true, value }
        : fail('a real calendar date');
    }
    case 'id': {
      if (typeof value !== 'string' || value.length === 0 || value.length > schema.maxLength) {
        return fail(`an id of 1 to ${schema.maxLength} characters`);
      }
      if (!ID_CHARS.test(value)) return fail('an id (letters, digits, `.`, `_`, `:`, `-`)');
      const pattern = idPattern(schema.pattern);
      return 'regex' in pattern && pattern.regex.test(value) ? { ok: true, value } : fail('an id matching the pattern');
    }
  }
}
