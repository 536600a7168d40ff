// Browser-local endpoints (`kind: 'local'`): llama.cpp compiled to WebAssembly
// (runtime/sipp_wasm.cpp), in a worker by default. The descriptor is checked against
// the spec's browser rules first: backend auto, cpu or webgpu, where 'webgpu' is refused
// (this build has no WebGPU backend) instead of quietly running on the CPU. Runtime
// config groups use the native names; a field the browser runtime does not implement
// yet is refused by name, never ignored.
import {
  BackendUnavailableError,
  CancelledError,
  classFor,
  InvalidConfigError,
  NotSupportedYetError,
  type SippError,
  UnsupportedOperationError,
  ChatTemplateMissingError,
} from "./generated/errors.js";
import type * as S from "./generated/schema-types.js";
import type { LocalEndpointDescriptor } from "./descriptors.js";
import { RuntimeFailure, startHost, type Host } from "./local/host.js";
import type { Assets, LoadedInfo, Sampling } from "./local/protocol.js";
import { resolveSource, SourceError } from "./local/source.js";
import type { SippClientOptions } from "./options.js";
import type { EmbedCall, TextCall } from "./request.js";
import type { TextSink } from "./run.js";

const DESCRIPTOR_KEYS = ["kind", "source", "options"];
const OPTION_KEYS = ["backend", "runtime", "onProgress"];
/** What the browser runtime implements of each config group. */
const SUPPORTED: Record<string, readonly string[]> = {
  context: ["n_ctx", "n_batch", "n_threads", "n_threads_batch", "embeddings", "pooling"],
  sampling: ["seed", "top_k", "top_p", "min_p", "temperature", "repeat_penalty", "repeat_last_n"],
  cache: [],
  placement: [],
  scheduler: [],
  multimodal: [],
  residency: [],
  observability: [],
};
const POOLING: Record<string, number> = { none: 0, mean: 1, cls: 2, last: 3, rank: 4 };
type Threading = "single-thread" | "pthread";

function config(message: string): InvalidConfigError {
  return new InvalidConfigError(message, "invalid_config");
}

