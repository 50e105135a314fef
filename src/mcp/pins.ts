import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { replaceFile } from '../atomic-file.ts';
import { canonicalHash } from '../core/canonical.ts';
import { ConfigError } from '../errors.ts';

/** The parts of a tool definition that are pinned: everything a model reads or a client decides on. */
export interface PinnedDefinition {
  name: string;
  title?: unknown;
  description?: unknown;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
  execution?: unknown;
  icons?: unknown;
  _meta?: unknown;
}

// INVARIANT: tools/list passes on only these fields (Gateway.listTools), so nothing a client sees of a tool can change
// after approval (test/mcp/attacks.test.ts "`_meta` or icons changed"). Absent fields stay out of the hash: adding a field
// here keeps the pins of tools that do not carry it.
const PINNED_FIELDS = [
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
  'execution',
  'icons',
  '_meta',
] as const;

/** One approved definition. */
export interface Pin {
  hash: string;
  definition: unknown;
  approvedAt: string;
}

/** Approved tool definitions (by namespaced name) and server instructions (by upstream). */
export interface PinFile {
  version: 1;
  tools: Record<string, Pin>;
  instructions: Record<string, Pin>;
}

/** Where a definition stands against its pin. */
export type PinStatus = 'approved' | 'new' | 'changed';

/** The pinned view of a tool definition (unknown fields are left out; absent fields stay absent). */
export function pinnedDefinition(tool: Record<string, unknown>): PinnedDefinition {
  const out: PinnedDefinition = { name: String(tool.name) };
  for (const key of PINNED_FIELDS) {
    if (tool[key] !== undefined) out[key] = tool[key];
  }
  return out;
}

/** Hash of a tool definition, domain-separated from other hashes. */
export function toolHash(definition: PinnedDefinition): string {
  return canonicalHash(['ruleoftwo/tool/v1', definition]);
}

/** Hash of a server's instructions (absent instructions hash too, so their appearance is a change). */
export function instructionsHash(instructions: string | undefined): string {
  return canonicalHash(['ruleoftwo/instructions/v1', instructions ?? null]);
}

/** Compares a hash with its pin. */
export function pinStatus(pin: Pin | undefined, hash: string): PinStatus {
  if (!pin) return 'new';
  return pin.hash === hash ? 'approved' : 'changed';
}

/** A pin file with nothing approved. */
export function emptyPins(): PinFile {
  return { version: 1, tools: Object.create(null), instructions: Object.create(null) };
}

/** Reads a pin file; a missing file is an empty one, a damaged file is a configuration error. */
export async function readPins(file: string): Promise<PinFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyPins();
    throw new ConfigError(`cannot read pin file \`${file}\`: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`pin file \`${file}\` is not valid JSON`);
  }
  const pins = value as Partial<PinFile> | null;
  if (pins === null || typeof pins !== 'object' || pins.version !== 1 || typeof pins.tools !== 'object') {
    throw new ConfigError(`pin file \`${file}\` is not a version 1 pin file`);
  }
  // Null-prototype maps: a tool called `__proto__` must not reach Object.prototype.
  const out = emptyPins();
  Object.assign(out.tools, pins.tools);
  Object.assign(out.instructions, pins.instructions ?? {});
  return out;
}

/** Writes a pin file atomically (see {@link replaceFile}). */
export async function writePins(file: string, pins: PinFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await replaceFile(file, `${JSON.stringify(pins, null, 2)}\n`);
}

/** One changed field between a pinned and a current definition. */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

/** The fields that differ between two definitions, by canonical value. */
export function definitionChanges(before: unknown, after: unknown): FieldChange[] {
  const a = (before ?? {}) as Record<string, unknown>;
  const b = (after ?? {}) as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return fields
    .filter((field) => canonicalHash(a[field] ?? null) !== canonicalHash(b[field] ?? null))
    .map((field) => ({ field, before: a[field], after: b[field] }));
}
