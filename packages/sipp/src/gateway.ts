// Gateway endpoints (`kind: 'gateway'`): the first-party gateway profile over `fetch`,
// to a `sipp-gateway` or to a framework route that speaks the profile (the Next.js
// helpers of @sipp/sipp-server). The rules are the Rust gateway client's
// (crates/sipp/src/gateway_client, transport/http.rs, transport/stream.rs): bodies in
// the profile's snake_case, SSE `token`/`usage`/`done`/`error` events, a stream that
// ends before its final event is an error and never a short answer, and only answers
// that provably ran nothing (503, 429 with Retry-After) are retried — a fetch that failed
// may have reached the server, so it is not retried.
import {
  AuthenticationError,
  CancelledError,
  EndpointClosedError,
  InvalidConfigError,
  InvalidRequestError,
  RequestTimeoutError,
  SippError,
  TransportError,
} from "./generated/errors.js";
import type { SippEmbeddingResponse, SippTextResponse, Usage } from "./generated/schema-types.js";
import { DEFAULT_ROUTES } from "./generated/schema-fields.js";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { masked, protocolError, statusError, streamError } from "./failure.js";
import type { GatewayEndpointDescriptor, ValueProvider } from "./descriptors.js";
import { checkFields, wireOptions, type TextCall, type EmbedCall } from "./request.js";
import type { TextSink } from "./run.js";

const RETRY_AFTER_CAP_SECS = 3600;
const EVENT_LIMIT = 1024 * 1024;
/** Fields an option bucket may not set: the profile's own and every shared option. */
const PROFILE_FIELDS = ["model", "prompt", "messages", "input", "stream"];

type Credential = { name: string; bearer: boolean } & ({ value: string } | { provider: ValueProvider });

interface Deadlines {
  connectMs: number;
  requestMs: number;
  idleMs: number;
}

function config(message: string): InvalidConfigError {
  return new InvalidConfigError(message, "invalid_config");
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkedBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== "string" || baseUrl === "") throw config("gateway endpoints need baseUrl, an absolute http or https URL");
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw config(
      `baseUrl \`${baseUrl}\` is not an absolute URL; browser gateway descriptors need one (for a same-origin route, window.location.origin)`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw config(`baseUrl \`${baseUrl}\` must be http:// or https://`);
  if (url.search || url.hash || baseUrl.includes("?") || baseUrl.includes("#")) {
    throw config(`baseUrl \`${baseUrl}\` must not carry a query or fragment`);
  }
  if (url.username || url.password) throw config("baseUrl must not carry credentials; use authentication");
  return baseUrl.replace(/\/+$/, "");
}

function checkedCredential(d: GatewayEndpointDescriptor): Credential | null {
  const a = d.authentication ?? { kind: "none" };
  checkFields(a, "GatewayAuthentication", "authentication", ["valueProvider"], config);
  const hasValue = a.value !== undefined && a.value !== null;
  const provider = a.valueProvider;
  if (provider !== undefined && typeof provider !== "function") throw config("authentication.valueProvider must be a function");
  if (a.kind === "none") {
    if (hasValue || provider) throw config("authentication kind `none` takes no value; use bearer or header");
    return null;
  }
  let name: string;
  if (a.kind === "bearer") name = "authorization";
  else if (a.kind === "header") {
    if (typeof a.headerName !== "string" || a.headerName === "") throw config("authentication kind `header` needs headerName");
    if (!HEADER_NAME.test(a.headerName)) throw config(`authentication.headerName \`${a.headerName}\` is not a valid header name`);
    name = a.headerName;
  } else throw config(`authentication.kind must be none, bearer or header, not \`${String(a.kind)}\``);
  const bearer = a.kind === "bearer";
  if (hasValue && provider) throw config("set authentication value or valueProvider, not both");
  if (provider) return { name, bearer, provider };
  if (typeof a.value === "string" && a.value !== "") return { name, bearer, value: a.value };
  throw config(`authentication kind \`${a.kind}\` needs a value or a valueProvider`);
}