/** What a local descriptor asks for, checked. */
export function checkLocal(d: LocalEndpointDescriptor): { backend: "auto" | "cpu" | "webgpu" } {
  for (const key of Object.keys(d)) {
    if (!DESCRIPTOR_KEYS.includes(key)) {
      const hint = key === "modelPath" ? " (browser endpoints take `source`: a URL or a File; modelPath is Node's)" : "";
      throw config(`a local descriptor has no field \`${key}\`${hint}`);
    }
  }
  const source: unknown = d.source;
  const isBlob = typeof Blob !== "undefined" && source instanceof Blob;
  if (!(typeof source === "string" && source !== "") && !(source instanceof URL) && !isBlob) {
    throw config("a local endpoint needs `source`: the model's URL, or a File the user picked");
  }
  const o = d.options ?? {};
  if (typeof o !== "object" || o === null) throw config("local options must be an object");
  for (const key of Object.keys(o)) if (!OPTION_KEYS.includes(key)) throw config(`local options have no field \`${key}\``);
  const backend = o.backend ?? "auto";
  if (!["auto", "cpu", "webgpu"].includes(backend)) {
    throw config(`options.backend must be 'auto', 'cpu' or 'webgpu' in the browser, not ${JSON.stringify(backend)}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") throw config("options.onProgress must be a function");
  return { backend };
}

interface Settings {
  nCtx: number;
  nBatch: number;
  nThreads: number;
  nThreadsBatch: number;
  embeddings: boolean;
  pooling: number;
  sampling: S.SamplingRuntimeConfig;
}

function settingsOf(runtime: S.NativeRuntimeConfig | undefined, threading: Threading): Settings {
  const r = (runtime ?? {}) as Record<string, Record<string, unknown> | undefined>;
  if (typeof r !== "object" || r === null) throw config("options.runtime must be an object of config groups");
  for (const [group, fields] of Object.entries(r)) {
    const supported = SUPPORTED[group];
    if (!supported) throw config(`options.runtime has no group \`${group}\` (groups: ${Object.keys(SUPPORTED).join(", ")})`);
    if (fields === undefined || fields === null) continue;
    if (typeof fields !== "object") throw config(`options.runtime.${group} must be an object`);
    for (const [field, value] of Object.entries(fields)) {
      if (value === undefined || value === null) continue;
      if (!supported.includes(field)) {
        throw new NotSupportedYetError(
          `options.runtime.${group}.${field} is not supported by the browser runtime yet; remove it (it is never ignored)`,
          "not_supported",
        );
      }
    }
  }
  const c = (r.context ?? {}) as S.ContextRuntimeConfig;
  const whole = (v: unknown, what: string, min: number): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Number.isInteger(v) || (v as number) < min) throw config(`options.runtime.context.${what} must be a whole number >= ${min}`);
    return v as number;
  };
  const pooling = c.pooling ?? null;
  // Unset: one per core the browser reports, at most MAX_THREADS.
  const cores = threading === "pthread" ? Math.min(globalThis.navigator?.hardwareConcurrency ?? 2, MAX_THREADS) : 1;
  const nThreads = whole(c.n_threads, "n_threads", 1) ?? cores;
  if (pooling !== null && !(pooling in POOLING)) throw config(`options.runtime.context.pooling must be one of ${Object.keys(POOLING).join(", ")}`);
  return {
    nCtx: whole(c.n_ctx, "n_ctx", 16) ?? 2048,
    nBatch: whole(c.n_batch, "n_batch", 1) ?? 512,
    nThreads,
    nThreadsBatch: whole(c.n_threads_batch, "n_threads_batch", 1) ?? nThreads,
    embeddings: c.embeddings === true,
    pooling: pooling === null ? -1 : POOLING[pooling]!,
    sampling: (r.sampling ?? {}) as S.SamplingRuntimeConfig,
  };
}

/**
 * Most threads the pthread runtime starts: its worker pool, made at load, is
 * `-sPTHREAD_POOL_SIZE` in xtask/src/web.rs (keep the two equal); a thread started
 * later would need the event loop of the worker that is busy waiting for it.
 */
export const MAX_THREADS = 4;

/** What the pthread runtime needs (spec: WASM Threading): shared memory and workers. */
export function supportsWasmPthreads(): boolean {
  return typeof SharedArrayBuffer !== "undefined" && globalThis.crossOriginIsolated === true && typeof Worker !== "undefined";
}

/**
 * The runtime's asset URLs for `threading`, checked against the page's origin and
 * trustedOrigins. Written as `new URL("./runtime/…", import.meta.url)` so that bundlers
 * (Vite, webpack) copy the files next to the app.
 */
function assetsOf(client: Readonly<SippClientOptions>, threading: Threading): Assets {
  const assets: Assets =
    threading === "pthread"
      ? {
          moduleUrl: client.pthreadModuleUrl ?? new URL("./runtime/sipp-wasm-pthread.js", import.meta.url).href,
          wasmUrl: client.pthreadWasmUrl ?? new URL("./runtime/sipp-wasm-pthread.wasm", import.meta.url).href,
          pthread: true,
        }
      : {
          moduleUrl: client.moduleUrl ?? "",
          wasmUrl: client.wasmUrl ?? new URL("./runtime/sipp-wasm.wasm", import.meta.url).href,
          pthread: false,
        };
  const here = globalThis.location?.origin;
  const trusted = new Set([here, ...(client.trustedOrigins ?? [])]);
  const given: [string, string | undefined][] = [
    ["moduleUrl", client.moduleUrl],
    ["wasmUrl", client.wasmUrl],
    ["pthreadModuleUrl", client.pthreadModuleUrl],
    ["pthreadWasmUrl", client.pthreadWasmUrl],
    ["workerUrl", client.workerUrl],
  ];
  for (const [what, url] of given) {
    if (!url) continue;
    const origin = new URL(url, globalThis.location?.href).origin;
    if (!trusted.has(origin)) throw config(`${what} ${url} is on ${origin}, which is not this page's origin or in trustedOrigins`);
  }
  return assets;
}

