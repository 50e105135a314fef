import type { PolicyDocument } from '../core/document.ts';
import { compilePolicy, type Policy } from '../core/policy.ts';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { readTextFile } from '../text-file.ts';
import { parseSource } from './source.ts';
import { validatePolicy } from './validate.ts';

/** The outcome of parsing policy text: the document, or every issue found. */
export type ParsedPolicy = { ok: true; document: PolicyDocument } | { ok: false; issues: ConfigIssue[] };

/** Parses and validates policy text (YAML or JSON). Never throws for bad input. */
export function parsePolicy(text: string): ParsedPolicy {
  const source = parseSource(text);
  if (source.issues.length > 0) return { ok: false, issues: source.issues };
  const validation = validatePolicy(source.value, source.lineOf);
  return validation.ok ? { ok: true, document: validation.document } : { ok: false, issues: validation.issues };
}

/** Compiles policy text, throwing a {@link ConfigError} that lists every issue. */
export function policyFromText(text: string, name = 'policy'): Policy {
  const parsed = parsePolicy(text);
  if (!parsed.ok) throw new ConfigError(`${name} has ${parsed.issues.length} issue(s)`, parsed.issues);
  return compilePolicy(parsed.document);
}

/** Reads, validates and compiles a policy file; a {@link ConfigError} lists every issue. */
export async function loadPolicy(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `policy file \`${file}\` not found`
        : `cannot read policy file \`${file}\`: ${(error as Error).message}`,
    );
  }
  return policyFromText(text, `policy file \`${file}\``);
}
