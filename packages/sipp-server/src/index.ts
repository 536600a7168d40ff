// @sipp/sipp-server: the Sipp client for Node server code. See README.md.
export { SippClient } from "./client";
export type {
  ChatMessageInit,
  EndpointDescriptor,
  EndpointRef,
  GatewayEndpointDescriptor,
  LocalEndpointDescriptor,
  ProviderEndpointDescriptor,
  SippChatRequest,
  SippEmbedRequest,
  SippQueryRequest,
  ValueProvider,
} from "./client";
export { SippEmbeddingRun, SippTextRun } from "./run";
export {
  AuthenticationError,
  AuthorizationError,
  BackendUnavailableError,
  CancelledError,
  ChatTemplateError,
  ChatTemplateMissingError,
  CLASS_OF_CODE,
  classFor,
  ContextOverflowError,
  EndpointClosedError,
  EndpointRequiredError,
  ExecutionError,
  GrammarError,
  InvalidConfigError,
  InvalidRequestError,
  ModelLoadError,
  ModelNotFoundError,
  NotFoundError,
  NotGgufError,
  NotSupportedYetError,
  OverloadedError,
  PayloadTooLargeError,
  ProtocolError,
  RequestTimeoutError,
  SippError,
  TransportError,
  UnavailableError,
  UnknownEndpointError,
  UnsupportedOperationError,
} from "./errors";
export type { SippErrorDetails } from "./errors";
export {
  decodeGatewayChatBody,
  decodeGatewayEmbedBody,
  decodeGatewayQueryBody,
  gatewayEmbeddingResponseBody,
  gatewayErrorResponse,
  gatewayTextResponseBody,
  gatewayTextStreamResponse,
} from "./gateway";
export type { DecodedGatewayBody, GatewayBody, GatewayErrorResponse } from "./gateway";
export { compiledBackends, defaultModel, nativeBackend } from "./info";
export type {
  ChatMessage,
  ChatRole,
  ErrorCode,
  FinishReason,
  LocalStats,
  NativeRuntimeConfig,
  SippEmbeddingResponse,
  SippTextOptions,
  SippTextResponse,
  TokenBatch,
  Usage,
} from "./schema-types";