function rethrow(id: string, e: unknown): SippError {
  if (e instanceof RuntimeFailure) {
    const Class = classFor(e.failure.code);
    return new Class(`endpoint \`${id}\`: ${e.failure.message}`, e.failure.code);
  }
  if (e instanceof SourceError) return new (classFor(e.code))(`endpoint \`${id}\`: ${e.message}`, e.code);
  return e as SippError;
}

export class LocalEndpoint {
  readonly kind = "local" as const;
  readonly #id: string;
  readonly #host: Host;
  readonly #info: LoadedInfo;
  readonly #settings: Settings;
  readonly #origin: string;
  readonly #threading: Threading;

  private constructor(id: string, host: Host, info: LoadedInfo, settings: Settings, origin: string, threading: Threading) {
    this.#id = id;
    this.#host = host;
    this.#info = info;
    this.#settings = settings;
    this.#origin = origin;
    this.#threading = threading;
  }

  static async load(id: string, d: LocalEndpointDescriptor, client: Readonly<SippClientOptions>): Promise<LocalEndpoint> {
    const { backend } = checkLocal(d);
    if (backend === "webgpu") {
      throw new BackendUnavailableError(
        `endpoint \`${id}\`: backend 'webgpu' was asked for, but this build of @sipp/sipp has no WebGPU backend; ` +
          "nothing ran on the CPU instead. Leave backend unset ('auto') or use 'cpu' when a CPU run is acceptable.",
        "backend_unavailable",
      );
    }
    const threading = client.wasmThreading ?? (supportsWasmPthreads() ? "pthread" : "single-thread");
    if (threading === "pthread" && !supportsWasmPthreads()) {
      throw new BackendUnavailableError(
        `endpoint \`${id}\`: wasmThreading 'pthread' needs SharedArrayBuffer, and this page is not cross-origin isolated: ` +
          "serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, or use 'single-thread'",
        "backend_unavailable",
      );
    }
    const settings = settingsOf(d.options?.runtime, threading);
    for (const [field, n] of [["n_threads", settings.nThreads], ["n_threads_batch", settings.nThreadsBatch]] as const) {
      if (threading === "single-thread" && n > 1) {
        throw config(`options.runtime.context.${field} ${n} needs wasmThreading 'pthread'; the single-thread runtime uses 1`);
      }
      if (n > MAX_THREADS) throw config(`options.runtime.context.${field} ${n}: the pthread runtime starts at most ${MAX_THREADS} threads`);
    }
    const assets = assetsOf(client, threading);
    let host: Host | undefined;
    try {
      const resolved = await resolveSource(d.source, client.browserCache ?? {}, d.options?.onProgress);
      host = startHost(client.executionMode ?? "auto", client.workerUrl);
      const info = await host.load(assets, resolved.bytes, settings);
      return new LocalEndpoint(id, host, info, settings, resolved.origin, threading);
    } catch (e) {
      host?.close();
      throw rethrow(id, e);
    }
  }

  /** What was loaded, and how: for diagnostics (and the tests' OPFS checks). */
  info(): Record<string, unknown> {
    return {
      backend: "cpu",
      runtime: `wasm-${this.#threading}`,
      threads: this.#info.threads,
      executionMode: this.#host.inWorker ? "worker" : "main-thread",
      nCtx: this.#info.nCtx,
      nEmbd: this.#info.nEmbd,
      chatTemplate: this.#info.chatTemplate,
      modelFrom: this.#origin,
      mountedWithoutCopy: this.#info.mounted,
    };
  }

