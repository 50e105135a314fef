import {
  type CallToolResult,
  type InputRequiredResult,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { ApprovalRequest } from '../core/decision.ts';
import type { ElicitationApprovals } from './elicitation.ts';
import { canElicit } from './elicitation.ts';
import { blocked, type GatedOutcome, type Gateway, GatewayError, isBlocked } from './gateway.ts';

/** Names the Rule-of-Two session a request belongs to. */
export type SessionResolver = (ctx: ServerContext) => string;

/** How the gateway names itself to clients. */
export const SERVER_INFO = { name: 'ruleoftwo-gateway', version: '0.1.0' };

const INSTRUCTIONS =
  'Tools are served through ruleoftwo, which enforces the Agents Rule of Two per session: a call that would combine ' +
  'untrusted input (A), sensitive data (B) and a consequential action (C) needs a person to approve it. A blocked ' +
  'call returns an error that says why; do not try to work around it.';

/** A gateway failure as the JSON-RPC error a client receives, with a stable code in its data. */
export function toProtocolError(error: unknown): ProtocolError {
  if (error instanceof GatewayError) {
    const code = error.code === 'UPSTREAM_ERROR' ? ProtocolErrorCode.InternalError : ProtocolErrorCode.InvalidParams;
    return new ProtocolError(code, error.message, { code: error.code });
  }
  if (error instanceof ProtocolError) return error;
  return new ProtocolError(ProtocolErrorCode.InternalError, `ruleoftwo gateway error: ${(error as Error).message}`, {
    code: 'GATEWAY_ERROR',
  });
}

/** Runs a handler, turning gateway failures into JSON-RPC errors with a stable code. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toProtocolError(error);
  }
}

/** Non-tool results cannot carry `isError`: a blocked read becomes a JSON-RPC error that says why. */
function unwrapRead<R>(gateway: Gateway, outcome: GatedOutcome<R | CallToolResult>): R {
  if (outcome.kind === 'ask') {
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, gateway.explainPending(outcome.request), {
      code: 'APPROVAL_REQUIRED',
      requestId: outcome.request.id,
    });
  }
  const result = outcome.result as CallToolResult;
  // INVARIANT: only the gateway's own refusals become a CALL_DENIED error; an upstream's read result that looks like
  // one is passed on as a result (test/mcp/results.test.ts "whose result looks like a blocked tool result").
  if (isBlocked(result)) {
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, text, { code: 'CALL_DENIED' });
  }
  return outcome.result as R;
}

function objectArgs(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('INVALID_PARAMS', 'tool arguments must be an object');
  }
  return value as Record<string, unknown>;
}

/**
 * What the client gets for an `ask`: the approval question when it can elicit, else a blocked result naming the
 * out-of-band request (which waits in the approval store for an operator's answer).
 */
export function askPerson(
  gateway: Gateway,
  approvals: ElicitationApprovals,
  request: ApprovalRequest,
  sessionId: string,
  elicit: boolean,
): Promise<InputRequiredResult> | CallToolResult {
  // INVARIANT: with `elicitation: false` no client is asked, so a client cannot approve its own call
  // (test/mcp/sessions-review.test.ts "`elicitation: false`").
  if (elicit && approvals.enabled) return approvals.ask(request, sessionId);
  return blocked(gateway.explainPending(request), {
    effect: 'ask',
    reason: 'approval_required',
    requestId: request.id,
  });
}

/**
 * Tells a client that the gateway's listings changed. Which of them did is not tracked: a change of an upstream's
 * offer or of the pins can touch any, and a client that re-lists one listing too many loses nothing.
 */
export function sendListsChanged(server: Server): void {
  for (const send of [server.sendToolListChanged, server.sendResourceListChanged, server.sendPromptListChanged]) {
    send.call(server).catch(() => {});
  }
}

/** An approval the fast path already asked for on a request, to be put to a person by this server. */
export type AskedResolver = (ctx: ServerContext, name: string) => ApprovalRequest | undefined;

/**
 * Builds the downstream MCP server for one serving unit (a stdio connection, an HTTP session or request). Every
 * tool call, resource read and prompt get goes through the gateway's guard in the session `sessionOf` names.
 * `asked` hands over calls the fast path (fastpath.ts) already decided as `ask`: they are not decided again.
 */
export function createDownstreamServer(
  gateway: Gateway,
  sessionOf: SessionResolver,
  approvals: ElicitationApprovals,
  asked: AskedResolver = () => undefined,
): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true } },
    instructions: INSTRUCTIONS,
    requestState: { verify: (state, ctx) => approvals.codec.verify(state, ctx) },
  });

  server.setRequestHandler('tools/list', async () => ({ tools: gateway.listTools() }));
  server.setRequestHandler('resources/list', async () => ({ resources: gateway.listResources() }));
  server.setRequestHandler('resources/templates/list', async () => ({
    resourceTemplates: gateway.listResourceTemplates(),
  }));
  server.setRequestHandler('prompts/list', async () => ({ prompts: gateway.listPrompts() }));

  server.setRequestHandler('tools/call', (request, ctx) =>
    guarded(async () => {
      const sessionId = sessionOf(ctx);
      const name = request.params.name;
      const args = objectArgs(request.params.arguments);
      const answer = approvals.read(ctx, sessionId, name, args ?? {});
      if (answer.kind === 'invalid') {
        return blocked(`ruleoftwo blocked \`${name}\`: ${answer.message}`, {
          effect: 'deny',
          reason: 'receipt_invalid',
        });
      }
      if (answer.kind === 'answer') {
        // The guard's receipt flow: record the person's answer, then decide again with the single-use receipt.
        return gateway.answer(sessionId, answer.requestId, answer.approved, 'mcp-elicitation', (receipt) =>
          gateway.callTool(sessionId, name, args, { receipt, signal: ctx.mcpReq.signal }),
        );
      }
      const handed = asked(ctx, name);
      const outcome: GatedOutcome<CallToolResult> = handed
        ? { kind: 'ask', request: handed }
        : await gateway.callTool(sessionId, name, args, { signal: ctx.mcpReq.signal });
      if (outcome.kind === 'result') return outcome.result;
      return askPerson(gateway, approvals, outcome.request, sessionId, canElicit(ctx, server.getClientCapabilities()));
    }),
  );

  server.setRequestHandler('resources/read', (request, ctx) =>
    guarded(async () =>
      unwrapRead(
        gateway,
        await gateway.readResource(sessionOf(ctx), request.params.uri, { signal: ctx.mcpReq.signal }),
      ),
    ),
  );

  server.setRequestHandler('prompts/get', (request, ctx) =>
    guarded(async () =>
      unwrapRead(
        gateway,
        await gateway.getPrompt(sessionOf(ctx), request.params.name, request.params.arguments, {
          signal: ctx.mcpReq.signal,
        }),
      ),
    ),
  );

  return server;
}
