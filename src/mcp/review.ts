import type { GatewayConfig } from './config.ts';
import { namespaced } from './labels.ts';
import {
  definitionChanges,
  type FieldChange,
  instructionsHash,
  type PinFile,
  type PinStatus,
  pinnedDefinition,
  pinStatus,
  readPins,
  toolHash,
  writePins,
} from './pins.ts';
import { type GatewayLog, Upstream } from './upstream.ts';

/** How one tool definition (or one server's instructions) stands against the pin file. */
export interface DefinitionReview {
  /** Namespaced tool name, or `<upstream> instructions`. */
  name: string;
  kind: 'tool' | 'instructions';
  status: PinStatus | 'removed';
  changes: FieldChange[];
  hash: string;
  definition: unknown;
}

/** Connects to every upstream, lists what it offers now and compares it with the pins. */
export async function reviewDefinitions(
  config: GatewayConfig,
  log: GatewayLog = () => {},
): Promise<DefinitionReview[]> {
  const pins = await readPins(config.pinsFile);
  const upstreams = config.upstreams.map((u) => new Upstream(u, log));
  try {
    await Promise.all(upstreams.map((u) => u.connect()));
    return compare(upstreams, pins);
  } finally {
    await Promise.all(upstreams.map((u) => u.close()));
  }
}

function compare(upstreams: Upstream[], pins: PinFile): DefinitionReview[] {
  const out: DefinitionReview[] = [];
  const seen = new Set<string>();
  for (const upstream of upstreams) {
    const text = upstream.offer.instructions;
    const key = upstream.name;
    const hash = instructionsHash(text);
    const pin = pins.instructions[key];
    if (text !== undefined || pin !== undefined) {
      out.push({
        name: `${key} instructions`,
        kind: 'instructions',
        status: pinStatus(pin, hash),
        changes: definitionChanges({ instructions: pin?.definition }, { instructions: text }),
        hash,
        definition: text ?? null,
      });
    }
    for (const tool of upstream.offer.tools) {
      const name = namespaced(upstream.name, tool.name);
      const definition = pinnedDefinition(tool as unknown as Record<string, unknown>);
      const toolPin = pins.tools[name];
      seen.add(name);
      out.push({
        name,
        kind: 'tool',
        status: pinStatus(toolPin, toolHash(definition)),
        changes: definitionChanges(toolPin?.definition, definition),
        hash: toolHash(definition),
        definition,
      });
    }
  }
  for (const [name, pin] of Object.entries(pins.tools)) {
    if (seen.has(name)) continue;
    out.push({ name, kind: 'tool', status: 'removed', changes: [], hash: pin.hash, definition: pin.definition });
  }
  return out;
}

/**
 * Approves the named definitions (all pending ones when `names` is empty): their current hashes go into the pin file.
 * Returns the names approved; an unknown name is an error, so a typo approves nothing.
 */
export async function approveDefinitions(
  config: GatewayConfig,
  names: readonly string[],
  options: { log?: GatewayLog; now?: () => Date } = {},
): Promise<string[]> {
  const reviews = await reviewDefinitions(config, options.log);
  const pending = reviews.filter((r) => r.status === 'new' || r.status === 'changed');
  const chosen =
    names.length === 0
      ? pending
      : pending.filter((r) => names.includes(r.name) || names.includes(r.name.replace(/ instructions$/, '')));
  const unknown = names.filter((n) => !reviews.some((r) => r.name === n || r.name === `${n} instructions`));
  if (unknown.length > 0) throw new Error(`no tool or server named ${unknown.map((n) => `\`${n}\``).join(', ')}`);
  const pins = await readPins(config.pinsFile);
  const approvedAt = (options.now ?? (() => new Date()))().toISOString();
  for (const review of chosen) {
    const pin = { hash: review.hash, definition: review.definition, approvedAt };
    if (review.kind === 'tool') pins.tools[review.name] = pin;
    else pins.instructions[review.name.replace(/ instructions$/, '')] = pin;
  }
  if (chosen.length > 0) await writePins(config.pinsFile, pins);
  return chosen.map((r) => r.name);
}
