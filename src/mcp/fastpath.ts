import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  PROTOCOL_VERSION_META_KEY,
  SERVER_INFO_META_KEY,
} from '@modelcontextprotocol/server';
import type { ApprovalRequest } from '../core/decision.ts';
import { isRecord } from '../is-record.ts';
import { type ElicitationApprovals, elicits } from './elicitation.ts';
import type { Gateway } from './gateway.ts';
import { type AskedResolver, askPerson, SERVER_INFO, toProtocolError } from './server.ts';

/** The protocol revision whose requests carry their own `_meta` envelope (no initialize handshake). */
export const MODERN_REVISION = '2026-07-28';

/** A `tools/call` request the fast path may serve: well formed, nothing but a name, arguments and `_meta`. */
export interface FastToolCall {
  id: string | number;
  name: string;
  arguments: Record<string, unknown> | undefined;
  /** Whether it carries a 2026-07-28 envelope (else it belongs to an initialized 2025-era connection). */
  modern: boolean;
  /** The client capabilities of a 2026-07-28 envelope. */
  capabilities?: ClientCapabilities;
}

/** What the fast path made of a call: a JSON-RPC response, or an `ask` for the SDK server to elicit on 2025-11-25. */
export type FastOutcome =
  | { kind: 'response'; response: Record<string, unknown> }
  | { kind: 'handoff'; request: ApprovalRequest };

const PARAM_KEYS = new Set(['name', 'arguments', '_meta']);

/**
 * The `tools/call` the fast path serves, or undefined when the message is anything else or anything unusual
 * (elicitation retries with `requestState` or `inputResponses`, task augmentation, a malformed envelope): those go
 * to the SDK server, which validates them fully and answers with its own errors.
 */
export function fastToolCall(message: unknown): FastToolCall | undefined {
  if (!isRecord(message) || message.jsonrpc !== '2.0' || message.method !== 'tools/call') return undefined;
  const { id, params } = message;
  if (!(typeof id === 'string' || Number.isSafeInteger(id)) || !isRecord(params)) return undefined;
  for (const key of Object.keys(params)) if (!PARAM_KEYS.has(key)) return undefined;
  const args = params.arguments;
  if (typeof params.name !== 'string' || !(args === undefined || isRecord(args))) return undefined;
  const meta = params._meta;
  if (meta !== undefined && !isRecord(meta)) return undefined;
  const claimed = meta?.[PROTOCOL_VERSION_META_KEY];
  if (claimed !== undefined && (claimed !== MODERN_REVISION || !isRecord(meta?.[CLIENT_CAPABILITIES_META_KEY]))) {
    return undefined;
  }
  const call: FastToolCall = { id: id as string | number, name: params.name, arguments: args, modern: false };
  if (claimed !== undefined) {
    call.modern = true;
    call.capabilities = meta?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities;
  }
  return call;
}

/** A result as the SDK server would encode it for the request's era. */
function encodeResult(result: CallToolResult | InputRequiredResult, modern: boolean): Record<string, unknown> {
  if (!modern) return result;
  return {
    ...result,
    resultType: result.resultType ?? 'complete',
    _meta: { ...result._meta, [SERVER_INFO_META_KEY]: SERVER_INFO },
  };
}

/** Where a fast call comes from: its session, and what the client declared at initialize (2025-11-25). */
export interface FastCallContext {
  sessionId: string;
  approvals: ElicitationApprovals;
  connectionCaps?: ClientCapabilities | undefined;
  signal?: AbortSignal;
}

/**
 * Decides and runs one `tools/call` without a round through the SDK's server and client validation: the same
 * `Gateway.callTool` as the SDK handler, with the result encoded as the SDK would. An `ask` that needs an
 * elicitation request on a 2025-11-25 connection is handed back: only the SDK server can send that request.
 */
export async function serveToolCall(
  gateway: Gateway,
  call: FastToolCall,
  context: FastCallContext,
): Promise<FastOutcome> {
  const respond = (result: CallToolResult | InputRequiredResult): FastOutcome => ({
    kind: 'response',
    response: { jsonrpc: '2.0', id: call.id, result: encodeResult(result, call.modern) },
  });
  try {
    const { sessionId, signal } = context;
    const outcome = await gateway.callTool(sessionId, call.name, call.arguments, signal ? { signal } : {});
    if (outcome.kind === 'result') return respond(outcome.result);
    const elicit = context.approvals.enabled && elicits(call.modern ? call.capabilities : context.connectionCaps);
    if (elicit && !call.modern) return { kind: 'handoff', request: outcome.request };
    return respond(await askPerson(gateway, context.approvals, outcome.request, sessionId, elicit));
  } catch (thrown) {
    const error = toProtocolError(thrown);
    return {
      kind: 'response',
      response: {
        jsonrpc: '2.0',
        id: call.id,
        error: { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) },
      },
    };
  }
}

/**
 * Asks the fast path decided and handed to the SDK server with the same request, by JSON-RPC id: the server takes
 * each once, for the same tool, and puts it to a person instead of deciding the call again.
 */
export class HandedAsks {
  readonly #byId = new Map<string | number, { name: string; request: ApprovalRequest }>();

  /** Holds `request` for the SDK server's handling of request `id`. */
  hand(id: string | number, name: string, request: ApprovalRequest): void {
    this.#byId.set(id, { name, request });
  }

  /** The {@link AskedResolver} of the SDK server that receives the handed requests. */
  readonly take: AskedResolver = (ctx, name) => {
    const hit = this.#byId.get(ctx.mcpReq.id);
    if (!hit) return undefined;
    this.#byId.delete(ctx.mcpReq.id);
    return hit.name === name ? hit.request : undefined;
  };
}
