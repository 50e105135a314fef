/**
 * How far a wildcard reaches. `any`: any character (tool names, paths, and deny patterns, where matching more is
 * safer). `item`: never an `@`, `,`, `;` or a control character (line breaks included), so an allow pattern such as
 * `*@example.com` matches one address and not `eve@evil.test, bob@example.com`, a string the tool reads as two.
 */
export type Wildcard = 'any' | 'item';

// INVARIANT: an allow pattern's wildcard never spans a second item of a list in one string
// (test/core/adversarial.test.ts "recipient allow-lists").
const WILDCARD: Record<Wildcard, string> = { any: '[\\s\\S]', item: '[^@,;\\p{Cc}\\u2028\\u2029]' };

/**
 * Compiles a glob to an anchored regular expression: `*` matches any run of characters, `?` one character (within
 * one item for {@link Wildcard} `item`), everything else matches itself.
 */
export function globToRegExp(glob: string, wildcard: Wildcard = 'any'): RegExp {
  const one = WILDCARD[wildcard];
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += `${one}*`;
    else if (ch === '?') source += one;
    // `-` is not escaped: `\-` outside a class is a syntax error with the `u` flag.
    else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}

/** Whether a pattern contains glob wildcards. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}
