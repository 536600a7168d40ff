// Errors Sipp throws: one class per error code (the codes of `sipp::ErrorCode`, from the
// schema), each with `.code`, and for remote failures `.status`, `.upstreamCode` and
// `.retryAfter` (seconds) — the same classes, and the same table, as the Python package.
// Plain TypeScript with no Node API: the browser package `@sipp/sipp` builds this very
// file into itself (packages/sipp/scripts/build.mjs), so both packages throw one hierarchy.
import type { ErrorCode } from "./schema-types";

export interface SippErrorDetails {
  status?: number | null;
  upstreamCode?: string | null;
  retryAfter?: number | null;
}

/** Base class of every Sipp error. */
export class SippError extends Error {
  readonly code: string;
  /** HTTP status of a gateway or provider answer (null inside a stream or locally). */
  readonly status: number | null;
  /** The remote side's own error code. */
  readonly upstreamCode: string | null;
  /** Seconds the server asked to wait (`Retry-After`). */
  readonly retryAfter: number | null;

  constructor(message: string, code = "sipp_error", details: SippErrorDetails = {}) {
    super(message);
    // Sipp's own classes get their name from NAMES below (minifiers rename classes); a
    // subclass of the caller's keeps its own.
    if (!Object.prototype.hasOwnProperty.call(new.target.prototype, "name")) this.name = new.target.name;
    this.code = code;
    this.status = details.status ?? null;
    this.upstreamCode = details.upstreamCode ?? null;
    this.retryAfter = details.retryAfter ?? null;
  }
}

/** The model could not be loaded. */
export class ModelLoadError extends SippError {}
/** The model path does not exist. */
export class ModelNotFoundError extends ModelLoadError {}
/** The file is not a GGUF model. */
export class NotGgufError extends ModelLoadError {}
/** A runtime config value or descriptor field is invalid. */
export class InvalidConfigError extends SippError {}
/** A config field whose behaviour is not built yet (refused, never ignored). */
export class NotSupportedYetError extends InvalidConfigError {}
/** The requested backend was not compiled in or has no device here. */
export class BackendUnavailableError extends SippError {}
/** A request field is invalid. */
export class InvalidRequestError extends SippError {}
/** The prompt does not fit the context window. */
export class ContextOverflowError extends InvalidRequestError {}
/** A GBNF grammar or JSON schema could not be compiled. */
export class GrammarError extends InvalidRequestError {}
/** The endpoint cannot do this operation (for example embed on a text endpoint). */
export class UnsupportedOperationError extends SippError {}
/** Chat on a model without tokenizer.chat_template; use query instead. */
export class ChatTemplateMissingError extends UnsupportedOperationError {}
/** The model's chat template failed to render. */
export class ChatTemplateError extends SippError {}
/** No endpoint with this id is registered. */
export class UnknownEndpointError extends SippError {}
/** The request named no endpoint and the choice is ambiguous. */
export class EndpointRequiredError extends SippError {}
/** The endpoint's queue is full, or a remote one answered 429; `retryAfter` says when. */
export class OverloadedError extends SippError {}
/** The gateway or provider did not accept the credential (401). */
export class AuthenticationError extends SippError {}
/** The credential is valid but may not use this target (403). */
export class AuthorizationError extends SippError {}
/** The gateway target or provider model does not exist (404). */
export class NotFoundError extends SippError {}
/** The request body is larger than the server accepts (413). */
export class PayloadTooLargeError extends InvalidRequestError {}
/** The remote side is temporarily unable to serve (503, Anthropic's 529). */
export class UnavailableError extends SippError {}
/** The gateway or provider could not be reached, or the connection broke. */
export class TransportError extends SippError {}
/** A remote request ran past a deadline of its timeout policy. */
export class RequestTimeoutError extends SippError {}
/** The remote side answered something its API does not allow. */
export class ProtocolError extends SippError {}
/** The operation was cancelled before it produced a result. */
export class CancelledError extends SippError {}
/** The endpoint was closed or replaced while the request was running. */
export class EndpointClosedError extends SippError {}
/** Running the request failed (in llama.cpp, or on the remote side: HTTP 500). */
export class ExecutionError extends SippError {}

// The names users see, whatever a bundler renamed the classes to.
const NAMES: Readonly<Record<string, typeof SippError>> = {
  SippError, ModelLoadError, ModelNotFoundError, NotGgufError, InvalidConfigError, NotSupportedYetError,
  BackendUnavailableError, InvalidRequestError, ContextOverflowError, GrammarError, UnsupportedOperationError,
  ChatTemplateMissingError, ChatTemplateError, UnknownEndpointError, EndpointRequiredError, OverloadedError,
  AuthenticationError, AuthorizationError, NotFoundError, PayloadTooLargeError, UnavailableError,
  TransportError, RequestTimeoutError, ProtocolError, CancelledError, EndpointClosedError, ExecutionError,
};
for (const [name, Class] of Object.entries(NAMES)) {
  Object.defineProperty(Class.prototype, "name", { value: name, writable: true, configurable: true });
}

type ErrorClass = new (message: string, code?: string, details?: SippErrorDetails) => SippError;

/** The class of each error code; typed by the schema's codes, so a new code fails to compile. */
export const CLASS_OF_CODE: Readonly<Record<ErrorCode, ErrorClass>> = Object.freeze({
  model_not_found: ModelNotFoundError,
  not_gguf: NotGgufError,
  model_load: ModelLoadError,
  invalid_config: InvalidConfigError,
  not_supported: NotSupportedYetError,
  backend_unavailable: BackendUnavailableError,
  invalid_request: InvalidRequestError,
  context_overflow: ContextOverflowError,
  grammar: GrammarError,
  unsupported_operation: UnsupportedOperationError,
  chat_template_missing: ChatTemplateMissingError,
  chat_template: ChatTemplateError,
  unknown_endpoint: UnknownEndpointError,
  endpoint_required: EndpointRequiredError,
  overloaded: OverloadedError,
  cancelled: CancelledError,
  endpoint_closed: EndpointClosedError,
  execution: ExecutionError,
  authentication: AuthenticationError,
  authorization: AuthorizationError,
  not_found: NotFoundError,
  payload_too_large: PayloadTooLargeError,
  unavailable: UnavailableError,
  transport: TransportError,
  timeout: RequestTimeoutError,
  protocol: ProtocolError,
});

/** The class of an error code (codes from elsewhere: `ExecutionError`). */
export function classFor(code: string): ErrorClass {
  return (CLASS_OF_CODE as Record<string, ErrorClass>)[code] ?? ExecutionError;
}
