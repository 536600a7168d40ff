// What the page and the runtime (in a worker, or inline on the main thread) say to each
// other. Plain structured-clone data only: a Blob crosses without a copy.

/** How the runtime gets the model: an OPFS-backed or user File, or bytes. */
export type ModelBytes = Blob;

/** Where the runtime is loaded from ("" moduleUrl: the single-thread one bundled with the package). */
export interface Assets {
  moduleUrl: string;
  wasmUrl: string;
  /** The pthread runtime: its threads' workers are started from the bundled script. */
  pthread: boolean;
}

export interface LoadSettings {
  nCtx: number;
  nBatch: number;
  nThreads: number;
  /** Threads for prompt batches (prefill, embeddings). */
  nThreadsBatch: number;
  embeddings: boolean;
  /** llama_pooling_type, -1 for the model's own. */
  pooling: number;
}

export interface LoadedInfo {
  nCtx: number;
  nEmbd: number;
  chatTemplate: boolean;
  threads: number;
  /** How the bytes reached the runtime: mounted (no copy) or copied into its memory. */
  mounted: boolean;
}

export interface Sampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatLastN: number;
  seed: number;
}

export interface TextJob {
  prompt: string | { role: string; content: string }[];
  maxTokens: number;
  sampling: Sampling;
  stop: string[];
  emitTokens: boolean;
}

export interface TextDone {
  text: string;
  finishReason: "stop" | "length" | "cancelled";
  promptTokens: number;
  outputTokens: number;
  prefillMs: number;
  decodeMs: number;
  ttftMs: number;
}

/** A failure as the page rethrows it: the error code picks the class. */
export interface Failure {
  code: string;
  message: string;
}

export type Request =
  | { op: "load"; assets: Assets; bytes: ModelBytes; settings: LoadSettings }
  | { op: "text"; rid: number; job: TextJob }
  | { op: "embed"; rid: number; input: string; normalize: boolean }
  | { op: "cancel"; rid: number }
  | { op: "free" };

export type Reply =
  | { op: "loaded"; info: LoadedInfo }
  | { op: "token"; rid: number; text: string }
  | { op: "done"; rid: number; done: TextDone }
  | { op: "embedded"; rid: number; values: Float32Array; tokens: number }
  | { op: "failed"; rid: number | null; failure: Failure };
