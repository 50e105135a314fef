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
 * What a wildcard in the host of a URL-shaped allow pattern matches: an item character that is not `/`, `\`, `?` or
 * `#`, so `https://*.airline.test/*` never matches `https://evil.test/?.airline.test/` (a URL on evil.test).
 */
const HOST_WILDCARD = '[^@,;\\p{Cc}\\u2028\\u2029/\\\\?#]';

/** A glob that starts as a URL does: a scheme (wildcards allowed) and `://`. */
const URL_GLOB = /^[A-Za-z0-9+.*?-]+:\/\//;

/**
 * Where the host of a URL-shaped glob ends (its first `/`, `\` or `#` after `://`); 0 for a glob that is not one.
 * A glob `?` is a wildcard, not the start of a query.
 */
function hostEnd(glob: string): number {
  const scheme = URL_GLOB.exec(glob)?.[0];
  if (scheme === undefined) return 0;
  const end = glob.slice(scheme.length).search(/[/\\#]/);
  return end === -1 ? glob.length : scheme.length + end;
}

/**
 * Compiles a glob to an anchored regular expression: `*` matches any run of characters, `?` one character (within
 * one item for {@link Wildcard} `item`, and within the host when in the scheme or host of a URL-shaped `item` glob),
 * everything else matches itself.
 */
export function globToRegExp(glob: string, wildcard: Wildcard = 'any'): RegExp {
  // INVARIANT: a wildcard in the scheme or host of a URL-shaped allow pattern stays in the host
  // (test/core/policy-semantics.test.ts "URL-shaped allow patterns").
  const host = wildcard === 'item' ? hostEnd(glob) : 0;
  const classAt = (index: number) => (index < host ? HOST_WILDCARD : WILDCARD[wildcard]);
  const stars: string[] = [];
  const segments: string[] = [];
  let source = '';
  let index = 0;
  for (const ch of glob) {
    if (ch === '*') {
      segments.push(source);
      stars.push(classAt(index));
      source = '';
    } else if (ch === '?') source += classAt(index);
    // `-` is not escaped: `\-` outside a class is a syntax error with the `u` flag.
    else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
    index += ch.length;
  }
  segments.push(source);
  const first = segments.shift() ?? '';
  const last = segments.pop();
  if (last === undefined) return new RegExp(`^${first}$`, 'u');
  // INVARIANT: matching takes time linear in the value per segment, never polynomial in the number of `*`
  // (test/core/glob-backtracking.test.ts). A segment between two stars is taken at its leftmost place, atomically
  // (a lookahead captured and matched by reference is never backtracked into): leftmost is always right for a glob,
  // since a later place leaves less room; for `item`, a segment holding a separator has only one possible place. A
  // host wildcard matches a subset of what a later wildcard does, so a later place leaves less room there too.
  const middle = segments.map((segment, i) => `(?=(${stars[i]}*?${segment}))\\${i + 1}`).join('');
  return new RegExp(`^${first}${middle}${stars[stars.length - 1]}*${last}$`, 'u');
}

/** Whether a pattern contains glob wildcards. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}
