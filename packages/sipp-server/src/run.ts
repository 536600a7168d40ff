// Run handles. A run is an async iterable of token batches (also `run.tokens`), has a
// `response` Promise, and `cancel(reason)`; an AbortSignal given with the request cancels
// it too. Every wait is a Promise the engine's threads settle: nothing blocks the loop.
import { settle } from "./native-errors";
import type { NativeEmbeddingRun, NativeTextRun } from "./native";
import type { SippEmbeddingResponse, SippTextResponse, TokenBatch } from "./schema-types";

/** Cancel `cancel` when `signal` aborts; returns the unsubscribe. */
function follow(signal: AbortSignal | undefined, cancel: (reason: string) => void): () => void {
  if (!signal) return () => {};
  const reasonOf = (): string => {
    const r: unknown = signal.reason;
    if (typeof r === "string") return r;
    return r instanceof Error && r.message ? r.message : "aborted";
  };
  if (signal.aborted) {
    cancel(reasonOf());
    return () => {};
  }
  const onAbort = (): void => cancel(reasonOf());
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/** A query or chat in flight. */
export class SippTextRun implements AsyncIterable<TokenBatch> {
  readonly #native: NativeTextRun;
  readonly #unfollow: () => void;
  #response: Promise<SippTextResponse> | undefined;

  /** @internal */
  constructor(native: NativeTextRun, signal?: AbortSignal) {
    this.#native = native;
    this.#unfollow = follow(signal, (reason) => native.cancel(reason));
  }

  /** Token batches as they are generated (with `emitTokens: true`; none otherwise). */
  get tokens(): AsyncIterable<TokenBatch> {
    return { [Symbol.asyncIterator]: () => this[Symbol.asyncIterator]() };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TokenBatch> {
    for (;;) {
      const batch = await settle(this.#native.nextBatch());
      if (batch === null) return;
      yield batch;
    }
  }

  /**
   * The final response: the whole text (also when streamed), finishReason, usage and
   * for local endpoints localStats. Created on first read, so a run whose failure is
   * seen through iteration leaves no unhandled rejection behind.
   */
  get response(): Promise<SippTextResponse> {
    this.#response ??= settle(this.#native.finish() as Promise<SippTextResponse>).finally(this.#unfollow);
    return this.#response;
  }

  /** Stop generation; the response ends with finishReason "cancelled". */
  cancel(reason = "cancelled"): void {
    this.#native.cancel(reason);
  }
}

/** An embed in flight. */
export class SippEmbeddingRun {
  readonly #native: NativeEmbeddingRun;
  readonly #unfollow: () => void;
  #response: Promise<SippEmbeddingResponse> | undefined;

  /** @internal */
  constructor(native: NativeEmbeddingRun, signal?: AbortSignal) {
    this.#native = native;
    this.#unfollow = follow(signal, (reason) => native.cancel(reason));
  }

  /** The vector, usage, pooling and whether it is unit length. */
  get response(): Promise<SippEmbeddingResponse> {
    this.#response ??= settle(this.#native.response() as Promise<SippEmbeddingResponse>).finally(this.#unfollow);
    return this.#response;
  }

  cancel(reason = "cancelled"): void {
    this.#native.cancel(reason);
  }
}
