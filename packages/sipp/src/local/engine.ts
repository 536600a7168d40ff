// The WebAssembly runtime: one Emscripten instance of runtime/sipp_wasm.cpp (llama.cpp
// and ggml) holding one model. It runs wherever the client put it, in a worker
// (worker.ts) or on the main thread, and does one job at a time. Between two tokens it
// yields to the event loop, so a cancel message is seen within one token.
import createSippWasm, { type SippWasmModule } from "../runtime/sipp-wasm.js";
import threadWorkerSource from "../runtime/sipp-wasm-pthread-worker.js";
import type { Assets, Failure, LoadedInfo, LoadSettings, ModelBytes, TextDone, TextJob } from "./protocol.js";

const MOUNT = "/sipp-model";

let threadWorker: string | undefined;
/**
 * The script each pthread's worker runs, as a blob: URL of this origin. Bundlers inline
 * a file this small as a data: URL, whose opaque origin could not import the runtime.
 */
function threadWorkerUrl(): string {
  threadWorker ??= URL.createObjectURL(new Blob([threadWorkerSource], { type: "text/javascript" }));
  return threadWorker;
}

class Fail extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

export function failureOf(e: unknown): Failure {
  if (e instanceof Fail) return e.failure;
  const message = e instanceof Error ? e.message : String(e);
  return { code: "execution", message: `the WebAssembly runtime failed: ${message}` };
}

/** A macrotask without the 4 ms clamp of nested timers: lets queued messages run. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** How much of `text` can be shown while a stop string might still be completing. */
function safeLength(text: string, stops: string[]): number {
  let keep = text.length;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, text.length); k > 0; k--) {
      if (stop.startsWith(text.slice(text.length - k))) {
        keep = Math.min(keep, text.length - k);
        break;
      }
    }
  }
  return keep;
}

export class Engine {
  #m: SippWasmModule | undefined;
  #session = 0;
  #nEmbd = 0;
  #cancelled = new Set<number>();

