// What `add` registers and what `query`, `chat` and `embed` take, in the browser
// package's shape (spec: Browser Package, Runtime Options). Field types are the schema's
// (generated/schema-types.ts, the same file @sipp/sipp-server ships); only what is
// browser-specific is written here: a local endpoint's `source` and browser `backend`,
// and the request options object beside the prompt.
import type * as S from "./generated/schema-types.js";

export type EndpointRef = Readonly<S.EndpointRef>;

/** A gateway credential computed per request (a short-lived token, say). */
export type ValueProvider = () => string | Promise<string>;

/** Browser backends: `auto` picks the best one this build has; `webgpu` asks for a GPU. */
export type BrowserBackend = "auto" | "cpu" | "webgpu";

/** Where a browser-local model comes from: a URL the app serves, or a user's File. */
export type LocalSource = string | URL | Blob;

export interface LocalEndpointDescriptor {
  kind: "local";
  source: LocalSource;
  options?: {
    backend?: BrowserBackend;
    /** Runtime config groups, snake_case as in every package (context, sampling, …). */
    runtime?: S.NativeRuntimeConfig;
    /** Download progress of the model, in bytes. */
    onProgress?: (loaded: number, total: number | null) => void;
  };
}

export type GatewayEndpointDescriptor = { kind: "gateway" } & Omit<S.GatewayDescriptor, "authentication"> & {
    authentication?: S.GatewayAuthentication & { valueProvider?: ValueProvider };
  };

/** Provider credentials never belong in a page: `add` refuses this kind (see the error). */
export type ProviderEndpointDescriptor = { kind: "provider" } & S.ProviderDescriptor;

export type EndpointDescriptor = LocalEndpointDescriptor | GatewayEndpointDescriptor | ProviderEndpointDescriptor;

interface RequestEnvelope {
  /** The endpoint to run on; may be left out only when one local endpoint fits. */
  endpoint?: EndpointRef;
  /** Cancels the run when it aborts. */
  signal?: AbortSignal;
  /** Sent as `x-request-id` to a gateway (it logs and echoes it). */
  requestId?: string | null;
  /** For gateway endpoints: their implementation decides what these mean. */
  endpointOptions?: Record<string, unknown>;
}

/** Options of `query` and `chat`: the shared options, the envelope, and local-only fields. */
export type TextRequestOptions = S.SippTextOptions &
  S.LocalTextOptions &
  RequestEnvelope & {
    /** Stream token batches through `run.tokens`. */
    emitTokens?: boolean;
  };

/** Options of `embed`; `contextKey` and `normalize` are local-only. */
export type EmbedRequestOptions = S.LocalEmbedOptions & RequestEnvelope;

/** A chat turn as callers write it; `role` is checked when the request is made. */
export type ChatMessageInit = { role: S.ChatRole | (string & {}); content: string };
