import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { replaceFile } from '../atomic-file.ts';
import { canonicalHash } from '../core/canonical.ts';
import { ConfigError } from '../errors.ts';
import { isRecord } from '../is-record.ts';
import { readTextFile } from '../text-file.ts';
import { namespaced } from './labels.ts';
import type { UpstreamOffer } from './upstream.ts';

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

/** The kinds of listed definitions the gateway pins, each in its own section of the pin file. */
export type PinKind = 'tool' | 'resource' | 'resourceTemplate' | 'prompt';

// INVARIANT: each listing passes on only these fields (Gateway.listTools, listResources, listResourceTemplates,
// listPrompts), so nothing a client sees of a listed definition can change after approval
// (test/mcp/attacks.test.ts "`_meta` or icons changed", test/mcp/list-pins.test.ts "only pinned fields"). Absent
// fields stay out of the hash: adding a field here keeps the pins of definitions that do not carry it. A resource's
// `size` is left out: it changes with the content and tells a model nothing it needs to read it.
const PINNED_FIELDS: Record<PinKind, readonly string[]> = {
  tool: ['title', 'description', 'inputSchema', 'outputSchema', 'annotations', 'execution', 'icons', '_meta'],
  resource: ['uri', 'title', 'description', 'mimeType', 'annotations', 'icons', '_meta'],
  resourceTemplate: ['uriTemplate', 'title', 'description', 'mimeType', 'annotations', 'icons', '_meta'],
  prompt: ['title', 'description', 'arguments', 'icons', '_meta'],
};

/** Hash domains; the tool domain predates the others and must not change, or every tool pin would break. */
const HASH_DOMAIN: Record<PinKind, string> = {
  tool: 'ruleoftwo/tool/v1',
  resource: 'ruleoftwo/resource/v1',
  resourceTemplate: 'ruleoftwo/resource-template/v1',
  prompt: 'ruleoftwo/prompt/v1',
};

/** The pinned view of a listed definition: its name and the kind's pinned fields (absent fields stay absent). */
export function pinnedView(kind: PinKind, definition: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: String(definition.name) };
  for (const key of PINNED_FIELDS[kind]) {
    if (definition[key] !== undefined) out[key] = definition[key];
  }
  return out;
}

/** Hash of a pinned view, domain-separated by kind and from other hashes. */
export function pinHash(kind: PinKind, view: Record<string, unknown>): string {
  return canonicalHash([HASH_DOMAIN[kind], view]);
}

/** The pinned view of a tool definition (unknown fields are left out; absent fields stay absent). */
export function pinnedDefinition(tool: Record<string, unknown>): PinnedDefinition {
  return pinnedView('tool', tool) as unknown as PinnedDefinition;
}

/** Hash of a tool definition, domain-separated from other hashes. */
export function toolHash(definition: PinnedDefinition): string {
  return pinHash('tool', definition as unknown as Record<string, unknown>);
}

/** One approved definition. */
export interface Pin {
  hash: string;
  definition: unknown;
  approvedAt: string;
}

/**
 * Approved definitions: tools, prompts and resource templates by namespaced name, resources by namespaced URI
 * (`<upstream>__<uri>`), server instructions by upstream. A file written before resources and prompts were pinned has
 * only `tools` and `instructions`; it reads with the other sections empty.
 */
export interface PinFile {
  version: 1;
  tools: Record<string, Pin>;
  instructions: Record<string, Pin>;
  resources: Record<string, Pin>;
  resourceTemplates: Record<string, Pin>;
  prompts: Record<string, Pin>;
}

/** The pin file section of each kind. */
export const PIN_SECTION = {
  tool: 'tools',
  resource: 'resources',
  resourceTemplate: 'resourceTemplates',
  prompt: 'prompts',
} as const satisfies Record<PinKind, keyof PinFile>;

/** Where a definition stands against its pin. */
export type PinStatus = 'approved' | 'new' | 'changed';

/** Hash of a server's instructions (absent instructions hash too, so their appearance is a change). */
export function instructionsHash(instructions: string | undefined): string {
  return canonicalHash(['ruleoftwo/instructions/v1', instructions ?? null]);
}

/** Compares a hash with its pin. */
export function pinStatus(pin: Pin | undefined, hash: string): PinStatus {
  if (!pin) return 'new';
  return pin.hash === hash ? 'approved' : 'changed';
}

/** The sections of a pin file, in the order it is written; a record, so that adding one to `PinFile` fails to compile. */
const SECTIONS: Record<Exclude<keyof PinFile, 'version'>, true> = {
  tools: true,
  instructions: true,
  resources: true,
  resourceTemplates: true,
  prompts: true,
};
const SECTION_NAMES = Object.keys(SECTIONS) as (keyof typeof SECTIONS)[];

/** A pin file with nothing approved. */
export function emptyPins(): PinFile {
  // Null-prototype maps: a tool called `__proto__` must not reach Object.prototype.
  const pins = { version: 1 } as PinFile;
  for (const section of SECTION_NAMES) pins[section] = Object.create(null);
  return pins;
}

/** Reads a pin file; a missing file is an empty one, a damaged file is a configuration error. */
export async function readPins(file: string): Promise<PinFile> {
  let text: string;
  try {
    text = await readTextFile(file);
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
  if (pins === null || typeof pins !== 'object' || pins.version !== 1 || !isSection(pins.tools)) {
    throw new ConfigError(`pin file \`${file}\` is not a version 1 pin file`);
  }
  const out = emptyPins();
  for (const section of SECTION_NAMES) {
    const pinned = pins[section] ?? {};
    if (!isSection(pinned)) throw new ConfigError(`pin file \`${file}\`: \`${section}\` is not an object`);
    Object.assign(out[section], pinned);
  }
  return out;
}

function isSection(value: unknown): value is Record<string, Pin> {
  return isRecord(value);
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

/** The pin key of a listed definition: its namespaced name, or for a resource its namespaced URI. */
export function pinKey(kind: PinKind, upstream: string, definition: { name: string; uri?: string }): string {
  return namespaced(upstream, kind === 'resource' ? String(definition.uri) : definition.name);
}

const KIND_WORD: Record<PinKind, string> = {
  tool: 'tool',
  resource: 'resource',
  resourceTemplate: 'template',
  prompt: 'prompt',
};

/**
 * How `ruleoftwo tools diff|approve` name a definition: a tool by its key (`fs__read_file`), anything else by its kind
 * and key (`prompt ev__greet`, `resource ev__demo://a`, `template ev__files`), since tools and prompts may share names.
 */
export function reviewName(kind: PinKind, key: string): string {
  return kind === 'tool' ? key : `${KIND_WORD[kind]} ${key}`;
}

/** Why a definition is quarantined, if it is: its own pin status, else changed instructions of its upstream. */
export function quarantineReason(status: PinStatus, changedInstructionsOf: string | undefined): string | undefined {
  if (status !== 'approved') return `its definition is ${status === 'new' ? 'new' : 'changed since approval'}`;
  if (changedInstructionsOf !== undefined)
    return `the instructions of \`${changedInstructionsOf}\` changed since approval`;
  return undefined;
}

/** The definitions of each pinned kind in an upstream's offer, in listing order. */
export function offeredByKind(offer: UpstreamOffer): [PinKind, readonly { name: string; uri?: string }[]][] {
  return [
    ['tool', offer.tools],
    ['resource', offer.resources],
    ['resourceTemplate', offer.resourceTemplates],
    ['prompt', offer.prompts],
  ];
}
