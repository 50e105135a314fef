import type { NarrowSchema } from './declassify.ts';

/**
 * The policy document: the shape of a policy file after validation (src/policy validates and reports issues;
 * the core compiles a valid document into matchers).
 */

/** A session configuration: `dynamic` (any two legs, decided by history) or a fixed pair. */
export type Configuration = 'dynamic' | 'AB' | 'AC' | 'BC';

/** What a gated call does: wait for a human, or stop. */
export type GateEffect = 'ask' | 'deny';

/** Whether the session's own initial input (the user's request) is trusted. */
export type InputTrust = 'trusted' | 'untrusted';

/** A test on one value of a call's arguments or of its output. A bare scalar means `equals`. */
export type ValueMatcher =
  | string
  | number
  | boolean
  | null
  | {
      equals?: string | number | boolean | null;
      /** Glob patterns, inline or the name of an entry in `lists`. */
      in?: string[] | string;
      /** Negation of `in`. */
      notIn?: string[] | string;
      /** A regular expression that must match the whole value. */
      regex?: string;
      exists?: boolean;
      lt?: number;
      lte?: number;
      gt?: number;
      gte?: number;
    };

/** Tests keyed by a dot path into the arguments or the output; all must hold. */
export type MatchSpec = Record<string, ValueMatcher>;

/** An argument condition: when `match` holds, these legs replace the tool's own. */
export interface ArgumentCondition {
  match: MatchSpec;
  call?: string;
  output?: string;
}

/** A result condition: when `match` holds on the output, it brings only these legs (never more than declared). */
export interface ResultCondition {
  match: MatchSpec;
  output: string;
}

/** What a violated argument-level control does: wait for a human, stop, or nothing (`off`). */
export type ControlEffect = GateEffect | 'off';

/** Where a URL argument may point (see docs/provenance.md). */
export interface UrlControl {
  /** `trusted`: the URL must have appeared verbatim in the output of a trusted source or in trusted input. */
  from?: 'trusted' | 'any';
  /**
   * Check every URL inside the argument's text (a message body, a markdown image) instead of the argument as one
   * URL; text without URLs passes.
   */
  embedded?: boolean;
  /** Host globs, inline or the name of an entry in `lists`; a URL to any other host violates the control. */
  allow?: string[] | string;
  /** Host globs, inline or the name of an entry in `lists`; a URL to one of them violates the control. */
  deny?: string[] | string;
  /** Effect when violated; defaults to `deny`. */
  effect?: GateEffect;
}

/** Controls on one argument, keyed by its dot path (`*` for every string argument). */
export interface ArgumentControl {
  /** Effect when the argument carries a value from an untrusted output (A). */
  untrusted?: ControlEffect;
  /** Effect when the argument carries a value from a sensitive output (B). */
  sensitive?: ControlEffect;
  /** The argument names a sensitive object (a file, attachment or record id): the call touches B when it is set. */
  reference?: boolean;
  url?: UrlControl;
}

/** Author lineage of a tool's output: which items were written by whom. */
export interface LineageDocument {
  /** Dot path to the list of items in the output; absent: the output itself is the list (or a single item). */
  items?: string;
  /** Dot path to an item's author, inside the item. */
  author: string;
  /** Dot path to an item's id, for item-level trust (`ruleoftwo lineage allow --item`). */
  id?: string;
  /** Trusted author globs, inline or the name of an entry in `lists`. */
  trusted?: string[] | string;
  /** Ids of single items a reviewer marked trusted (`ruleoftwo lineage allow --item`). */
  trustedItems?: string[];
  /** What items by other authors do: `filter` removes them before the model sees them, `taint` brings A. */
  untrusted?: 'filter' | 'taint';
}

/** How one tool (or glob of tools) is labelled. */
export interface ToolDocument {
  /** Shorthand: legs of the tool; B and C apply to the call, A and B to the output. */
  legs?: string;
  /** Legs conferred by calling: B for sensitive-system access, C for consequential. */
  call?: string;
  /** Legs the output brings into the context: A and/or B. */
  output?: string;
  description?: string;
  /** Effect when this tool is gated; overrides `approvals.gate`. */
  gate?: GateEffect;
  /** Argument conditions, first match wins. */
  when?: ArgumentCondition[];
  /** Result conditions, first match wins. */
  results?: ResultCondition[];
  /** Argument-level controls keyed by argument path (provenance, URL controls, references). */
  args?: Record<string, ArgumentControl>;
  /** Author lineage of the output's items. */
  lineage?: LineageDocument;
  /** An output that validates against this narrow schema brings no A (the dual-LLM hand-off). */
  declassify?: NarrowSchema;
}

/** A validated policy document (version 1). */
export interface PolicyDocument {
  version: 1;
  name?: string;
  description?: string;
  session?: { configuration?: Configuration; input?: InputTrust };
  /** Legs of a tool the policy does not name; defaults to A+B+C. */
  unknownTools?: string | { call?: string; output?: string };
  approvals?: {
    gate?: GateEffect;
    /** What an `ask` becomes when no approver answers. Only `deny` is accepted. */
    unanswered?: 'deny';
    /** How long an approval request stays valid, e.g. `5m`, `30s`, `1h`. */
    ttl?: string;
  };
  lists?: Record<string, string[]>;
  /** Provenance controls that apply to every consequential tool (one whose declared legs include C). */
  provenance?: { consequential?: { untrusted?: ControlEffect; sensitive?: ControlEffect } };
  tools?: Record<string, ToolDocument>;
  /** What the audit log keeps. */
  audit?: {
    /** Argument values to redact: `path` (any tool) or `tool-glob:path`, e.g. `*.password`, `send_email:body`. */
    redact?: string[];
  };
}
