import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType,
  Tool,
} from '@modelcontextprotocol/client';
import { UriTemplate } from '@modelcontextprotocol/client';
import { formatEvidence } from '../approvals/format.ts';
import { canonicalHash } from '../core/canonical.ts';
import { errorDecision, type ToolCall } from '../core/decide.ts';
import type { ApprovalRequest, Decision, ReasonCode } from '../core/decision.ts';
import type { PolicyDocument } from '../core/document.ts';
import { formatLegs } from '../core/legs.ts';
import { nestsDeeperThan } from '../core/nesting.ts';
import { messageWithCauses } from '../errors.ts';
import { createGuard, type Guard } from '../guard/guard.ts';
import { isRecord } from '../is-record.ts';
import type { ApprovalReceipt, ApprovalStore, AuditLog, SessionStore } from '../store/types.ts';
import type { GatewayConfig } from './config.ts';
import {
  configuredPolicy,
  type LabelSource,
  LEGS_META_KEY,
  labelTools,
  namespaced,
  promptToolName,
  resourceToolName,
} from './labels.ts';
import {
  emptyPins,
  instructionsHash,
  PIN_SECTION,
  type PinFile,
  type PinKind,
  type PinStatus,
  pinHash,
  pinKey,
  pinnedView,
  pinStatus,
  quarantineReason,
  readPins,
  reviewName,
} from './pins.ts';
import { shellWord } from './shell.ts';
import { type GatewayLog, Upstream } from './upstream.ts';

/** Deepest upstream result answered: deeper nesting than any real result, well short of what overflows a writer. */
const MAX_RESULT_DEPTH = 1000;

/** How long a session seen without open approval requests skips the approval-store query. */
const NO_APPROVALS_TTL_MS = 1000;
/** Most sessions remembered as opened in this process. */
export const OPENED_MAX = 100_000;
/** Most sessions remembered without open approval requests. */
const NO_APPROVALS_MAX = 10_000;

/** The `_meta` key under which a result carries the gateway's decision. */
export const DECISION_META_KEY = 'dev.ruleoftwo/decision';

/** The stores the gateway's guard keeps its state in. */
export interface GatewayStores {
  sessions: SessionStore;
  approvals: ApprovalStore;
  audit: AuditLog;
}

/** A listed resource, resource template or prompt as the gateway offers it, with its pin status. */
interface CatalogEntry<T> {
  /** The pin key: namespaced name (`ev__greet`), or for a resource its namespaced URI (`ev__demo://a`). */
  key: string;
  upstream: Upstream;
  definition: T;
  hash: string;
  status: PinStatus;
  /** Why the entry is quarantined, when it is. */
  quarantine?: string;
  /** What clients see: the pinned fields, named by upstream. */
  listed: T;
}

/** A resource template as the gateway offers it, with the matcher that routes reads to its upstream. */
interface OfferedTemplate extends CatalogEntry<ResourceTemplateType> {
  matcher: UriTemplate;
}

/** The pin check of one listed definition. */
type Checked = Pick<CatalogEntry<unknown>, 'key' | 'hash' | 'status' | 'quarantine'> & {
  view: Record<string, unknown>;
};

/** A tool as the gateway offers it. */
export interface CatalogTool {
  /** Namespaced name (`fs__read_file`). */
  name: string;
  upstream: Upstream;
  definition: Tool;
  hash: string;
  status: PinStatus;
  /** Why the tool is quarantined, when it is. */
  quarantine?: string;
  source: LabelSource;
}