function checkedRoutes(d: GatewayEndpointDescriptor): { query: string; chat: string; embed: string } {
  const routes = { ...DEFAULT_ROUTES, ...(d.routes ?? {}) };
  checkFields(d.routes ?? {}, "GatewayRoutes", "routes", [], config);
  for (const [name, route] of Object.entries(routes)) {
    if (typeof route !== "string" || !route.startsWith("/") || /[?# ]/.test(route)) {
      throw config(`routes.${name} \`${String(route)}\` must be a path starting with /`);
    }
  }
  return routes;
}

function millis(v: number | null | undefined, fallback: number, what: string): number {
  if (v === undefined || v === null) return fallback;
  if (!Number.isInteger(v) || v < 0) throw config(`${what} must be a whole number of milliseconds`);
  return v;
}

/** Seconds from a `Retry-After` header (whole seconds; an HTTP date is not taken). */
function retryAfter(response: Response): number | null {
  const v = response.headers.get("retry-after")?.trim();
  if (!v || !/^\d+$/.test(v)) return null;
  return Math.min(Number(v), RETRY_AFTER_CAP_SECS);
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

/** Why an attempt's controller aborted. */
type Stop = { why: "cancel"; reason: string } | { why: "timeout"; what: string };

/** One request's lifetime: cancel, the whole-request deadline and a rearmable timer. */
class Attempt {
  readonly controller = new AbortController();
  stop: Stop | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #deadline: ReturnType<typeof setTimeout>;
  readonly #onCancel: () => void;

  constructor(
    readonly cancelled: AbortSignal,
    requestMs: number,
  ) {
    this.#onCancel = () => this.#end({ why: "cancel", reason: String(cancelled.reason ?? "cancelled") });
    if (cancelled.aborted) this.#onCancel();
    cancelled.addEventListener("abort", this.#onCancel, { once: true });
    this.#deadline = setTimeout(() => this.#end({ why: "timeout", what: `the request ran past ${requestMs} ms` }), requestMs);
  }

  #end(stop: Stop): void {
    if (this.stop) return;
    this.stop = stop;
    this.controller.abort(stop.why === "cancel" ? stop.reason : stop.what);
  }

  /** (Re)start the timer for the next wait: headers, or the next stream chunk. */
  arm(ms: number, what: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#end({ why: "timeout", what }), ms);
  }

  done(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
    this.cancelled.removeEventListener("abort", this.#onCancel);
  }
}

export class GatewayEndpoint {
  readonly kind = "gateway" as const;
  readonly #id: string;
  readonly #target: string;
  readonly #baseUrl: string;
  readonly #routes: { query: string; chat: string; embed: string };
  readonly #credential: Credential | null;
  readonly #headers: [string, string][];
  readonly #deadlines: Deadlines;
  readonly #maxRetries: number;
  readonly #backoffMs: number;
  readonly #protocolOptions: Record<string, unknown>;
  readonly #fetch: typeof fetch;
  /** Every credential value seen, masked out of error messages. */
  readonly #static: string[] = [];
  #provided: string[] = [];
  readonly #closed = new AbortController();

  constructor(id: string, d: GatewayEndpointDescriptor, fetchImpl: typeof fetch) {
    checkFields(d, "GatewayDescriptor", "a gateway descriptor", ["kind", "authentication"], config);
    if (typeof d.target !== "string" || d.target.trim() === "") throw config("gateway endpoints need a target");
    this.#id = id;
    this.#target = d.target;
    this.#baseUrl = checkedBaseUrl(d.baseUrl);
    this.#routes = checkedRoutes(d);
    this.#credential = checkedCredential(d);
    if (this.#credential && "value" in this.#credential) this.#static.push(this.#credential.value);
    this.#headers = (d.staticHeaders ?? []).map((h, i) => {
      checkFields(h, "StaticHeader", `staticHeaders[${i}]`, [], config);
      if (typeof h.name !== "string" || !HEADER_NAME.test(h.name)) throw config(`staticHeaders[${i}].name is not a valid header name`);
      if (typeof h.value !== "string") throw config(`staticHeaders[${i}].value must be a string`);
      this.#static.push(h.value);
      return [h.name, h.value];
    });
    const t = d.timeouts ?? {};
    checkFields(t, "TimeoutPolicy", "timeouts", [], config);
    this.#deadlines = {
      connectMs: millis(t.connectMs, 10_000, "timeouts.connectMs"),
      requestMs: millis(t.requestMs, 600_000, "timeouts.requestMs"),
      idleMs: millis(t.idleMs, 60_000, "timeouts.idleMs"),
    };
    const r = d.retry ?? {};
    checkFields(r, "RetryPolicy", "retry", [], config);
    this.#maxRetries = millis(r.maxRetries, 0, "retry.maxRetries");
    this.#backoffMs = millis(r.backoffMs, 200, "retry.backoffMs");
    const p = d.protocolOptions ?? {};
    if (typeof p !== "object" || Array.isArray(p)) throw config("protocolOptions must be an object");
    this.#protocolOptions = merged({}, p, "protocolOptions", config);
    this.#fetch = fetchImpl;
  }

  get #secrets(): string[] {
    return [...this.#static, ...this.#provided];
  }

  /** Runs still in flight end with EndpointClosedError. */
  close(): void {
    this.#closed.abort("endpoint_closed");
  }

  #extra(endpointOptions: Record<string, unknown> | undefined): Record<string, unknown> {
    const bad = (m: string): InvalidRequestError => new InvalidRequestError(m, "invalid_request");
    return merged({ ...this.#protocolOptions }, endpointOptions ?? {}, "endpointOptions", bad);
  }

  /** Start a query or chat; validation errors throw here, before anything is sent. */
  text(call: TextCall): (sink: TextSink, cancelled: AbortSignal) => void {
    const chat = typeof call.prompt !== "string";
    const body: Record<string, unknown> = {
      model: this.#target,
      ...(chat ? { messages: call.prompt } : { prompt: call.prompt }),
      ...wireOptions(call.options),
      ...(call.emitTokens ? { stream: true } : {}),
      ...this.#extra(call.endpointOptions),
    };
    const path = chat ? this.#routes.chat : this.#routes.query;
    return (sink, cancelled) => void this.#runText(path, body, call, sink, cancelled);
  }

  async #runText(path: string, body: Record<string, unknown>, call: TextCall, sink: TextSink, cancelled: AbortSignal): Promise<void> {
    const attempt = new Attempt(AbortSignal.any([cancelled, this.#closed.signal]), this.#deadlines.requestMs);
    let text = "";
    let batches = 0;
    try {
      const response = await this.#post(path, body, call.requestId, call.emitTokens, attempt);
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream")) {
        // Also the answer of a server that ignores `stream`: one batch with everything.
        const done = this.#textAnswer(await this.#json(response, attempt));
        if (call.emitTokens && done.text) sink.token({ text: done.text, tokenIds: [], sequence: 0 });
        sink.finish(done);
        return;
      }
      let finishReason: SippTextResponse["finishReason"] | null = null;
      let usage: Usage | null = null;
      let ended = false;
      for await (const event of this.#events(response, attempt)) {
        const data = this.#data(event);
        if (event.event === "token") {
          const t = field(data, "text", "string", this.#id, "token");
          if (t) {
            text += t;
            sink.token({ text: t, tokenIds: [], sequence: batches++ });
          }
        } else if (event.event === "usage") usage = this.#usage(data);
        else if (event.event === "done") {
          finishReason = this.#finish(field(data, "finish_reason", "string", this.#id, "done"));
          ended = true;
          break;
        } else if (event.event === "error") throw streamError(this.#id, data, this.#secrets);
        // Other names are future events.
      }
      if (!ended) {
        throw protocolError(
          this.#id,
          `the stream ended before its final event, after ${[...text].length} characters; the answer is incomplete`,
          this.#secrets,
        );
      }
      sink.finish({ text, finishReason: finishReason ?? "stop", usage, localStats: null });
    } catch (e) {
      const stop = attempt.stop;
      if (stop?.why === "cancel") {
        if (this.#closed.signal.aborted && !cancelled.aborted) {
          sink.fail(closed(this.#id));
        } else sink.finish({ text, finishReason: "cancelled", usage: null, localStats: null });
      } else if (stop?.why === "timeout") sink.fail(new RequestTimeoutError(`endpoint \`${this.#id}\`: ${stop.what}`, "timeout"));
      else sink.fail(this.#wrap(e));
    } finally {
      attempt.done();
    }
  }

  /** Start an embed. */
  embed(call: EmbedCall): (cancelled: AbortSignal) => Promise<SippEmbeddingResponse> {
    const body = { model: this.#target, input: call.input, ...this.#extra(call.endpointOptions) };
    return async (cancelled) => {
      const attempt = new Attempt(AbortSignal.any([cancelled, this.#closed.signal]), this.#deadlines.requestMs);
      try {
        const response = await this.#post(this.#routes.embed, body, call.requestId, false, attempt);
        return this.#embedAnswer(await this.#json(response, attempt));
      } catch (e) {
        const stop = attempt.stop;
        if (stop?.why === "cancel") {
          if (this.#closed.signal.aborted && !cancelled.aborted) throw closed(this.#id);
          throw new CancelledError(`embed cancelled: ${stop.reason}`, "cancelled");
        }
        if (stop?.why === "timeout") throw new RequestTimeoutError(`endpoint \`${this.#id}\`: ${stop.what}`, "timeout");
        throw this.#wrap(e);
      } finally {
        attempt.done();
      }
    };
  }

  #wrap(e: unknown): SippError {
    if (e instanceof SippError) return e;
    const why = e instanceof Error ? e.message : String(e);
    return new TransportError(
      `endpoint \`${this.#id}\`: could not reach ${new URL(this.#baseUrl).origin} (${masked(why, this.#secrets)}); ` +
        "the gateway may be down, or it does not allow this page's origin (its `allowed_origins`)",
      "transport",
    );
  }

  async #headersFor(requestId: string | null | undefined, stream: boolean): Promise<Headers> {
    const headers = new Headers(this.#headers);
    headers.set("content-type", "application/json");
    headers.set("accept", stream ? "text/event-stream" : "application/json");
    if (requestId) headers.set("x-request-id", requestId);
    const c = this.#credential;
    if (c) {
      let value: string;
      if ("value" in c) value = c.value;
      else {
        try {
          value = await c.provider();
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new AuthenticationError(`endpoint \`${this.#id}\`: the authentication value provider failed: ${why}`, "authentication");
        }
        if (typeof value !== "string" || value === "") {
          throw new AuthenticationError(`endpoint \`${this.#id}\`: the authentication value provider returned no value`, "authentication");
        }
        // Short-lived tokens come and go: the newest few are masked.
        if (!this.#provided.includes(value)) this.#provided = [value, ...this.#provided].slice(0, 8);
      }
      headers.set(c.name, c.bearer ? `Bearer ${value}` : value);
    }
    return headers;
  }

  async #post(path: string, body: unknown, requestId: string | null | undefined, stream: boolean, attempt: Attempt): Promise<Response> {
    const payload = JSON.stringify(body);
    for (let n = 0; ; n++) {
      const headers = await this.#headersFor(requestId, stream);
      attempt.arm(this.#deadlines.connectMs, `no answer within ${this.#deadlines.connectMs} ms`);
      const response = await this.#fetch(this.#baseUrl + path, {
        method: "POST",
        headers,
        body: payload,
        signal: attempt.controller.signal,
        redirect: "error",
        credentials: "omit",
        cache: "no-store",
      });
      if (response.ok) return response;
      const wait = retryAfter(response);
      const retryable = response.status === 503 || (response.status === 429 && wait !== null);
      const ms = wait !== null ? wait * 1000 : this.#backoffMs * 2 ** Math.min(n, 10);
      if (!retryable || n >= this.#maxRetries) {
        attempt.arm(this.#deadlines.idleMs, `the error answer stalled for ${this.#deadlines.idleMs} ms`);
        throw statusError(this.#id, response.status, await response.text(), wait, this.#secrets);
      }
      await response.body?.cancel();
      attempt.arm(ms + this.#deadlines.connectMs, "retry wait");
      await sleep(ms, attempt.controller.signal);
      if (attempt.stop) throw new CancelledError("stopped while waiting to retry", "cancelled");
    }
  }

  async #json(response: Response, attempt: Attempt): Promise<unknown> {
    attempt.arm(this.#deadlines.idleMs, `the answer stalled for ${this.#deadlines.idleMs} ms`);
    const raw = await response.text();
    try {
      return JSON.parse(raw);
    } catch {
      throw protocolError(this.#id, `not a gateway profile answer (not JSON): ${raw}`, this.#secrets);
    }
  }

  async *#events(response: Response, attempt: Attempt): AsyncGenerator<EventSourceMessage> {
    if (!response.body) throw protocolError(this.#id, "an event stream without a body", this.#secrets);
    const queue: EventSourceMessage[] = [];
    let bad: string | null = null;
    const parser = createParser({
      onEvent: (e) => queue.push(e),
      onError: (e) => (bad = e.message),
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = 0;
    try {
      for (;;) {
        attempt.arm(this.#deadlines.idleMs, `the stream was idle for ${this.#deadlines.idleMs} ms`);
        const { done, value } = await reader.read();
        if (done) break;
        pending += value.length;
        parser.feed(value);
        if (bad) throw protocolError(this.#id, `malformed event stream: ${bad}`, this.#secrets);
        if (queue.length) pending = 0;
        if (pending > EVENT_LIMIT) throw protocolError(this.#id, `a stream event is larger than ${EVENT_LIMIT >> 10} KiB`, this.#secrets);
        while (queue.length) yield queue.shift()!;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  #data(event: EventSourceMessage): unknown {
    try {
      return JSON.parse(event.data);
    } catch {
      throw protocolError(this.#id, `event \`${event.event ?? "message"}\` carries no JSON: ${event.data}`, this.#secrets);
    }
  }

  #finish(reason: string): SippTextResponse["finishReason"] {
    if (reason === "stop" || reason === "length" || reason === "cancelled") return reason;
    throw protocolError(this.#id, `unknown finish_reason \`${reason}\``, this.#secrets);
  }

  #usage(v: unknown): Usage {
    return {
      inputTokens: field(v, "input_tokens", "number", this.#id, "usage"),
      outputTokens: field(v, "output_tokens", "number", this.#id, "usage"),
      totalTokens: field(v, "total_tokens", "number", this.#id, "usage"),
    };
  }

  #textAnswer(v: unknown): SippTextResponse {
    const usage = v && typeof v === "object" && (v as Record<string, unknown>).usage;
    return {
      text: field(v, "text", "string", this.#id, "answer"),
      finishReason: this.#finish(field(v, "finish_reason", "string", this.#id, "answer")),
      usage: usage ? this.#usage(usage) : null,
      localStats: null,
    };
  }

  #embedAnswer(v: unknown): SippEmbeddingResponse {
    const o = (v && typeof v === "object" ? v : {}) as Record<string, unknown>;
    const values = o.embedding;
    if (!Array.isArray(values) || !values.every((x) => typeof x === "number")) {
      throw protocolError(this.#id, `not a gateway profile answer (no numeric \`embedding\`): ${JSON.stringify(v)}`, this.#secrets);
    }
    const pooling = typeof o.pooling === "string" ? (o.pooling as SippEmbeddingResponse["pooling"]) : null;
    const norm = Math.sqrt(values.reduce((s: number, x: number) => s + x * x, 0));
    return { values, usage: o.usage ? this.#usage(o.usage) : null, pooling, normalized: Math.abs(norm - 1) < 1e-3 };
  }
}

function field<T extends "string" | "number">(
  v: unknown,
  name: string,
  type: T,
  endpoint: string,
  what: string,
): T extends "string" ? string : number {
  const value = v && typeof v === "object" ? (v as Record<string, unknown>)[name] : undefined;
  if (typeof value !== type) {
    throw protocolError(endpoint, `not a gateway profile ${what} (\`${name}\` is not a ${type}): ${JSON.stringify(v)}`, []);
  }
  return value as T extends "string" ? string : number;
}

function closed(id: string): EndpointClosedError {
  return new EndpointClosedError(`endpoint \`${id}\` was closed or replaced while the request ran`, "endpoint_closed");
}

/** `extra` over `body`, refusing keys Sipp sets itself. */
function merged(
  body: Record<string, unknown>,
  extra: Record<string, unknown>,
  bucket: string,
  error: (m: string) => SippError,
): Record<string, unknown> {
  const typed = [...PROFILE_FIELDS, ...Object.values(wireOptions.names)];
  const key = Object.keys(extra).find((k) => typed.includes(k));
  if (key !== undefined) {
    throw error(
      `${bucket} may not set \`${key}\`: Sipp sets it from the request itself (messages, prompt, input, SippTextOptions); typed fields owned by Sipp: ${typed.join(", ")}`,
    );
  }
  return Object.assign(body, extra);
}
