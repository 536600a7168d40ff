// SippClient for the browser: register endpoints with `add`, keep the EndpointRef, pass
// it to `query`, `chat` or `embed`. The registry rules are the Rust client's
// (crates/sipp/src/client/sipp_client.rs): reusing an id replaces the endpoint, a request
// may leave out its endpoint only when exactly one local endpoint fits, and option
// buckets go only to the kinds that take them.
import {
  EndpointRequiredError,
  InvalidConfigError,
  InvalidRequestError,
  type SippError,
  UnknownEndpointError,
  UnsupportedOperationError,
} from "./generated/errors.js";
import type * as S from "./generated/schema-types.js";
import type {
  ChatMessageInit,
  EmbedRequestOptions,
  EndpointDescriptor,
  EndpointRef,
  GatewayEndpointDescriptor,
  LocalEndpointDescriptor,
  TextRequestOptions,
} from "./descriptors.js";
import { GatewayEndpoint } from "./gateway.js";
import { LocalEndpoint } from "./local.js";
import { checkedOptions, type SippClientOptions } from "./options.js";
import { embedCall, localFieldsSet, textCall, type EmbedCall, type TextCall } from "./request.js";
import { SippEmbeddingRun, SippTextRun } from "./run.js";

type Endpoint = GatewayEndpoint | LocalEndpoint;

function ref(kind: S.EndpointKind, id: string): EndpointRef {
  return Object.freeze({ kind, id });
}

export class SippClient {
  readonly #options: Readonly<SippClientOptions>;
  readonly #endpoints = new Map<string, Endpoint>();

  constructor(options?: SippClientOptions) {
    this.#options = checkedOptions(options);
  }

