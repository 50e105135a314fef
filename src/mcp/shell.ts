/** Quotes a word for a shell command line when it needs it (a path, a definition name with spaces). */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
