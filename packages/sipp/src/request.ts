// Requests as the endpoints take them: the browser's `(prompt, options)` split into the
// schema's buckets and checked, by the schema's own field lists (generated/
// schema-fields.ts), with the Rust client's rules: unknown fields and bad values are
// refused before anything runs, and local-only fields never reach a remote endpoint.
import { InvalidRequestError, type SippError } from "./generated/errors.js";
import { FIELDS } from "./generated/schema-fields.js";
import type * as S from "./generated/schema-types.js";
import type { ChatMessageInit, EmbedRequestOptions, TextRequestOptions } from "./descriptors.js";

/** What an endpoint is given for a query or chat. */
export interface TextCall {
  prompt: string | S.ChatMessage[];
  options: S.SippTextOptions;
  local: S.LocalTextOptions;
  emitTokens: boolean;
  requestId: string | null;
  endpointOptions: Record<string, unknown>;
}

export interface EmbedCall {
  input: string;
  local: S.LocalEmbedOptions;
  requestId: string | null;
  endpointOptions: Record<string, unknown>;
}

type Schema = keyof typeof FIELDS;

function invalid(message: string): InvalidRequestError {
  return new InvalidRequestError(message, "invalid_request");
}

/** Refuse keys of `value` that the schema type `type` does not have (nor `extra`). */
export function checkFields(
  value: unknown,
  type: Schema,
  what: string,
  extra: readonly string[],
  error: (m: string) => SippError,
): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw error(`${what} must be an object`);
  const known = Object.keys(FIELDS[type]);
  for (const key of Object.keys(value)) {
    if (!known.includes(key) && !extra.includes(key)) {
      throw error(`${what} has no field \`${key}\` (fields: ${[...known, ...extra].sort().join(", ")})`);
    }
  }
}

function pick<T extends object>(source: Record<string, unknown>, type: Schema): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(FIELDS[type])) if (source[key] !== undefined) out[key] = source[key];
  return out as T;
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The shared options' checks (SippTextOptions::validate). */
function checkOptions(o: S.SippTextOptions): void {
  if (o.temperature != null && !(finite(o.temperature) && o.temperature >= 0)) throw invalid("temperature must be a finite number >= 0");
  if (o.topP != null && !(finite(o.topP) && o.topP > 0 && o.topP <= 1)) throw invalid("top_p must be within (0, 1]");
  if (o.minP != null && !(finite(o.minP) && o.minP >= 0 && o.minP <= 1)) throw invalid("min_p must be within [0, 1]");
  if (o.maxTokens != null && !(Number.isInteger(o.maxTokens) && o.maxTokens >= 1 && o.maxTokens <= 0xffffffff)) {
    throw invalid("max_tokens must be at least 1");
  }
  if (o.seed != null && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) throw invalid("seed must be a whole number in [0, 2^32)");
  if (o.stop !== undefined) {
    if (!Array.isArray(o.stop) || !o.stop.every((s) => typeof s === "string")) throw invalid("stop must be a list of strings");
    const i = o.stop.findIndex((s) => s === "");
    if (i >= 0) throw invalid(`stop[${i}] is empty; stop strings need at least one character`);
  }
}

/** SippTextOptions under their wire (snake_case) names, unset ones left out. */
export function wireOptions(o: S.SippTextOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [js, wire] of Object.entries(FIELDS.SippTextOptions)) {
    const v = (o as Record<string, unknown>)[js];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    out[wire] = v;
  }
  return out;
}
wireOptions.names = FIELDS.SippTextOptions as Readonly<Record<string, string>>;

const ENVELOPE = ["endpoint", "signal", "requestId", "endpointOptions"];

function envelope(o: Record<string, unknown>): { requestId: string | null; endpointOptions: Record<string, unknown> } {
  const requestId = o.requestId ?? null;
  if (requestId !== null && typeof requestId !== "string") throw invalid("requestId must be a string");
  const endpointOptions = o.endpointOptions ?? {};
  if (typeof endpointOptions !== "object" || endpointOptions === null || Array.isArray(endpointOptions)) {
    throw invalid("endpointOptions must be an object");
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid("signal must be an AbortSignal");
  return { requestId, endpointOptions: endpointOptions as Record<string, unknown> };
}

function options(o: unknown, what: string): Record<string, unknown> {
  if (o === undefined) return {};
  if (o === null || typeof o !== "object" || Array.isArray(o)) throw invalid(`${what} options must be an object`);
  return o as Record<string, unknown>;
}

const ROLES = ["system", "user", "assistant"];

export function textCall(prompt: string | readonly ChatMessageInit[], opts: TextRequestOptions | undefined, what: string): TextCall {
  const o = options(opts, what);
  checkFields(o, "SippTextOptions", `${what} options`, [...Object.keys(FIELDS.LocalTextOptions), ...ENVELOPE, "emitTokens"], invalid);
  if (typeof prompt !== "string") {
    if (!Array.isArray(prompt)) throw invalid("chat needs messages, a list of {role, content}");
    prompt.forEach((m: unknown, i) => {
      const msg = m as Record<string, unknown>;
      if (!msg || typeof msg !== "object" || typeof msg.content !== "string" || Object.keys(msg).some((k) => k !== "role" && k !== "content")) {
        throw invalid(`messages[${i}] must be {role, content} with content a string`);
      }
      if (!ROLES.includes(msg.role as string)) throw invalid(`messages[${i}].role must be system, user or assistant, not \`${String(msg.role)}\``);
    });
  }
  const shared = pick<S.SippTextOptions>(o, "SippTextOptions");
  checkOptions(shared);
  if (o.emitTokens !== undefined && typeof o.emitTokens !== "boolean") throw invalid("emitTokens must be a boolean");
  return {
    prompt: typeof prompt === "string" ? prompt : prompt.map((m) => ({ role: m.role as S.ChatRole, content: m.content })),
    options: shared,
    local: pick<S.LocalTextOptions>(o, "LocalTextOptions"),
    emitTokens: o.emitTokens === true,
    ...envelope(o),
  };
}

export function embedCall(input: unknown, opts: EmbedRequestOptions | undefined): EmbedCall {
  if (typeof input !== "string") throw invalid("embed needs input, a string");
  const o = options(opts, "embed");
  checkFields(o, "LocalEmbedOptions", "embed options", ENVELOPE, invalid);
  if (o.normalize !== undefined && o.normalize !== null && typeof o.normalize !== "boolean") throw invalid("normalize must be a boolean");
  return { input, local: pick<S.LocalEmbedOptions>(o, "LocalEmbedOptions"), ...envelope(o) };
}

/** The local-only fields a request set (for the error a remote endpoint gives). */
export function localFieldsSet(local: Record<string, unknown>): string[] {
  return Object.entries(local)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k]) => k);
}
