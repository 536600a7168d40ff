// Generated from schema/sipp.schema.json by scripts/types.mjs (npm run build). Do not edit:
// change the Rust types in crates/sipp/src/types and run `cargo xtask schema`.

/**
 * How a gateway request authenticates.
 */
export type AuthenticationKind = "none" | "bearer" | "header";
/**
 * Backend selector for a local endpoint (`auto` picks the best compiled one).
 */
export type Backend = "auto" | "cpu" | "cuda" | "metal" | "vulkan";
/**
 * Whether finished sequences leave their KV behind for the next request to reuse.
 */
export type KvReuseMode = "none" | "live_slot_prefix" | "snapshot";
/**
 * Who said a message.
 */
export type ChatRole = "system" | "user" | "assistant";
/**
 * Flash attention policy.
 */
export type FlashAttention = "auto" | "on" | "off";
/**
 * How token embeddings are pooled into one vector.
 */
export type PoolingType = "none" | "mean" | "cls" | "last" | "rank";
/**
 * Endpoint kind selector.
 */
export type EndpointKind = "local" | "gateway" | "provider";
/**
 * Every error code, and what each one means for HTTP and for retrying: the one table
 * every front end reads (the gateway's answers, Python's exception classes; a test checks
 * each side against it). Codes are snake_case on every wire.
 */
export type ErrorCode =
  | "model_not_found"
  | "not_gguf"
  | "model_load"
  | "invalid_config"
  | "not_supported"
  | "backend_unavailable"
  | "invalid_request"
  | "unsupported_operation"
  | "chat_template_missing"
  | "chat_template"
  | "grammar"
  | "unknown_endpoint"
  | "endpoint_required"
  | "overloaded"
  | "context_overflow"
  | "cancelled"
  | "endpoint_closed"
  | "execution"
  | "authentication"
  | "authorization"
  | "not_found"
  | "payload_too_large"
  | "unavailable"
  | "transport"
  | "timeout"
  | "protocol";
/**
 * Why generation ended.
 */
export type FinishReason = "stop" | "length" | "cancelled";
export type Secret = string;
/**
 * How a model is split across several GPUs.
 */
export type SplitMode = "none" | "layer" | "row";
/**
 * A weight format `placement.transcode_weights` can produce.
 */
export type WeightFormat = "q8_0";
/**
 * One stage of the sampler chain, in the order given by `samplers`.
 */
export type SamplerStage = "penalties" | "top_k" | "top_p" | "min_p" | "temperature";
/**
 * Order in which waiting requests get a slot.
 */
export type SchedulerPolicy = "fcfs" | "decode_first";
/**
 * Which provider API a provider endpoint speaks.
 */
export type ProviderKind = "openai" | "openai_compatible" | "anthropic";
/**
 * What a text request generates from. On the wire: a string, or a list of messages.
 */
export type TextPrompt = string | ChatMessage[];

/**
 * llama.cpp perf counters (cumulative for the endpoint's context).
 */
export interface BackendProfile {
  evalMs: number;
  evalTokens: number;
  promptEvalMs: number;
  promptEvalTokens: number;
}
/**
 * Prefix KV reuse and snapshots.
 */
export interface CacheRuntimeConfig {
  /**
   * `snapshot` mode: most bytes they may hold together (default: an eighth of the
   * memory available when the endpoint loads, at most 8 GiB — llama-server's
   * `--cache-ram` default — and at least 256 MiB).
   */
  max_snapshot_bytes?: number | null;
  /**
   * `snapshot` mode: most host-RAM snapshots kept (default 64).
   */
  max_snapshot_entries?: number | null;
  mode?: KvReuseMode;
  /**
   * Most tokens an idle slot keeps for later prefix reuse (`None`: all).
   */
  retained_prefix_tokens?: number | null;
  /**
   * `snapshot` mode: also keep snapshots in this directory (one per endpoint), so
   * they survive a restart; the same limits apply on disk.
   */
  snapshot_dir?: string | null;
  /**
   * `snapshot` mode: also snapshot each running request when its prompt is prefilled
   * and every this many tokens after (at least 32), so a later prompt sharing a long
   * conversation's middle restores it even while the slot is still busy.
   */
  snapshot_interval_tokens?: number | null;
}
/**
 * One conversation turn.
 */
export interface ChatMessage {
  content: string;
  role: ChatRole;
}
/**
 * Context window, batch sizes, threads, attention and KV behaviour.
 */
