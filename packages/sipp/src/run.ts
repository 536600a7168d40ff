// Run handles, as in @sipp/sipp-server: a run is an async iterable of token batches (also
// `run.tokens`), has a `response` Promise, and `cancel(reason)`; an AbortSignal given
// with the request cancels it too. A cancelled text run still answers: the text so far,
// with finishReason "cancelled". Whatever produces the run (a fetch, a worker) writes
// into a `TextSink`; the run only orders what it is told.
import { CancelledError, type SippError } from "./generated/errors.js";
import type { SippEmbeddingResponse, SippTextResponse, TokenBatch } from "./generated/schema-types.js";

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Where a producer puts a text run's batches and its end. */
export interface TextSink {
  /** One batch (only called with `emitTokens: true`). */
  token(batch: TokenBatch): void;
  /** The final response; ends the run. */
  finish(response: SippTextResponse): void;
  /** The run failed; ends it. */
  fail(error: unknown): void;
}

/** What starts a run: gets the sink and a signal that aborts on cancel. */
export type TextProducer = (sink: TextSink, cancelled: AbortSignal) => void;
export type EmbedProducer = (cancelled: AbortSignal) => Promise<SippEmbeddingResponse>;

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === "string") return r;
  return r instanceof Error && r.message ? r.message : "aborted";
}

/** Cancel `cancel` when `signal` aborts; returns the unsubscribe. */
function follow(signal: AbortSignal | undefined, cancel: (reason: string) => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    cancel(reasonOf(signal));
    return () => {};
  }
  const onAbort = (): void => cancel(reasonOf(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/** A query or chat in flight. */
export class SippTextRun implements AsyncIterable<TokenBatch> {
  readonly #batches: TokenBatch[] = [];
  readonly #abort = new AbortController();
  #end: Settled<SippTextResponse> | undefined;
  #wake: (() => void) | undefined;
  #iterating = false;
  #response: Promise<SippTextResponse> | undefined;
  #unfollow: () => void = () => {};
  readonly #done: Promise<Settled<SippTextResponse>>;

  /** @internal */
  constructor(produce: TextProducer | SippError, signal?: AbortSignal) {
    let settle!: (s: Settled<SippTextResponse>) => void;
    this.#done = new Promise((r) => (settle = r));
    const end = (s: Settled<SippTextResponse>): void => {
      if (this.#end) return;
      this.#end = s;
      this.#unfollow();
      settle(s);
      this.#notify();
    };
    if (!(typeof produce === "function")) {
      end({ ok: false, error: produce });
      return;
    }
    this.#unfollow = follow(signal, (reason) => this.cancel(reason));
    const sink: TextSink = {
      token: (batch) => {
        if (this.#end) return;
        this.#batches.push(batch);
        this.#notify();
      },
      finish: (value) => end({ ok: true, value }),
      fail: (error) => end({ ok: false, error }),
    };
    try {
      produce(sink, this.#abort.signal);
    } catch (e) {
      end({ ok: false, error: e });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Token batches as they are generated (with `emitTokens: true`; none otherwise). */
  get tokens(): AsyncIterable<TokenBatch> {
    return { [Symbol.asyncIterator]: () => this[Symbol.asyncIterator]() };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TokenBatch> {
    if (this.#iterating) throw new TypeError("a run's tokens can be iterated once");
    this.#iterating = true;
    for (;;) {
      const batch = this.#batches.shift();
      if (batch) {
        yield batch;
        continue;
      }
      if (this.#end) {
        if (!this.#end.ok) throw this.#end.error;
        return;
      }
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  /**
   * The final response: the whole text (also when streamed), finishReason and usage.
   * Created on first read, so a failure seen through iteration leaves no unhandled
   * rejection behind.
   */
  get response(): Promise<SippTextResponse> {
    this.#response ??= this.#done.then((s) => {
      if (s.ok) return s.value;
      throw s.error;
    });
    return this.#response;
  }

  /** Stop generation; the response ends with finishReason "cancelled". */
  cancel(reason = "cancelled"): void {
    if (!this.#end) this.#abort.abort(reason);
  }
}

/** An embed in flight. */
export class SippEmbeddingRun {
  readonly #abort = new AbortController();
  readonly #done: Promise<Settled<SippEmbeddingResponse>>;
  #response: Promise<SippEmbeddingResponse> | undefined;

  /** @internal */
  constructor(produce: EmbedProducer | SippError, signal?: AbortSignal) {
    if (typeof produce !== "function") {
      this.#done = Promise.resolve({ ok: false, error: produce });
      return;
    }
    const unfollow = follow(signal, (reason) => this.cancel(reason));
    const cancelled = this.#abort.signal;
    this.#done = (async (): Promise<Settled<SippEmbeddingResponse>> => {
      try {
        return { ok: true, value: await produce(cancelled) };
      } catch (error) {
        if (cancelled.aborted) return { ok: false, error: new CancelledError(`embed cancelled: ${reasonOf(cancelled)}`, "cancelled") };
        return { ok: false, error };
      } finally {
        unfollow();
      }
    })();
  }

  /** The vector, usage, pooling and whether it is unit length. */
  get response(): Promise<SippEmbeddingResponse> {
    this.#response ??= this.#done.then((s) => {
      if (s.ok) return s.value;
      throw s.error;
    });
    return this.#response;
  }

  cancel(reason = "cancelled"): void {
    this.#abort.abort(reason);
  }
}