  async load(assets: Assets, bytes: ModelBytes, s: LoadSettings): Promise<LoadedInfo> {
    const head = new Uint8Array(await bytes.slice(0, 4).arrayBuffer());
    if (String.fromCharCode(...head) !== "GGUF") {
      throw new Fail({ code: "not_gguf", message: "the model source is not a GGUF file (its first bytes are not `GGUF`)" });
    }
    const factory: typeof createSippWasm =
      assets.moduleUrl === "" ? createSippWasm : (await import(/* @vite-ignore */ assets.moduleUrl)).default;
    const logs: string[] = [];
    this.#m = await factory({
      locateFile: (path, prefix) => {
        if (path.endsWith(".wasm") && assets.wasmUrl) return assets.wasmUrl;
        if (path.endsWith(".worker.js") && assets.pthread) return threadWorkerUrl();
        return prefix + path;
      },
      // Each thread's worker imports the runtime again, by this URL.
      mainScriptUrlOrBlob: assets.moduleUrl || undefined,
      print: () => {},
      printErr: (t) => logs.push(t),
    });
    const m = this.#m;
    m._sipp_init();
    m.FS.mkdir(MOUNT);
    // In a worker the File is mounted and read in slices as llama.cpp asks: the model is
    // in memory once (its tensors). The main thread has no synchronous reads of a Blob,
    // so there the bytes are copied in first.
    let mounted = false;
    if (typeof (globalThis as { FileReaderSync?: unknown }).FileReaderSync !== "undefined") {
      m.FS.mount(m.FS.filesystems.WORKERFS, { blobs: [{ name: "model.gguf", data: bytes }] }, MOUNT);
      mounted = true;
    } else {
      m.FS.writeFile(`${MOUNT}/model.gguf`, new Uint8Array(await bytes.arrayBuffer()));
    }
    this.#session = m.ccall(
      "sipp_load",
      "number",
      ["string", "number", "number", "number", "number", "number", "number"],
      [`${MOUNT}/model.gguf`, s.nCtx, s.nBatch, s.nThreads, s.nThreadsBatch, s.embeddings ? 1 : 0, s.pooling],
    );
    if (mounted) m.FS.unmount(MOUNT);
    else m.FS.unlink(`${MOUNT}/model.gguf`);
    if (!this.#session) {
      const why = m.UTF8ToString(m._sipp_last_error()).trim() || logs.slice(-3).join(" ");
      throw new Fail({ code: "model_load", message: `llama.cpp could not load the model: ${why}` });
    }
    this.#nEmbd = m._sipp_n_embd(this.#session);
    return {
      nCtx: m._sipp_n_ctx(this.#session),
      nEmbd: this.#nEmbd,
      chatTemplate: m.UTF8ToString(m._sipp_chat_template(this.#session)) !== "",
      threads: s.nThreads,
      mounted,
    };
  }

  #module(): SippWasmModule {
    if (!this.#m || !this.#session) throw new Fail({ code: "endpoint_closed", message: "the model is not loaded" });
    return this.#m;
  }

  #error(): string {
    const m = this.#module();
    return m.UTF8ToString(m._sipp_last_error());
  }

  #render(messages: { role: string; content: string }[]): string {
    const m = this.#module();
    const enc = new TextEncoder();
    const ptrs: number[] = [];
    const str = (s: string): number => {
      const bytes = enc.encode(s);
      const p = m._malloc(bytes.length + 1);
      m.HEAPU8.set(bytes, p);
      m.HEAPU8[p + bytes.length] = 0;
      ptrs.push(p);
      return p;
    };
    const table = (values: string[]): number => {
      const p = m._malloc(values.length * 4);
      ptrs.push(p);
      values.forEach((v, i) => new DataView(m.HEAPU8.buffer).setUint32(p + i * 4, str(v), true));
      return p;
    };
    try {
      const roles = table(messages.map((x) => x.role));
      const contents = table(messages.map((x) => x.content));
      const out = m.ccall("sipp_render_chat", "number", ["number", "number", "number", "number"], [this.#session, roles, contents, messages.length]);
      if (!out) throw new Fail({ code: "chat_template", message: `the model's chat template failed to render: ${this.#error()}` });
      return m.UTF8ToString(out);
    } finally {
      ptrs.forEach((p) => m._free(p));
    }
  }

  cancel(rid: number): void {
    this.#cancelled.add(rid);
  }

  async text(rid: number, job: TextJob, onToken: (text: string) => void): Promise<TextDone> {
    const m = this.#module();
    const started = performance.now();
    const prompt = typeof job.prompt === "string" ? job.prompt : this.#render(job.prompt);
    const s = job.sampling;
    const n = m.ccall(
      "sipp_begin",
      "number",
      ["number", "string", "number", "number", "number", "number", "number", "number", "number", "number"],
      [this.#session, prompt, job.maxTokens, s.temperature, s.topK, s.topP, s.minP, s.repeatPenalty, s.repeatLastN, s.seed >>> 0],
    );
    if (n === -2) throw new Fail({ code: "context_overflow", message: this.#error() });
    if (n < 0) throw new Fail({ code: "execution", message: `prefill failed: ${this.#error()}` });
    const prefillMs = performance.now() - started;
    const decoder = new TextDecoder("utf-8", { fatal: false });
    let text = "";
    let shown = 0;
    let outputTokens = 0;
    let ttftMs = 0;
    let finishReason: TextDone["finishReason"] = "stop";
    const decodeStart = performance.now();
    for (;;) {
      if (this.#cancelled.delete(rid)) {
        finishReason = "cancelled";
        break;
      }
      const r = m._sipp_next(this.#session);
      if (r === -1) break;
      if (r === -3) {
        finishReason = "length";
        break;
      }
      if (r < 0) throw new Fail({ code: "execution", message: `decode failed: ${this.#error()}` });
      const p = m._sipp_piece(this.#session);
      text += decoder.decode(m.HEAPU8.slice(p, p + r), { stream: true });
      outputTokens++;
      if (outputTokens === 1) ttftMs = performance.now() - started;
      const hit = job.stop.map((x) => text.indexOf(x)).filter((i) => i >= 0);
      if (hit.length) {
        text = text.slice(0, Math.min(...hit));
        break;
      }
      const safe = job.stop.length ? safeLength(text, job.stop) : text.length;
      if (job.emitTokens && safe > shown) {
        onToken(text.slice(shown, safe));
        shown = safe;
      }
      await yieldToLoop();
    }
    this.#cancelled.delete(rid);
    text += finishReason === "cancelled" ? "" : decoder.decode();
    if (job.emitTokens && text.length > shown) onToken(text.slice(shown));
    return { text, finishReason, promptTokens: n, outputTokens, prefillMs, decodeMs: performance.now() - decodeStart, ttftMs };
  }

  embed(input: string, normalize: boolean): { values: Float32Array; tokens: number } {
    const m = this.#module();
    const out = m._malloc(this.#nEmbd * 4);
    try {
      const n = m.ccall("sipp_embed", "number", ["number", "string", "number", "number"], [this.#session, input, out, normalize ? 1 : 0]);
      if (n === -2) throw new Fail({ code: "context_overflow", message: this.#error() });
      if (n < 0) throw new Fail({ code: "unsupported_operation", message: this.#error() });
      return { values: new Float32Array(m.HEAPU8.buffer.slice(out, out + this.#nEmbd * 4)), tokens: n };
    } finally {
      m._free(out);
    }
  }

  free(): void {
    if (this.#m && this.#session) this.#m._sipp_free(this.#session);
    this.#session = 0;
  }
}