export interface ContextRuntimeConfig {
  /**
   * The same greedy (or seeded) output whatever path a prompt took: cold prefill,
   * a reused or restored prefix, chunked prefill, any batch mates, any slot. Each
   * sequence gets one computation shape: llama.cpp's per-query-row flash attention
   * (keys f16, values bf16 in the KV cache, which rules out its batch-size-dependent
   * tiled and split-KV kernels) over its own KV window. `None` (default): on for text
   * endpoints on the CPU backend, unless `flash_attention = off` or `kv_unified = true`
   * (a shared pool interleaves requests' cells) rule it out; `true` refuses those.
   * `false`: llama.cpp's fastest kernel for each shape, and answers may change with
   * the cache and the batch on long prompts. GPU backends: not offered.
   */
  deterministic?: boolean | null;
  /**
   * Load the endpoint for `embed` instead of text generation.
   */
  embeddings?: boolean | null;
  flash_attention?: FlashAttention | null;
  /**
   * One pool of `n_ctx` KV cells shared by running requests (`true`), or a window of
   * `n_ctx` cells for each of them (`false`, default). Per-request windows keep each
   * request's arithmetic independent of what it is batched with, so greedy output is
   * the same alone or batched, at `n_parallel` times the KV memory; in a shared pool a
   * request reserves prompt + `max_tokens` cells and waits until they are free.
   */
  kv_unified?: boolean | null;
  /**
   * Most tokens one `decode` call carries.
   */
  n_batch?: number | null;
  /**
   * Most tokens (prompt + generated) one request may hold, however many run at once.
   * Default: 4096, or the model's trained context if smaller.
   */
  n_ctx?: number | null;
  /**
   * Sequences held by the context; the same knob as `scheduler.max_running_requests`.
   */
  n_parallel?: number | null;
  n_threads?: number | null;
  n_threads_batch?: number | null;
  n_ubatch?: number | null;
  offload_kqv?: boolean | null;
  pooling?: PoolingType | null;
}
/**
 * Lightweight handle returned by `add`: pass it to `query`, `chat` or `embed`.
 */
export interface EndpointRef {
  id: string;
  kind: EndpointKind;
}
/**
 * The credential of a gateway endpoint: a static value, or a provider asked on every
 * request (short-lived tokens).
 */
export interface GatewayAuthentication {
  /**
   * Header name for `kind = header`.
   */
  headerName?: string | null;
  kind: AuthenticationKind;
  value?: Secret | null;
}
/**
 * A request to a Sipp gateway (`kind: gateway`).
 */
export interface GatewayDescriptor {
  authentication?: GatewayAuthentication;
  /**
   * Absolute http(s) URL of the gateway; routes are appended to it.
   */
  baseUrl: string;
  /**
   * Merged into every request body (may not set the typed fields).
   */
  protocolOptions?: {
    [k: string]: unknown;
  };
  retry?: RetryPolicy;
  routes?: GatewayRoutes;
  staticHeaders?: StaticHeader[];
  /**
   * Public target name; sent as `model`.
   */
  target: string;
  timeouts?: TimeoutPolicy;
}
/**
 * Retries of requests that provably did not run: connection refused, `503` before any
 * byte of a body, `429` with `Retry-After`. A generation that started is never retried.
 * Off by default.
 */
export interface RetryPolicy {
  /**
   * Wait before a retry that the server did not time (doubles per attempt). Default 200 ms.
   */
  backoffMs?: number | null;
  /**
   * Extra attempts after the first.
   */
  maxRetries?: number;
}
/**
 * Gateway routes, appended to `base_url`.
 */
export interface GatewayRoutes {
  chat?: string;
  embed?: string;
  query?: string;
}
/**
 * A header sent on every request. Its value may be a credential, so it never prints.
 */
export interface StaticHeader {
  name: string;
  value: Secret;
}
/**
 * Deadlines of one remote request, in milliseconds (unset: the defaults below).
 */
export interface TimeoutPolicy {
  /**
   * Establishing the TCP (and TLS) connection. Default 10 s.
   */
  connectMs?: number | null;
  /**
   * Longest silence between two stream events (and before the first). Default 60 s.
   */
  idleMs?: number | null;
  /**
   * The whole request, first byte sent to last byte read. Default 10 min.
   */
  requestMs?: number | null;
}
/**
 * Embedding options only local endpoints accept.
 */
export interface LocalEmbedOptions {
  contextKey?: string | null;
  /**
   * L2-normalize the vector.
   */
  normalize?: boolean | null;
}
/**
 * A GGUF model run in this process.
 */
export interface LocalModelDescriptor {
  backend?: Backend;
  config?: NativeRuntimeConfig;
  modelPath: string;
}
/**
 * Every load-time setting of a local endpoint.
 */
