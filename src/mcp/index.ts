// ruleoftwo/mcp: the MCP gateway. Curated named exports only.

export {
  type GatewayConfig,
  type HttpConfig,
  loadGatewayConfig,
  NAMESPACE_SEPARATOR,
  parseGatewayConfig,
  type StoreConfig,
  type UpstreamConfig,
  type UpstreamTransport,
} from './config.ts';
export { APPROVAL_INPUT_KEY, approvalMessage, ElicitationApprovals } from './elicitation.ts';
export {
  type CatalogTool,
  DECISION_META_KEY,
  explainDecision,
  explainPendingApproval,
  type GatedOutcome,
  Gateway,
  GatewayError,
  type GatewayOptions,
  type GatewayStores,
} from './gateway.ts';
export { type HttpGateway, SESSION_HEADER, SHARED_HTTP_SESSION, serveGatewayHttp } from './http.ts';
export { LEGS_META_KEY, labelFromHints, labelTools, namespaced, type ToolHints } from './labels.ts';
export {
  instructionsHash,
  type Pin,
  type PinFile,
  type PinStatus,
  pinnedDefinition,
  readPins,
  toolHash,
} from './pins.ts';
export { approveDefinitions, type DefinitionReview, reviewDefinitions } from './review.ts';
export { memoryStores, openGatewayStores, type RunGatewayOptions, type RunningGateway, runGateway } from './run.ts';
export { createDownstreamServer, type SessionResolver } from './server.ts';
export { type StdioGateway, serveGatewayStdio } from './stdio.ts';
export type { GatewayLog } from './upstream.ts';
