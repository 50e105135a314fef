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
  const segments = glob.split('*').map((segment) => {
    let source = '';
    for (const ch of segment) {
      if (ch === '?') source += one;
      // `-` is not escaped: `\-` outside a class is a syntax error with the `u` flag.
      else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
    }
    return source;
  });
  const first = segments.shift() ?? '';
  const last = segments.pop();
  if (last === undefined) return new RegExp(`^${first}$`, 'u');
  // INVARIANT: matching takes time linear in the value per segment, never polynomial in the number of `*`
  // (test/core/glob-backtracking.test.ts). A segment between two stars is taken at its leftmost place, atomically
  // (a lookahead captured and matched by reference is never backtracked into): leftmost is always right for a glob,
  // since a later place leaves less room; for `item`, a segment holding a separator has only one possible place.
  const middle = segments.map((segment, i) => `(?=(${one}*?${segment}))\\${i + 1}`).join('');
  return new RegExp(`^${first}${middle}${one}*${last}$`, 'u');
}

/** Whether a pattern contains glob wildcards. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}
