// The page's side of the runtime: one per local endpoint. `executionMode` picks where
// the Engine runs: 'auto' and 'worker' start a module worker (worker.ts), 'main-thread'
// runs it inline. Both speak protocol.ts, so the endpoint cannot tell them apart.
import { Engine, failureOf } from "./engine.js";
import type { Assets, Failure, LoadedInfo, LoadSettings, ModelBytes, Reply, Request, TextDone, TextJob } from "./protocol.js";

export class RuntimeFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

interface Pending {
  onToken?: (text: string) => void;
  resolve: (value: unknown) => void;
  reject: (e: RuntimeFailure) => void;
}

export interface Host {
  readonly inWorker: boolean;
  load(assets: Assets, bytes: ModelBytes, settings: LoadSettings): Promise<LoadedInfo>;
  text(job: TextJob, onToken: (text: string) => void, cancelled: AbortSignal): Promise<TextDone>;
  embed(input: string, normalize: boolean): Promise<{ values: Float32Array; tokens: number }>;
  close(): void;
}

let nextRid = 1;

class WorkerHost implements Host {
  readonly inWorker = true;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #loading: Pending | undefined;
  #dead: Failure | undefined;

  constructor(workerUrl: string | undefined) {
    this.#worker = workerUrl
      ? new Worker(workerUrl, { type: "module" })
      : new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<Reply>) => this.#reply(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#die({ code: "execution", message: `the runtime worker failed: ${e.message || "it could not start (workerUrl?)"}` });
    };
  }

  #die(failure: Failure): void {
    this.#dead = failure;
    this.#loading?.reject(new RuntimeFailure(failure));
    for (const p of this.#pending.values()) p.reject(new RuntimeFailure(failure));
    this.#pending.clear();
  }

  #reply(r: Reply): void {
    if (r.op === "loaded") {
      this.#loading?.resolve(r.info);
      return;
    }
    if (r.op === "failed" && r.rid === null) {
      this.#loading?.reject(new RuntimeFailure(r.failure));
      return;
    }
    const p = this.#pending.get(r.rid as number);
    if (!p) return;
    if (r.op === "token") p.onToken?.(r.text);
    else {
      this.#pending.delete(r.rid as number);
      if (r.op === "failed") p.reject(new RuntimeFailure(r.failure));
      else p.resolve(r.op === "done" ? r.done : { values: r.values, tokens: r.tokens });
    }
  }

  #send(request: Request, transfer: Transferable[] = []): void {
    if (this.#dead) throw new RuntimeFailure(this.#dead);
    this.#worker.postMessage(request, transfer);
  }

  load(assets: Assets, bytes: ModelBytes, settings: LoadSettings): Promise<LoadedInfo> {
    return new Promise((resolve, reject) => {
      this.#loading = { resolve: resolve as (v: unknown) => void, reject };
      this.#send({ op: "load", assets, bytes, settings });
    });
  }

  text(job: TextJob, onToken: (text: string) => void, cancelled: AbortSignal): Promise<TextDone> {
    const rid = nextRid++;
    return new Promise((resolve, reject) => {
      this.#pending.set(rid, { onToken, resolve: resolve as (v: unknown) => void, reject });
      const cancel = (): void => this.#worker.postMessage({ op: "cancel", rid } satisfies Request);
      if (cancelled.aborted) cancel();
      else cancelled.addEventListener("abort", cancel, { once: true });
      this.#send({ op: "text", rid, job });
    });
  }

  embed(input: string, normalize: boolean): Promise<{ values: Float32Array; tokens: number }> {
    const rid = nextRid++;
    return new Promise((resolve, reject) => {
      this.#pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.#send({ op: "embed", rid, input, normalize });
    });
  }

  close(): void {
    this.#die({ code: "endpoint_closed", message: "the endpoint was closed while the request ran" });
    this.#worker.terminate();
  }
}

class InlineHost implements Host {
  readonly inWorker = false;
  readonly #engine = new Engine();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  #run<T>(f: () => Promise<T> | T): Promise<T> {
    const next = this.#queue.then(async () => {
      if (this.#closed) throw new RuntimeFailure({ code: "endpoint_closed", message: "the endpoint was closed while the request ran" });
      try {
        return await f();
      } catch (e) {
        throw new RuntimeFailure(failureOf(e));
      }
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  load(assets: Assets, bytes: ModelBytes, settings: LoadSettings): Promise<LoadedInfo> {
    return this.#run(() => this.#engine.load(assets, bytes, settings));
  }

  text(job: TextJob, onToken: (text: string) => void, cancelled: AbortSignal): Promise<TextDone> {
    const rid = nextRid++;
    const cancel = (): void => this.#engine.cancel(rid);
    if (cancelled.aborted) cancel();
    else cancelled.addEventListener("abort", cancel, { once: true });
    return this.#run(() => this.#engine.text(rid, job, onToken));
  }

  embed(input: string, normalize: boolean): Promise<{ values: Float32Array; tokens: number }> {
    return this.#run(() => this.#engine.embed(input, normalize));
  }

  close(): void {
    this.#closed = true;
    void this.#run(() => this.#engine.free()).catch(() => {});
  }
}

export function startHost(mode: "auto" | "worker" | "main-thread", workerUrl: string | undefined): Host {
  if (mode === "main-thread" || (mode === "auto" && typeof Worker === "undefined")) return new InlineHost();
  return new WorkerHost(workerUrl);
}
