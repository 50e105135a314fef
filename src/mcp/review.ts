import type { GatewayConfig } from './config.ts';
import {
  definitionChanges,
  type FieldChange,
  instructionsHash,
  offeredByKind,
  PIN_SECTION,
  type PinFile,
  type PinKind,
  type PinStatus,
  pinHash,
  pinKey,
  pinnedView,
  pinStatus,
  readPins,
  reviewName,
  writePins,
} from './pins.ts';
import { type GatewayLog, Upstream } from './upstream.ts';

/** How one listed definition (or one server's instructions) stands against the pin file. */
export interface DefinitionReview {
  /** What the CLI calls it: a namespaced tool name, `prompt <key>`, `resource <key>`, `template <key>`, or `<upstream> instructions`. */
  name: string;
  kind: PinKind | 'instructions';
  /** Its key in the pin file's section of its kind (the upstream's name for instructions). */
  key: string;
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
        key,
        status: pinStatus(pin, hash),
        changes: definitionChanges({ instructions: pin?.definition }, { instructions: text }),
        hash,
        definition: text ?? null,
      });
    }
    for (const [kind, definitions] of offeredByKind(upstream.offer)) {
      for (const offered of definitions) {
        const key = pinKey(kind, upstream.name, offered);
        const definition = pinnedView(kind, offered as unknown as Record<string, unknown>);
        const hash = pinHash(kind, definition);
        const pin = pins[PIN_SECTION[kind]][key];
        seen.add(reviewName(kind, key));
        out.push({
          name: reviewName(kind, key),
          kind,
          key,
          status: pinStatus(pin, hash),
          changes: definitionChanges(pin?.definition, definition),
          hash,
          definition,
        });
      }
    }
  }
  for (const kind of Object.keys(PIN_SECTION) as PinKind[]) {
    for (const [key, pin] of Object.entries(pins[PIN_SECTION[kind]])) {
      const name = reviewName(kind, key);
      if (seen.has(name)) continue;
      out.push({ name, kind, key, status: 'removed', changes: [], hash: pin.hash, definition: pin.definition });
    }
  }
  return out;
}

/** Whether `names` name a review: by its name, or a server's instructions by the server's name. */
function named(review: DefinitionReview, names: readonly string[]): boolean {
  return names.includes(review.name) || (review.kind === 'instructions' && names.includes(review.key));
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
  const chosen = names.length === 0 ? pending : pending.filter((r) => named(r, names));
  const unknown = names.filter((n) => !reviews.some((r) => named(r, [n])));
  if (unknown.length > 0) {
    throw new Error(`no tool, prompt, resource, template or server named ${unknown.map((n) => `\`${n}\``).join(', ')}`);
  }
  const pins = await readPins(config.pinsFile);
  const approvedAt = (options.now ?? (() => new Date()))().toISOString();
  for (const review of chosen) {
    const pin = { hash: review.hash, definition: review.definition, approvedAt };
    if (review.kind === 'instructions') pins.instructions[review.key] = pin;
    else pins[PIN_SECTION[review.kind]][review.key] = pin;
  }
  if (chosen.length > 0) await writePins(config.pinsFile, pins);
  return chosen.map((r) => r.name);
}
