import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const coreDir = join(import.meta.dirname, '..', '..', 'src', 'core');
// The only outside code the core may use: a pure, audited hash library and a pure JavaScript regex parser.
const ALLOWED_PACKAGES = ['@noble/hashes/sha2.js', '@noble/hashes/utils.js', '@eslint-community/regexpp'];
const FORBIDDEN_GLOBALS = /\b(process|require|fetch|setTimeout|setInterval|Date\.now|Math\.random|crypto\.)\b/;

describe('pure core (CONVENTIONS rule 1)', () => {
  const files = readdirSync(coreDir).filter((f) => f.endsWith('.ts'));

  it('has modules to check', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  for (const file of files) {
    it(`${file} imports only core modules and pure packages, and no I/O, clock or randomness`, () => {
      const source = readFileSync(join(coreDir, file), 'utf8');
      const imports = [...source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);
      for (const specifier of imports) {
        const ok = (specifier.startsWith('./') && !specifier.includes('..')) || ALLOWED_PACKAGES.includes(specifier);
        expect(ok, `${file} imports \`${specifier}\``).toBe(true);
      }
      const code = source.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
      expect(code).not.toMatch(FORBIDDEN_GLOBALS);
    });
  }
});