  #sampling(call: TextCall): Sampling {
    const base = this.#settings.sampling;
    const over = call.local.sampling ?? {};
    for (const [field, value] of Object.entries(over)) {
      if (value !== undefined && value !== null && !SUPPORTED.sampling!.includes(field)) {
        throw new NotSupportedYetError(`sampling.${field} is not supported by the browser runtime yet`, "not_supported");
      }
    }
    const pick = <K extends keyof S.SamplingRuntimeConfig>(k: K): S.SamplingRuntimeConfig[K] => over[k] ?? base[k];
    return {
      temperature: call.options.temperature ?? pick("temperature") ?? 0.8,
      topK: pick("top_k") ?? 40,
      topP: call.options.topP ?? pick("top_p") ?? 0.95,
      minP: call.options.minP ?? pick("min_p") ?? 0.05,
      repeatPenalty: pick("repeat_penalty") ?? 1,
      repeatLastN: pick("repeat_last_n") ?? 64,
      seed: call.options.seed ?? pick("seed") ?? Math.floor(Math.random() * 2 ** 32),
    };
  }

  text(call: TextCall): (sink: TextSink, cancelled: AbortSignal) => void {
    if (call.local.grammar || call.local.jsonSchema) {
      throw new NotSupportedYetError("grammar and jsonSchema are not supported by the browser runtime yet", "not_supported");
    }
    if (typeof call.prompt !== "string" && !this.#info.chatTemplate) {
      throw new ChatTemplateMissingError(
        `endpoint \`${this.#id}\`: the model has no tokenizer.chat_template; render the prompt yourself and use query`,
        "chat_template_missing",
      );
    }
    const job = {
      prompt: call.prompt,
      maxTokens: call.options.maxTokens ?? 0,
      sampling: this.#sampling(call),
      stop: call.options.stop ?? [],
      emitTokens: call.emitTokens,
    };
    return (sink, cancelled) => {
      let sequence = 0;
      this.#host
        .text(job, (text) => sink.token({ text, tokenIds: [], sequence: sequence++ }), cancelled)
        .then((d) =>
          sink.finish({
            text: d.text,
            finishReason: d.finishReason,
            usage: { inputTokens: d.promptTokens, outputTokens: d.outputTokens, totalTokens: d.promptTokens + d.outputTokens },
            localStats: {
              backend: null,
              cachedPromptTokens: 0,
              decodeMs: d.decodeMs,
              decodeTokensPerSecond: d.decodeMs > 0 ? (d.outputTokens * 1000) / d.decodeMs : 0,
              maxBatchSequences: 1,
              prefillMs: d.prefillMs,
              prefillTokens: d.promptTokens,
              prefillTokensPerSecond: d.prefillMs > 0 ? (d.promptTokens * 1000) / d.prefillMs : 0,
              queueMs: 0,
              ttftMs: d.ttftMs,
            },
          }),
        )
        .catch((e: unknown) => sink.fail(rethrow(this.#id, e)));
    };
  }

  embed(call: EmbedCall): (cancelled: AbortSignal) => Promise<S.SippEmbeddingResponse> {
    if (!this.#settings.embeddings) {
      throw new UnsupportedOperationError(
        `endpoint \`${this.#id}\`: embed needs an endpoint loaded with runtime.context.embeddings = true`,
        "unsupported_operation",
      );
    }
    const normalize = call.local.normalize === true;
    return async (cancelled) => {
      if (cancelled.aborted) throw new CancelledError("embed cancelled", "cancelled");
      try {
        const r = await this.#host.embed(call.input, normalize);
        const pooling = (Object.keys(POOLING).find((k) => POOLING[k] === this.#settings.pooling) ?? "mean") as S.PoolingType;
        return {
          values: Array.from(r.values),
          usage: { inputTokens: r.tokens, outputTokens: 0, totalTokens: r.tokens },
          pooling: this.#settings.pooling === -1 ? null : pooling,
          normalized: normalize,
        };
      } catch (e) {
        throw rethrow(this.#id, e);
      }
    };
  }

  close(): void {
    this.#host.close();
  }
}