/** An error that crosses the wire as a JSON-RPC error with a stable code. */
export class GatewayError extends Error {
  readonly code: 'UNKNOWN_TOOL' | 'UNKNOWN_RESOURCE' | 'UNKNOWN_PROMPT' | 'UPSTREAM_ERROR' | 'INVALID_PARAMS';
  constructor(code: GatewayError['code'], message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** What became of a gated request: a result for the client, or an approval to obtain first. */
export type GatedOutcome<R> = { kind: 'result'; result: R } | { kind: 'ask'; request: ApprovalRequest };

/** Options of {@link Gateway.start}. */
export interface GatewayOptions {
  stores: GatewayStores;
  log?: GatewayLog;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** How an operator approves a pending request out of band, given its id (shown to the model). */
  approveCommand?: (requestId: string) => string;
}

/**
 * The transport-independent gateway: upstream connections, the tool catalog with pins and labels, and the guard
 * every request passes through. Downstream servers (stdio, HTTP) translate MCP requests into calls on it.
 */
export class Gateway {
  readonly config: GatewayConfig;
  readonly upstreams: Upstream[];
  readonly stores: GatewayStores;
  #guard: Guard;
  #catalog = new Map<string, CatalogTool>();
  /** Listed resources by URI; more than one entry when several upstreams (or one, twice) list the same URI. */
  #resources = new Map<string, CatalogEntry<Resource>[]>();
  #templates: OfferedTemplate[] = [];
  #prompts = new Map<string, CatalogEntry<Prompt>>();
  /** The listings, built with the catalog: what `resources/list`, `resources/templates/list`, `prompts/list` return. */
  #listed: { resources: Resource[]; templates: ResourceTemplateType[]; prompts: Prompt[] } = {
    resources: [],
    templates: [],
    prompts: [],
  };
  #pins: PinFile;
  /**
   * Pinned view and hash of each listed definition object. An upstream's offer is replaced, never mutated, when it
   * relists, so an entry holds as long as its object lives; a rebuild for another upstream or a pin reload reuses it.
   */
  #views = new WeakMap<object, { view: Record<string, unknown>; hash: string }>();
  #configured: PolicyDocument;
  #opened = new Set<string>();
  /** When a session was last seen to have no open approval request, so the store is not queried on every call. */
  #noApprovals = new Map<string, number>();
  readonly #log: GatewayLog;
  readonly #now: () => number;
  readonly #listeners = new Set<() => void>();
  readonly #approveCommand: ((requestId: string) => string) | undefined;

  private constructor(config: GatewayConfig, pins: PinFile, options: GatewayOptions) {
    this.config = config;
    this.stores = options.stores;
    this.#pins = pins;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#approveCommand = options.approveCommand;
    this.#configured = configuredPolicy(config.policy, config.upstreams);
    this.upstreams = config.upstreams.map((u) => new Upstream(u, this.#log));
    this.#guard = createGuard({
      policy: labelTools(this.#configured, [], config.upstreams).policy,
      ...this.stores,
      now: this.#now,
      onError: (error, where) => this.#log(`${where}: ${(error as Error).message}`),
    });
  }

  /** Connects every upstream and builds the catalog. An upstream that cannot start fails the start. */
  static async start(config: GatewayConfig, options: GatewayOptions): Promise<Gateway> {
    const pins = config.pinning === 'approve' ? await readPins(config.pinsFile) : emptyPins();
    const gateway = new Gateway(config, pins, options);
    try {
      await Promise.all(gateway.upstreams.map((u) => u.connect()));
    } catch (error) {
      await gateway.close();
      throw error;
    }
    for (const upstream of gateway.upstreams) {
      upstream.onChange = () => {
        gateway.rebuild();
        for (const listener of gateway.#listeners) listener();
      };
    }
    gateway.rebuild();
    return gateway;
  }

  /** The guard for the current tool labels. */
  get guard(): Guard {
    return this.#guard;
  }

  /** Every tool on offer, quarantined ones included. */
  get catalog(): ReadonlyMap<string, CatalogTool> {
    return this.#catalog;
  }

  /** Registers a callback for list changes; returns its removal. */
  onListChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Rebuilds catalog, pins status and labels from what upstreams offer now. */
  rebuild(pins: PinFile = this.#pins): void {
    this.#pins = pins;
    const catalog = new Map<string, CatalogTool>();
    const resources = new Map<string, CatalogEntry<Resource>[]>();
    const prompts = new Map<string, CatalogEntry<Prompt>>();
    const templates: OfferedTemplate[] = [];
    const offered = [];
    const pinning = this.config.pinning === 'approve';
    for (const upstream of this.upstreams) {
      const instructions = upstream.offer.instructions;
      const pinnedInstructions = pins.instructions[upstream.name];
      const instructionsChanged =
        pinning &&
        (instructions !== undefined || pinnedInstructions !== undefined) &&
        pinStatus(pinnedInstructions, instructionsHash(instructions)) !== 'approved';
      const check = (kind: PinKind, definition: { name: string; uri?: string }): Checked => {
        const key = pinKey(kind, upstream.name, definition);
        let pinned = this.#views.get(definition);
        if (!pinned) {
          const view = pinnedView(kind, definition as unknown as Record<string, unknown>);
          pinned = { view, hash: pinHash(kind, view) };
          this.#views.set(definition, pinned);
        }
        const { view, hash } = pinned;
        const status = pinning ? pinStatus(pins[PIN_SECTION[kind]][key], hash) : 'approved';
        const quarantine = quarantineReason(status, instructionsChanged ? upstream.name : undefined);
        return { key, view, hash, status, ...(quarantine === undefined ? {} : { quarantine }) };
      };
      for (const definition of upstream.offer.tools) {
        // Task-only tools cannot be called through a plain tools/call; offering them would only produce errors.
        if (definition.execution?.taskSupport === 'required') continue;
        const { key: name, hash, status, quarantine } = check('tool', definition);
        const entry: CatalogTool = { name, upstream, definition, hash, status, source: 'policy' };
        if (quarantine !== undefined) entry.quarantine = quarantine;
        catalog.set(name, entry);
        offered.push({ upstream: upstream.name, name: definition.name, annotations: definition.annotations ?? {} });
      }
      for (const definition of upstream.offer.resources) {
        const { view, ...checked } = check('resource', definition);
        const listed = { ...view, name: namespaced(upstream.name, definition.name) } as Resource;
        const entry = { ...checked, upstream, definition, listed };
        const same = resources.get(definition.uri);
        if (same) same.push(entry);
        else resources.set(definition.uri, [entry]);
      }
      for (const definition of upstream.offer.resourceTemplates) {
        const { view, ...checked } = check('resourceTemplate', definition);
        try {
          const matcher = new UriTemplate(definition.uriTemplate);
          const listed = { ...view, name: checked.key } as ResourceTemplateType;
          templates.push({ ...checked, upstream, definition, listed, matcher });
        } catch (error) {
          this.#log(`upstream \`${upstream.name}\`: resource template ignored: ${(error as Error).message}`);
        }
      }
      for (const definition of upstream.offer.prompts) {
        const { view, ...checked } = check('prompt', definition);
        prompts.set(checked.key, {
          ...checked,
          upstream,
          definition,
          listed: { ...view, name: checked.key } as Prompt,
        });
      }
    }
    const labelled = labelTools(this.#configured, offered, this.config.upstreams);
    for (const entry of catalog.values()) entry.source = labelled.sources.get(entry.name) ?? 'policy';
    this.#catalog = catalog;
    this.#resources = resources;
    this.#templates = templates;
    this.#prompts = prompts;
    // INVARIANT: quarantined resources, templates and prompts are left out of their listings, and a URI several
    // upstreams list is listed by none (test/mcp/list-pins.test.ts "quarantined until approved").
    this.#listed = {
      resources: [...resources.values()].flatMap((entries) =>
        entries.length === 1 && entries[0] && !entries[0].quarantine ? [entries[0].listed] : [],
      ),
      templates: templates.flatMap((t) => (t.quarantine ? [] : [t.listed])),
      prompts: [...prompts.values()].flatMap((p) => (p.quarantine ? [] : [p.listed])),
    };
    // A new guard would start with no provenance index: each session's would count as lost, and every argument of a
    // consequential call in a session holding data would then carry a value of unknown provenance, for good. So the
    // guard is kept when no label changed, and otherwise handed on with its sessions' memory.
    // INVARIANT: a relist or pin reload keeps every session's provenance index (test/mcp/results.test.ts "an upstream
    // list change").
    if (labelled.policy.version !== this.#guard.policy.version) this.#guard = this.#guard.withPolicy(labelled.policy);
  }

  /** Tools clients may see: approved ones, each with its legs in `_meta`. */
  listTools(): Tool[] {
    const out: Tool[] = [];
    for (const entry of this.#catalog.values()) {
      // INVARIANT: quarantined tools are hidden (test/mcp/pinning.test.ts "quarantines definitions").
      if (entry.quarantine) continue;
      const legs = this.#guard.policy.resolve(entry.name).legsFor({});
      const meta = {
        ...(entry.definition._meta ?? {}),
        [LEGS_META_KEY]: { call: formatLegs(legs.pre), output: formatLegs(legs.post), source: entry.source },
      };
      // Only what the pin covers reaches the client: a field the SDK adds one day cannot change after approval.
      const pinned = pinnedView('tool', entry.definition as unknown as Record<string, unknown>) as Tool;
      out.push({ ...pinned, name: entry.name, _meta: meta });
    }
    return out;
  }

  /** Resources clients may see: approved ones, with their pinned fields only, named by upstream. */
  listResources(): Resource[] {
    return [...this.#listed.resources];
  }

  /**
   * Resource templates clients may see: approved ones, with their pinned fields only, named by upstream; a read of a
   * URI one matches goes to its upstream.
   */
  listResourceTemplates(): ResourceTemplateType[] {
    return [...this.#listed.templates];
  }

  /** Prompts clients may see: approved ones, with their pinned fields only, namespaced. */
  listPrompts(): Prompt[] {
    return [...this.#listed.prompts];
  }

  /**
   * The listed resource or template a read of `uri` goes through: the resource listed with that URI, else the
   * templates that match it. Undefined when nothing does, or when it could go to more than one upstream.
   */
  #resourceRoute(uri: string): CatalogEntry<Resource> | OfferedTemplate | undefined {
    const listed = this.#resources.get(uri);
    if (listed) {
      // INVARIANT: a URI two upstreams list goes to neither, so one cannot shadow another's resource
      // (test/mcp/list-pins.test.ts "a URI two upstreams list").
      if (listed.some((entry) => entry.upstream !== listed[0]?.upstream)) return undefined;
      return listed.find((entry) => entry.quarantine) ?? listed[0];
    }
    const matching = this.#templates.filter((t) => t.matcher.match(uri) !== null);
    // INVARIANT: a URI two upstreams' templates claim goes to neither (test/mcp/e2e.test.ts "resource templates").
    if (new Set(matching.map((t) => t.upstream)).size !== 1) return undefined;
    // Through an approved template when one matches; a URI that only quarantined templates match is refused.
    return matching.find((t) => !t.quarantine) ?? matching[0];
  }

  /** Opens a Rule-of-Two session (idempotent). */
  async openSession(sessionId: string): Promise<void> {
    if (this.#opened.has(sessionId)) return;
    await this.#guard.session(sessionId);
    // A cache, not state: reopening a session is idempotent, so dropping it at a bound only costs a store read, and a
    // client naming millions of sessions cannot grow the gateway without limit.
    // INVARIANT: a session reopened after the cache was cleared keeps the legs it held: the store creates only a
    // session it does not hold, and no store forgets one (test/mcp/opened-cache.test.ts).
    if (this.#opened.size >= OPENED_MAX) this.#opened.clear();
    this.#opened.add(sessionId);
  }

  /** Forgets that a session was opened in this process (its state stays in the store). */
  forgetSession(sessionId: string): void {
    this.#opened.delete(sessionId);
    this.#noApprovals.delete(sessionId);
  }

  /** Decides and, when allowed, runs a tool call. `receipt` is an approval obtained for this exact call. */
  async callTool(
    sessionId: string,
    name: string,
    args: Record<string, unknown> | undefined,
    options: { receipt?: ApprovalReceipt; callId?: string; signal?: AbortSignal } = {},
  ): Promise<GatedOutcome<CallToolResult>> {
    const call = { id: options.callId ?? crypto.randomUUID(), tool: name, args: args ?? {} };
    const entry = this.#catalog.get(name);
    if (!entry) {
      const message = `unknown tool \`${name}\``;
      await this.#refuse(sessionId, call, 'unknown_tool', message);
      throw new GatewayError('UNKNOWN_TOOL', message);
    }
    if (entry.quarantine) return this.#quarantined(sessionId, call, 'tool', name, entry.quarantine);
    // INVARIANT: under author lineage a structured result reaches the client with its text mirror rebuilt from what
    // lineage judged, never the upstream's own, unjudged copy (test/mcp/results.test.ts "the content the model reads").
    const judged = this.#guard.policy.resolve(name).lineage !== undefined;
    const outcome = await this.#gated(
      sessionId,
      call,
      options.receipt,
      async (signal) => {
        // A reconnect (after a crash) relists the upstream; the call must still be to the definition decided on.
        if (!entry.upstream.connected) await entry.upstream.connect();
        const current = this.#catalog.get(name);
        if (current?.hash !== entry.hash || current.quarantine) {
          // INVARIANT: a definition that changed across a reconnect is not called (test/mcp/robustness.test.ts
          // "definitions that changed across a crash").
          throw new Error(`the definition of \`${name}\` changed when its upstream reconnected`);
        }
        const result = await entry.upstream.callTool(entry.definition.name, args, signal);
        return judged ? withoutMirror(result) : result;
      },
      options.signal,
    );
    return judged ? withMirror(outcome, name) : outcome;
  }

  /** Decides and, when allowed, reads a resource; its content counts as the upstream's resource label (A by default). */
  async readResource(
    sessionId: string,
    uri: string,
    options: { receipt?: ApprovalReceipt; signal?: AbortSignal } = {},
  ): Promise<GatedOutcome<ReadResourceResult | CallToolResult>> {
    const route = this.#resourceRoute(uri);
    if (!route) {
      const message = `unknown resource \`${uri}\``;
      await this.#refuse(
        sessionId,
        { id: crypto.randomUUID(), tool: 'resources/read', args: { uri } },
        'unknown_tool',
        message,
      );
      throw new GatewayError('UNKNOWN_RESOURCE', message);
    }
    const { upstream } = route;
    const call = { id: crypto.randomUUID(), tool: resourceToolName(upstream.name), args: { uri } };
    if (route.quarantine) {
      const kind = 'matcher' in route ? 'resourceTemplate' : 'resource';
      return this.#quarantined(sessionId, call, kind, route.key, route.quarantine);
    }
    return this.#gated(
      sessionId,
      call,
      options.receipt,
      async (signal) => {
        if (!upstream.connected) await upstream.connect();
        const current = this.#resourceRoute(uri);
        if (current?.upstream !== upstream || current.hash !== route.hash || current.quarantine) {
          // INVARIANT: a read through a listing that changed across a reconnect is not sent (test/mcp/attacks.test.ts
          // "still being listed").
          throw new Error(`the listing of \`${uri}\` changed when its upstream reconnected`);
        }
        return upstream.readResource(uri, signal);
      },
      options.signal,
    );
  }

  /** Decides and, when allowed, gets a prompt; its messages count as the upstream's prompt label (A by default). */
  async getPrompt(
    sessionId: string,
    name: string,
    args: Record<string, string> | undefined,
    options: { receipt?: ApprovalReceipt; signal?: AbortSignal } = {},
  ): Promise<GatedOutcome<GetPromptResult | CallToolResult>> {
    const entry = this.#prompts.get(name);
    if (!entry) {
      const message = `unknown prompt \`${name}\``;
      const call = { id: crypto.randomUUID(), tool: 'prompts/get', args: { name, arguments: args ?? {} } };
      await this.#refuse(sessionId, call, 'unknown_tool', message);
      throw new GatewayError('UNKNOWN_PROMPT', message);
    }
    const { upstream } = entry;
    const call = {
      id: crypto.randomUUID(),
      tool: promptToolName(upstream.name),
      args: { name, arguments: args ?? {} },
    };
    if (entry.quarantine) return this.#quarantined(sessionId, call, 'prompt', name, entry.quarantine);
    return this.#gated(
      sessionId,
      call,
      options.receipt,
      async (signal) => {
        if (!upstream.connected) await upstream.connect();
        const current = this.#prompts.get(name);
        if (current?.hash !== entry.hash || current.quarantine) {
          // INVARIANT: a prompt whose definition changed across a reconnect is not got (test/mcp/attacks.test.ts
          // "still being listed").
          throw new Error(`the definition of prompt \`${name}\` changed when its upstream reconnected`);
        }
        return upstream.getPrompt(entry.definition.name, args, signal);
      },
      options.signal,
    );
  }

  /**
   * Refuses a request through a quarantined definition: audited as a `tool_quarantined` deny (resources and prompts
   * are decided as their upstream's pseudo-tools), with the commands that review and approve it.
   */
  async #quarantined(
    sessionId: string,
    call: ToolCall,
    kind: PinKind,
    key: string,
    quarantine: string,
  ): Promise<GatedOutcome<CallToolResult>> {
    const what = reviewName(kind, key);
    this.#log(`refused \`${what}\` in session \`${sessionId}\`: quarantined because ${quarantine}`);
    const why = `${kind === 'tool' ? 'it' : `\`${what}\``} is quarantined because ${quarantine}`;
    const decision = await this.#refuse(sessionId, call, 'tool_quarantined', why);
    const text = `ruleoftwo blocked \`${call.tool}\`: ${why}; an operator must review it with \`ruleoftwo tools diff\` and approve it with \`ruleoftwo tools approve ${shellWord(what)}\``;
    return { kind: 'result', result: blocked(text, decisionMeta(decision)) };
  }

  /**
   * Records a person's answer to an approval request and, when approved, decides and runs the call with the
   * single-use receipt. Declined, expired or already used → a blocked result.
   */
  async answer(
    sessionId: string,
    requestId: string,
    approved: boolean,
    by: string,
    retry: (receipt: ApprovalReceipt) => Promise<GatedOutcome<CallToolResult>>,
  ): Promise<CallToolResult> {
    const record = await this.stores.approvals.get(requestId);
    // INVARIANT: an answer only touches a request of the session it arrives in (test/mcp/approvals.test.ts
    // "another session's request").
    if (record?.request.sessionId !== sessionId) {
      return blocked(`ruleoftwo blocked the call: approval request \`${requestId}\` is not one of this session`, {
        effect: 'deny',
        reason: 'receipt_invalid',
      });
    }
    const receipt = await this.#guard.answer(requestId, { approved, by });
    if (!approved) {
      return blocked(
        `ruleoftwo blocked the call: a person declined approval request \`${requestId}\`; it was not run`,
        {
          effect: 'deny',
          reason: 'approval_denied',
        },
      );
    }
    if (!receipt) {
      return blocked(
        `ruleoftwo blocked the call: approval request \`${requestId}\` is expired, already used or unknown`,
        {
          effect: 'deny',
          reason: 'receipt_invalid',
        },
      );
    }
    const outcome = await retry(receipt);
    if (outcome.kind === 'result') return outcome.result;
    return blocked(`ruleoftwo blocked \`${outcome.request.tool}\`: the approval did not cover this call`, {
      effect: 'deny',
      reason: 'receipt_invalid',
    });
  }

  async #gated<R extends object>(
    sessionId: string,
    call: ToolCall,
    receipt: ApprovalReceipt | undefined,
    run: (signal?: AbortSignal) => Promise<R>,
    signal: AbortSignal | undefined,
  ): Promise<GatedOutcome<R | CallToolResult>> {
    // Both awaited only when they have work to do: a call in an open session without open approvals is the usual one.
    if (!this.#opened.has(sessionId)) await this.openSession(sessionId);
    const approval =
      receipt ?? (this.#approvalsMayBeOpen(sessionId) ? await this.#outOfBandReceipt(sessionId, call) : undefined);
    const decision = await this.#guard.check(sessionId, call, approval ? { receipt: approval } : {});
    if (decision.effect === 'ask' && decision.approval) {
      this.#noApprovals.delete(sessionId);
      return { kind: 'ask', request: decision.approval };
    }
    if (decision.effect !== 'allow') {
      return { kind: 'result', result: blocked(explainDecision(decision), decisionMeta(decision)) };
    }
    // INVARIANT: only an allowed decision reaches the upstream (test/mcp/e2e.test.ts "decline is not executed").
    let result: R;
    try {
      result = await run(signal);
      // INVARIANT: a result that could not be written to the client is an upstream failure, answered as one; it was
      // otherwise left unanswered (test/mcp/bad-input.test.ts "an upstream answering with a result nested").
      if (nestsDeeperThan(result, MAX_RESULT_DEPTH))
        throw new Error(`its result nests deeper than ${MAX_RESULT_DEPTH} levels`);
    } catch (error) {
      // The error text reaches the model like an output would, so what was reserved is committed.
      const message = messageWithCauses(error);
      await this.#guard.record(sessionId, call.id, { error: message });
      throw new GatewayError('UPSTREAM_ERROR', `upstream failed on \`${call.tool}\`: ${message}`);
    }
    const recorded = await this.#guard.record(sessionId, call.id, result);
    if (!recorded.ok) {
      // INVARIANT: an output the session and the audit log do not hold is withheld from the model
      // (test/mcp/model.test.ts "an output that cannot be recorded is withheld").
      this.#log(`could not record \`${call.tool}\` in session \`${sessionId}\`: ${recorded.message}`);
      const why = `\`${call.tool}\` ran, but ruleoftwo could not record its output (${recorded.message}), so it is withheld`;
      return { kind: 'result', result: blocked(why, decisionMeta(decision)) };
    }
    // Author lineage may have removed items by untrusted authors: the client gets what was recorded.
    // INVARIANT: the result's `_meta` is the recorded output's too, so an output lineage withheld does not bring the
    // upstream's `_meta` back (test/mcp/results.test.ts "a withheld output").
    const seen = recorded.output as R & { _meta?: unknown };
    const meta = {
      ...(isRecord(seen._meta) ? seen._meta : {}),
      [DECISION_META_KEY]: decisionMeta(decision, recorded.legsAfter),
    };
    return { kind: 'result', result: { ...seen, _meta: meta } };
  }

  /**
   * Writes a refusal made before the guard's decision (unknown or quarantined tool) to the audit log, as a deny
   * decision. The call is refused whether or not the log takes it.
   */
  async #refuse(sessionId: string, call: ToolCall, code: ReasonCode, message: string): Promise<Decision> {
    const state = await this.stores.sessions.get(sessionId).catch(() => undefined);
    const decision = { ...errorDecision(this.#guard.policy, state, call, code, message), sessionId };
    // INVARIANT: every refusal is audited (test/mcp/pinning.test.ts "refusals are audited").
    await this.stores.audit
      .append({ type: 'decision', at: this.#now(), decision })
      .catch((error: Error) => this.#log(`audit log failed for a refusal of \`${call.tool}\`: ${error.message}`));
    return decision;
  }

  /**
   * Whether the approval store must be asked for an out-of-band receipt. Skipping the query can only miss a receipt,
   * and a call without one is decided as if none existed: it asks again or is denied, never allowed. This process's
   * own asks clear the entry; a request another replica made is seen within NO_APPROVALS_TTL_MS, sooner than an
   * operator answers it.
   */
  #approvalsMayBeOpen(sessionId: string): boolean {
    const checked = this.#noApprovals.get(sessionId);
    return checked === undefined || this.#now() - checked >= NO_APPROVALS_TTL_MS;
  }

  /** An approved, unused request from the out-of-band channel for exactly this call in this session. */
  async #outOfBandReceipt(sessionId: string, call: ToolCall): Promise<ApprovalReceipt | undefined> {
    const now = this.#now();
    const records = await this.stores.approvals.list({ sessionId });
    // A request past its expiry can never be used, whatever its status says.
    const open = records.filter(
      (r) =>
        r.request.expiresAt >= now && (r.status === 'pending' || (r.status === 'approved' && r.usedAt === undefined)),
    );
    if (open.length === 0) {
      // A cache, not state: dropping it only costs queries.
      if (this.#noApprovals.size >= NO_APPROVALS_MAX) this.#noApprovals.clear();
      this.#noApprovals.set(sessionId, now);
      return undefined;
    }
    let wanted: string;
    try {
      wanted = canonicalHash(call.args ?? null);
    } catch {
      // Arguments canonical JSON cannot write (a non-finite number) match no request; the guard denies them, audited.
      return undefined;
    }
    for (const record of open) {
      const request = record.request;
      if (record.status !== 'approved' || request.tool !== call.tool) continue;
      if (canonicalHash(request.args ?? null) !== wanted) continue;
      return { requestId: request.id, hash: request.hash };
    }
    return undefined;
  }

  /** Pins to check definitions against (after `ruleoftwo tools approve`, reload with {@link Gateway.reloadPins}). */
  get pins(): PinFile {
    return this.#pins;
  }

  /** Explains a pending approval to the model, with this gateway's out-of-band channel if it has one. */
  explainPending(request: ApprovalRequest): string {
    return explainPendingApproval(request, this.#approveCommand?.(request.id));
  }

  /** Rereads the pin file and rebuilds the catalog. */
  async reloadPins(): Promise<void> {
    if (this.config.pinning !== 'approve') return;
    this.rebuild(await readPins(this.config.pinsFile));
    for (const listener of this.#listeners) listener();
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.#guard.close();
  }
}

/**
 * A structured result without its text blocks, which the spec asks to mirror `structuredContent` but which lineage,
 * judging only the items at its path, would pass on unjudged: outsiders' items it removed would still reach the model.
 */
function withoutMirror(result: CallToolResult): CallToolResult {
  return isRecord(result.structuredContent) ? { ...result, content: [] } : result;
}

/**
 * A result lineage judged, as the client gets it: a structured one with its text mirror made from the structured
 * content the session recorded; an output lineage withheld (`{withheld: why}`, no `content`) as a failure saying so.
 */
function withMirror(outcome: GatedOutcome<CallToolResult>, tool: string): GatedOutcome<CallToolResult> {
  if (outcome.kind !== 'result') return outcome;
  const result = outcome.result as CallToolResult & { withheld?: unknown };
  if (isRecord(result.structuredContent)) {
    const text = JSON.stringify(result.structuredContent);
    return { kind: 'result', result: { ...result, content: [{ type: 'text', text }] } };
  }
  // INVARIANT: a withheld output reaches the client as a valid result that says so (test/mcp/results.test.ts "a
  // withheld output reaches a client of either era").
  if (typeof result.withheld !== 'string' || Array.isArray(result.content)) return outcome;
  const text = `ruleoftwo withheld the output of \`${tool}\`: ${result.withheld}`;
  return { kind: 'result', result: { isError: true, content: [{ type: 'text', text }], _meta: result._meta } };
}

/** The decision summary a result carries in `_meta`. */
function decisionMeta(decision: Decision, legsAfter = decision.legsAfter): Record<string, unknown> {
  return {
    effect: decision.effect,
    legsBefore: decision.legsBefore,
    legsAfter,
    reasons: decision.reasons.map((r) => r.code),
  };
}

/** The results {@link blocked} made: an upstream's result that looks like one is still the upstream's. */
const BLOCKED = new WeakSet<object>();

/** A tool result that tells the model what was blocked and why; `isError` so clients show it as a failure. */
export function blocked(text: string, meta: Record<string, unknown>): CallToolResult {
  const result: CallToolResult = {
    isError: true,
    content: [{ type: 'text', text }],
    _meta: { [DECISION_META_KEY]: meta },
  };
  BLOCKED.add(result);
  return result;
}

/** Whether `result` is one the gateway made to say what it blocked, not a result an upstream sent. */
export function isBlocked(result: object): boolean {
  return BLOCKED.has(result);
}

/** Explains a denial in words a model (and the person reading over its shoulder) can act on. */
export function explainDecision(decision: Decision): string {
  const lines = [`ruleoftwo blocked \`${decision.tool}\`; it was not run.`];
  for (const reason of decision.reasons) lines.push(`- ${reason.message}`);
  if (decision.evidence.length > 0) {
    lines.push(`The session holds ${decision.legsBefore || 'no legs'} because of:`);
    for (const item of decision.evidence) lines.push(`- ${formatEvidence(item)}`);
  }
  return lines.join('\n');
}

/**
 * Explains an `ask` that no channel could put to a person, naming the out-of-band request. `approve` says how an
 * operator approves it (e.g. the `ruleoftwo approvals approve` command line); without one, no channel reaches it.
 */
export function explainPendingApproval(request: ApprovalRequest, approve?: string): string {
  const lines = [
    `ruleoftwo needs a person's approval for \`${request.tool}\`; it was not run.`,
    ...request.reasons.map((r) => `- ${r.message}`),
    ...request.evidence.map((e) => `- evidence: ${formatEvidence(e)}`),
    approve === undefined
      ? `Approval request \`${request.id}\` cannot reach an operator from this gateway (no shared approval store); it expires at ${new Date(request.expiresAt).toISOString()}.`
      : `Approval request \`${request.id}\` is pending until ${new Date(request.expiresAt).toISOString()}. An operator can run \`${approve}\`; then the same call with the same arguments may be retried once.`,
  ];
  return lines.join('\n');
}
