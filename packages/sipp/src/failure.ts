// How remote failures become typed errors, by the rules of the Rust transport
// (crates/sipp/src/transport/failure.rs): the class follows the HTTP status; inside a
// stream, where there is no status, it follows the gateway's error code. The gateway's
// own code is kept as `upstreamCode`. Every message is scrubbed of the endpoint's
// secrets first and only then cut short, so a cut can never leave half a key behind.
import {
  AuthenticationError,
  AuthorizationError,
  CLASS_OF_CODE,
  classFor,
  ExecutionError,
  InvalidRequestError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  ProtocolError,
  type SippError,
  UnavailableError,
} from "./generated/errors.js";

type ErrorClass = new (message: string, code?: string, details?: object) => SippError;

/** What an error message may quote of a server's text, in characters. */
const EXCERPT_CHARS = 200;

function classOfStatus(status: number): ErrorClass {
  if (status === 401) return AuthenticationError;
  if (status === 403) return AuthorizationError;
  if (status === 404) return NotFoundError;
  if (status === 413) return PayloadTooLargeError;
  if (status === 429) return OverloadedError;
  if (status >= 400 && status <= 499) return InvalidRequestError;
  // 529: Anthropic's "overloaded", passed on by a gateway.
  if (status === 503 || status === 529) return UnavailableError;
  return ExecutionError;
}

/** The class of a code seen without a status (a stream's `event: error`). */
function classOfCode(code: string | null): ErrorClass {
  switch (code) {
    case "context_overflow":
    case "grammar":
    case "chat_template_missing":
    case "chat_template":
    case "unsupported_operation":
      return InvalidRequestError;
    case null:
      return ExecutionError;
    default:
      return classFor(code);
  }
}

/** `text` with every secret replaced, then cut to EXCERPT_CHARS. */
export function masked(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("***");
  const chars = [...out];
  return chars.length > EXCERPT_CHARS ? `${chars.slice(0, EXCERPT_CHARS).join("")}…` : out;
}

interface ErrorParts {
  code: string | null;
  message: string;
}

/** `{"error": {"code"|"type", "message"}}`, as every server Sipp talks to nests it. */
function errorParts(body: unknown, raw: string): ErrorParts {
  const outer = body && typeof body === "object" ? (body as Record<string, unknown>) : null;
  const inner = outer && "error" in outer ? outer.error : outer;
  if (typeof inner === "string") return { code: null, message: inner };
  const e = inner && typeof inner === "object" ? (inner as Record<string, unknown>) : {};
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
  const code = str(e.code) ?? str(e.type);
  const message = str(e.message) ?? (raw.trim() === "" ? "(empty body)" : raw.trim());
  return { code, message };
}

/** An error answer (non-2xx) as its typed error. */
export function statusError(
  endpoint: string,
  status: number,
  raw: string,
  retryAfter: number | null,
  secrets: readonly string[],
): SippError {
  let body: unknown = null;
  try {
    body = JSON.parse(raw);
  } catch {
    // Not JSON (a proxy's HTML page): quoted as text below.
  }
  const parts = body && typeof body === "object" && "error" in body ? errorParts(body, raw) : { code: null, message: raw.trim() || "(empty body)" };
  const message = `endpoint \`${endpoint}\`: HTTP ${status}: ${masked(parts.message, secrets)}`;
  return make(classOfStatus(status), message, { status, upstreamCode: parts.code && masked(parts.code, secrets), retryAfter });
}

/** A stream's `event: error` as its typed error. */
export function streamError(endpoint: string, data: unknown, secrets: readonly string[]): SippError {
  const parts = errorParts(data, typeof data === "string" ? data : JSON.stringify(data) ?? "");
  const Class = classOfCode(parts.code);
  return make(Class, `endpoint \`${endpoint}\`: ${masked(parts.message, secrets)}`, {
    status: null,
    upstreamCode: parts.code && masked(parts.code, secrets),
    retryAfter: null,
  });
}

/** An answer its API does not allow. */
export function protocolError(endpoint: string, what: string, secrets: readonly string[]): SippError {
  return new ProtocolError(`endpoint \`${endpoint}\`: ${masked(what, secrets)}`, "protocol");
}

// The code each class is thrown with: its entry in the schema's table (one per class).
const CODE_OF_CLASS = new Map<ErrorClass, string>(
  Object.entries(CLASS_OF_CODE).map(([code, Class]) => [Class as ErrorClass, code]),
);

function make(Class: ErrorClass, message: string, details: object): SippError {
  return new Class(message, CODE_OF_CLASS.get(Class) ?? "execution", details);
}