export interface NativeRuntimeConfig {
  cache?: CacheRuntimeConfig;
  context?: ContextRuntimeConfig;
  multimodal?: MultimodalRuntimeConfig;
  observability?: ObservabilityRuntimeConfig;
  placement?: PlacementRuntimeConfig;
  residency?: ResidencyRuntimeConfig;
  sampling?: SamplingRuntimeConfig;
  scheduler?: SchedulerRuntimeConfig;
}
/**
 * Vision projector and image-token settings.
 */
export interface MultimodalRuntimeConfig {
  image_max_tokens?: number | null;
  image_min_tokens?: number | null;
  projector_path?: string | null;
  use_gpu?: boolean | null;
}
/**
 * Runtime metrics and backend diagnostics.
 */
export interface ObservabilityRuntimeConfig {
  /**
   * Collect llama.cpp's own perf counters and attach them to `local_stats`.
   */
  backend_profiling?: boolean;
  /**
   * Attach `local_stats` (TTFT, throughput, queue time) to responses.
   */
  runtime_metrics?: boolean;
}
/**
 * Model placement and memory mapping.
 */
export interface PlacementRuntimeConfig {
  /**
   * ggml device indices to place the model on.
   */
  devices?: number[] | null;
  fit_params?: boolean | null;
  /**
   * Layers to offload to the GPU (`None`: all layers when a GPU backend is chosen).
   */
  gpu_layers?: number | null;
  main_gpu?: number | null;
  split_mode?: SplitMode | null;
  tensor_split?: number[] | null;
  /**
   * Where transcoded files are kept (default `$XDG_CACHE_HOME/sipp/weights`, else
   * `~/.cache/sipp/weights`).
   */
  transcode_dir?: string | null;
  /**
   * Sipp extension: load Q4_0/Q4_1/Q5_0/Q5_1 weights re-encoded in this format (made
   * once into `transcode_dir`). Q8_0 has batched CPU kernels those formats lack:
   * faster prompts and batched decode, up to ~1.7x the file size, near-lossless (greedy text
   * can differ from the original file's). Other formats load as they are.
   */
  transcode_weights?: WeightFormat | null;
  use_mlock?: boolean | null;
  use_mmap?: boolean | null;
}
/**
 * GPU model residency policy.
 */
export interface ResidencyRuntimeConfig {
  allow_cpu_models_while_gpu_loaded?: boolean | null;
  max_gpu_models_per_device?: number | null;
  require_gpu_lease?: boolean | null;
}
/**
 * Default local sampling behaviour; request options override per call.
 */
export interface SamplingRuntimeConfig {
  logit_bias?: LogitBias[] | null;
  min_p?: number | null;
  mirostat?: MirostatConfig | null;
  /**
   * Repeat-penalty window in tokens (default 64).
   */
  repeat_last_n?: number | null;
  repeat_penalty?: number | null;
  /**
   * Sampler order; `None` uses penalties, top_k, top_p, min_p, temperature.
   */
  samplers?: SamplerStage[] | null;
  seed?: number | null;
  temperature?: number | null;
  top_k?: number | null;
  top_p?: number | null;
}
/**
 * An additive bias on one token's logit.
 */
export interface LogitBias {
  bias: number;
  token: number;
}
/**
 * Mirostat replaces top-k/top-p/min-p with a target-surprise controller.
 */
export interface MirostatConfig {
  eta?: number;
  tau?: number;
  /**
   * 1 or 2.
   */
  version: number;
}
/**
 * Request scheduling, batching and queue limits.
 */
export interface SchedulerRuntimeConfig {
  /**
   * Run many requests in shared decode batches; `false` runs one at a time.
   */
  continuous_batching?: boolean;
  /**
   * Requests that may wait for a slot before new ones are refused as overloaded.
   */
  max_queued_requests?: number | null;
  /**
   * Sequences decoded together; the same knob as `context.n_parallel`.
   */
  max_running_requests?: number | null;
  policy?: SchedulerPolicy;
  /**
   * Most prompt tokens one sequence prefills per step; 0 means up to `n_batch`.
   */
  prefill_chunk_size?: number;
}
/**
 * Local runtime timings of one request (`observability.runtime_metrics`).
 */
export interface LocalStats {
  /**
   * llama.cpp's own counters for the whole context (`backend_profiling`).
   */
  backend?: BackendProfile | null;
  /**
   * Prompt tokens whose KV was reused from an earlier request.
   */
  cachedPromptTokens: number;
  /**
   * Wall time from first token to the end.
   */
  decodeMs: number;
  decodeTokensPerSecond: number;
  /**
   * Most sequences that shared one decode call with this request.
   */
  maxBatchSequences: number;
  /**
   * Wall time spent on this request's prompt steps.
   */
  prefillMs: number;
  /**
   * Prompt tokens actually computed (excludes the reused prefix).
   */
  prefillTokens: number;
  prefillTokensPerSecond: number;
  /**
   * Submission until a sequence slot was free.
   */
  queueMs: number;
  /**
   * Submission to first generated token.
   */
  ttftMs: number;
}
/**
 * Options only local endpoints accept.
 */
