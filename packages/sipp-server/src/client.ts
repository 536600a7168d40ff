// SippClient: register endpoints with `add`, keep the EndpointRef, pass it to `query`,
// `chat` or `embed`. Descriptor and request types are the schema's (schema-types.ts);
// the native side converts and checks every field by the same schema.
import { InvalidConfigError, InvalidRequestError } from "./errors";
import { call, settle } from "./native-errors";
import { native, type NativeClient, type NativeEndpointRef } from "./native";
import { SippEmbeddingRun, SippTextRun } from "./run";
import type * as S from "./schema-types";

export type EndpointRef = Readonly<S.EndpointRef>;

/** A gateway credential computed per request (a short-lived token, say). */
export type ValueProvider = () => string | Promise<string>;

export type LocalEndpointDescriptor = { kind: "local" } & S.LocalModelDescriptor;
export type GatewayEndpointDescriptor = { kind: "gateway" } & Omit<S.GatewayDescriptor, "authentication"> & {
  authentication?: S.GatewayAuthentication & { valueProvider?: ValueProvider };
};
export type ProviderEndpointDescriptor = { kind: "provider" } & S.ProviderDescriptor;
/** What `add` registers. */
export type EndpointDescriptor = LocalEndpointDescriptor | GatewayEndpointDescriptor | ProviderEndpointDescriptor;

interface Cancellable {
  /** Cancels the run when it aborts. */
  signal?: AbortSignal;
}
type TextEnvelope = Omit<S.SippTextRequest, "prompt" | "endpoint"> & { endpoint?: EndpointRef } & Cancellable;
/** `query`: a raw prompt, no chat template. */
export type SippQueryRequest = TextEnvelope & { prompt: string };
/**
 * A chat turn as callers write it. `role` is checked when the request is made (system,
 * user or assistant); it is typed wider than `ChatRole` so an array literal, whose roles
 * TypeScript widens to `string`, can be passed as it is.
 */
export type ChatMessageInit = { role: S.ChatRole | (string & {}); content: string };
/** `chat`: role messages the endpoint renders. */
export type SippChatRequest = TextEnvelope & { messages: ChatMessageInit[] };
/** `embed`: one vector for one input. */
export type SippEmbedRequest = Omit<S.SippEmbedRequest, "endpoint"> & { endpoint?: EndpointRef } & Cancellable;

function ref(r: NativeEndpointRef): EndpointRef {
  return Object.freeze({ kind: r.kind as S.EndpointKind, id: r.id });
}

function plain<T = Record<string, unknown>>(request: T, what: string): T {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new InvalidRequestError(`${what} takes a request object`, "invalid_request");
  }
  return request;
}

export class SippClient {
  #native: NativeClient | undefined;

  // The native client is made on first use, so constructing one never throws.
  get #client(): NativeClient {
    this.#native ??= call(() => new (native().NativeClient)());
    return this.#native;
  }

  /** Register an endpoint (a local model loads here, off the event loop). */
  async add(id: string, descriptor: EndpointDescriptor): Promise<EndpointRef> {
    if (typeof id !== "string" || id === "") {
      throw new InvalidRequestError("add needs an endpoint id (a non-empty string)", "invalid_request");
    }
    const d = plain(descriptor as unknown, "add") as Record<string, unknown> & { authentication?: Record<string, unknown> };
    let valueProvider: ValueProvider | undefined;
    let document: unknown = d;
    if (d.authentication && typeof d.authentication === "object" && "valueProvider" in d.authentication) {
      const { valueProvider: vp, ...authentication } = d.authentication;
      if (vp !== undefined && typeof vp !== "function") {
        throw new InvalidConfigError("descriptor.authentication.valueProvider must be a function", "invalid_config");
      }
      valueProvider = vp as ValueProvider | undefined;
      document = { ...d, authentication };
    }
    const client = this.#client;
    return ref(await settle(call(() => client.add(id, document, valueProvider))));
  }

  /** Generate from a raw prompt. Bad fields throw `InvalidRequestError` here. */
  query(request: SippQueryRequest): SippTextRun {
    const { signal, prompt, ...rest } = plain(request, "query");
    if (typeof prompt !== "string") {
      throw new InvalidRequestError("query needs `prompt`, a string (chat takes `messages`)", "invalid_request");
    }
    const client = this.#client;
    return new SippTextRun(call(() => client.text({ ...rest, prompt })), signal);
  }

  /** Generate from role messages, rendered by the endpoint. */
  chat(request: SippChatRequest): SippTextRun {
    const { signal, messages, ...rest } = plain(request, "chat");
    if (!Array.isArray(messages)) {
      throw new InvalidRequestError("chat needs `messages`, a list of {role, content}", "invalid_request");
    }
    if ("prompt" in rest) {
      throw new InvalidRequestError("chat takes `messages`, not `prompt` (query takes a prompt)", "invalid_request");
    }
    const client = this.#client;
    return new SippTextRun(call(() => client.text({ ...rest, prompt: messages })), signal);
  }

  /** One embedding vector for one input. */
  embed(request: SippEmbedRequest): SippEmbeddingRun {
    const { signal, ...rest } = plain(request, "embed");
    const client = this.#client;
    return new SippEmbeddingRun(call(() => client.embed(rest)), signal);
  }

  /** The registered endpoints. */
  endpoints(): EndpointRef[] {
    return this.#native ? this.#native.endpoints().map(ref) : [];
  }

  /** Unload one endpoint; false if it was not registered. */
  async remove(endpoint: EndpointRef): Promise<boolean> {
    const client = this.#client;
    return settle(call(() => client.remove({ kind: endpoint.kind, id: endpoint.id })));
  }

  /** Engine counters of a local endpoint. */
  endpointStats(endpoint: EndpointRef): Record<string, unknown> {
    const client = this.#client;
    return call(() => client.endpointStats({ kind: endpoint.kind, id: endpoint.id })) as Record<string, unknown>;
  }

  /** What a local endpoint loaded (model, context, backend). */
  endpointInfo(endpoint: EndpointRef): Record<string, unknown> {
    const client = this.#client;
    return call(() => client.endpointInfo({ kind: endpoint.kind, id: endpoint.id })) as Record<string, unknown>;
  }

  /** Unload every endpoint. Runs still in flight end with EndpointClosedError. */
  async close(): Promise<void> {
    if (this.#native) await settle(this.#native.close());
  }
}
