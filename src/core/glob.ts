/**
 * Compiles a glob to an anchored regular expression: `*` matches any run of characters, `?` one character,
 * everything else matches itself.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    // `-` is not escaped: `\-` outside a class is a syntax error with the `u` flag.
    else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}

/** Whether a pattern contains glob wildcards. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}