export interface LocalTextOptions {
  /**
   * Names the conversation for KV prefix reuse.
   */
  contextKey?: string | null;
  /**
   * GBNF grammar (root rule `root`).
   */
  grammar?: string | null;
  /**
   * JSON schema compiled to a grammar; exclusive with `grammar`.
   */
  jsonSchema?: {
    [k: string]: unknown;
  };
  /**
   * Per-request sampling overrides on top of the endpoint's `sampling` defaults.
   */
  sampling?: SamplingRuntimeConfig | null;
}
/**
 * A provider API called directly (`kind: provider`), for trusted server-side code.
 */
export interface ProviderDescriptor {
  /**
   * Unset: `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` from the environment.
   */
  apiKey?: Secret | null;
  /**
   * Unset: `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` from the environment (as the
   * providers' SDKs read them), else the provider's own API.
   */
  baseUrl?: string | null;
  /**
   * Header that carries each request's `request_id` to the provider (e.g.
   * `x-request-id`), so upstream logs can be joined with the caller's; unset: none.
   */
  correlationHeader?: string | null;
  /**
   * The provider's model identifier.
   */
  model: string;
  provider: ProviderKind;
  retry?: RetryPolicy;
  staticHeaders?: StaticHeader[];
  timeouts?: TimeoutPolicy;
}
/**
 * `embed`: one vector for one input.
 */
export interface SippEmbedRequest {
  endpoint?: EndpointRef | null;
  endpointOptions?: {
    [k: string]: unknown;
  };
  input?: string;
  local?: LocalEmbedOptions;
  providerOptions?: {
    [k: string]: unknown;
  };
  /**
   * As for text requests.
   */
  requestId?: string | null;
}
/**
 * The final result of `embed`.
 */
export interface SippEmbeddingResponse {
  /**
   * Unit length (for remote vectors: measured).
   */
  normalized: boolean;
  /**
   * How token vectors were pooled; `None` when a remote API does not say.
   */
  pooling?: PoolingType | null;
  usage?: Usage | null;
  values: number[];
}
/**
 * Token counts of one request.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}
/**
 * Generation options every endpoint kind understands: the one list of them. The
 * gateway profile flattens this struct into its bodies, the OpenAI route reads it, the
 * remote adapters send what it serializes to, and the schema other languages check their
 * types against is derived from it (`schema/sipp.schema.json`). Unset fields serialize
 * to nothing so a body carries only what the caller set.
 */
export interface SippTextOptions {
  maxTokens?: number | null;
  /**
   * Drop tokens less likely than `min_p` times the likeliest one; within [0, 1].
   */
  minP?: number | null;
  seed?: number | null;
  /**
   * Generation stops before any of these strings; they are not part of the text.
   * `null` means none, as on the OpenAI-compatible routes.
   */
  stop?: string[];
  temperature?: number | null;
  topP?: number | null;
}
/**
 * A text request of either form: what the client, the endpoints, the gateway pipeline
 * and the codecs pass along.
 */
export interface SippTextRequest {
  /**
   * Stream `TokenBatch` values through the run handle.
   */
  emitTokens?: boolean;
  endpoint?: EndpointRef | null;
  /**
   * For gateway endpoints: their implementation decides what these mean.
   */
  endpointOptions?: {
    [k: string]: unknown;
  };
  local?: LocalTextOptions;
  options?: SippTextOptions;
  prompt?: TextPrompt;
  /**
   * For provider endpoints: extra body fields of the provider's API.
   */
  providerOptions?: {
    [k: string]: unknown;
  };
  /**
   * Correlates this request upstream: a gateway endpoint sends it as
   * `x-request-id`, a provider endpoint under its descriptor's
   * `correlation_header`. Local endpoints have nothing upstream and ignore it.
   */
  requestId?: string | null;
}
/**
 * The final result of `query` or `chat`.
 */
export interface SippTextResponse {
  finishReason: FinishReason;
  localStats?: LocalStats | null;
  /**
   * All generated text (also when it was streamed).
   */
  text: string;
  /**
   * Token counts; local endpoints always report them, a remote one when its server
   * does (a cancelled remote stream has none).
   */
  usage?: Usage | null;
}
/**
 * A group of generated tokens, in order.
 */
export interface TokenBatch {
  /**
   * 0-based index of this batch within the run.
   */
  sequence: number;
  /**
   * Text released by these tokens (stop strings and partial characters held back).
   */
  text: string;
  tokenIds: number[];
}