  /** Register an endpoint; reusing an id replaces the old one (its runs are ended). */
  async add(id: string, descriptor: EndpointDescriptor): Promise<EndpointRef> {
    if (typeof id !== "string" || id.trim() === "") {
      throw new InvalidRequestError("add needs an endpoint id (a non-empty string)", "invalid_request");
    }
    if (descriptor === null || typeof descriptor !== "object" || Array.isArray(descriptor)) {
      throw new InvalidConfigError("add takes a descriptor object", "invalid_config");
    }
    let endpoint: Endpoint;
    switch (descriptor.kind) {
      case "gateway":
        endpoint = new GatewayEndpoint(id, descriptor as GatewayEndpointDescriptor, this.#fetch());
        break;
      case "local":
        endpoint = await LocalEndpoint.load(id, descriptor as LocalEndpointDescriptor, this.#options);
        break;
      case "provider":
        throw new InvalidConfigError(
          "provider endpoints are for trusted server code: a page would have to ship the provider key. " +
            "Call a Sipp gateway, or a route of your own that speaks the gateway profile (@sipp/sipp-server), " +
            "with kind: 'gateway'",
          "invalid_config",
        );
      default:
        throw new InvalidConfigError(
          `descriptor.kind must be 'local', 'gateway' or 'provider', not ${JSON.stringify((descriptor as { kind?: unknown }).kind)}`,
          "invalid_config",
        );
    }
    this.#endpoints.get(id)?.close();
    this.#endpoints.set(id, endpoint);
    return ref(endpoint.kind, id);
  }

  #fetch(): typeof fetch {
    const f = this.#options.fetch ?? globalThis.fetch;
    // Called unbound, the page's fetch throws "Illegal invocation".
    return f === globalThis.fetch ? f.bind(globalThis) : f;
  }

  /** Generate from a raw prompt: no chat template is applied. */
  query(prompt: string, options?: TextRequestOptions): SippTextRun {
    return this.#text(() => {
      if (typeof prompt !== "string") throw new InvalidRequestError("query needs a prompt string (chat takes messages)", "invalid_request");
      return textCall(prompt, options, "query");
    }, options);
  }

  /** Generate from role messages, rendered by the endpoint. */
  chat(messages: readonly ChatMessageInit[], options?: TextRequestOptions): SippTextRun {
    return this.#text(() => {
      if (!Array.isArray(messages)) throw new InvalidRequestError("chat needs messages, a list of {role, content}", "invalid_request");
      return textCall(messages, options, "chat");
    }, options);
  }

  #text(make: () => TextCall, options: TextRequestOptions | undefined): SippTextRun {
    try {
      const call = make();
      const endpoint = this.#choose(options?.endpoint, "text");
      checkKind(endpoint.kind, localFieldsSet(call.local as Record<string, unknown>), call.endpointOptions);
      return new SippTextRun(endpoint.text(call), options?.signal);
    } catch (e) {
      return new SippTextRun(e as SippError);
    }
  }

  /** One embedding vector for `input`. */
  embed(input: string, options?: EmbedRequestOptions): SippEmbeddingRun {
    try {
      const call: EmbedCall = embedCall(input, options);
      const endpoint = this.#choose(options?.endpoint, "embed");
      checkKind(endpoint.kind, localFieldsSet(call.local as Record<string, unknown>), call.endpointOptions);
      return new SippEmbeddingRun(endpoint.embed(call), options?.signal);
    } catch (e) {
      return new SippEmbeddingRun(e as SippError);
    }
  }

  /** The registered endpoints. */
  endpoints(): EndpointRef[] {
    return [...this.#endpoints].map(([id, e]) => ref(e.kind, id));
  }

  /** What a local endpoint loaded, and how (runtime, execution mode, where the model came from). */
  endpointInfo(endpoint: EndpointRef): Record<string, unknown> {
    const e = this.#endpoints.get(endpoint?.id);
    if (!e) throw new UnknownEndpointError(`no endpoint \`${endpoint?.id}\` is registered`, "unknown_endpoint");
    if (!(e instanceof LocalEndpoint)) {
      throw new UnsupportedOperationError(`endpointInfo describes local engines; \`${endpoint.id}\` is a ${e.kind} endpoint`, "unsupported_operation");
    }
    return e.info();
  }

  /** Remove one endpoint; false if it was not registered. */
  async remove(endpoint: EndpointRef): Promise<boolean> {
    const e = this.#endpoints.get(endpoint?.id);
    if (!e) return false;
    e.close();
    return this.#endpoints.delete(endpoint.id);
  }

  /** Remove every endpoint. Runs still in flight end with EndpointClosedError. */
  async close(): Promise<void> {
    for (const e of this.#endpoints.values()) e.close();
    this.#endpoints.clear();
  }

  #choose(endpoint: EndpointRef | undefined, operation: "text" | "embed"): Endpoint {
    if (endpoint !== undefined) {
      if (endpoint === null || typeof endpoint !== "object" || typeof endpoint.id !== "string") {
        throw new InvalidRequestError("endpoint must be the EndpointRef that add returned", "invalid_request");
      }
      const e = this.#endpoints.get(endpoint.id);
      if (!e) throw new UnknownEndpointError(`no endpoint \`${endpoint.id}\` is registered`, "unknown_endpoint");
      return e;
    }
    const locals = [...this.#endpoints.values()].filter((e) => (e.kind as S.EndpointKind) === "local");
    if (locals.length === 1) return locals[0]!;
    const reason = locals.length === 0 ? "no registered local endpoint supports it" : `${locals.length} local endpoints support it`;
    throw new EndpointRequiredError(`${operation} needs an endpoint: ${reason}; pass { endpoint }`, "endpoint_required");
  }
}

/** Which option buckets each kind takes (check_kind_options in the Rust client). */
function checkKind(kind: S.EndpointKind, localFields: string[], endpointOptions: Record<string, unknown>): void {
  if (kind !== "local" && localFields.length > 0) {
    const one = localFields.length === 1;
    throw new InvalidRequestError(
      `${localFields.join(", ")} ${one ? "is" : "are"} local-only and cannot be sent to a ${kind} endpoint; remove ${one ? "it" : "them"}`,
      "invalid_request",
    );
  }
  if (kind === "local" && Object.keys(endpointOptions).length > 0) {
    throw new InvalidRequestError("endpointOptions apply to gateway endpoints; local endpoints take none", "invalid_request");
  }
}
