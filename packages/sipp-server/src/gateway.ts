// Gateway profile helpers: serve the first-party Sipp gateway profile from your own
// routes (Next.js route handlers, Express, …). Bodies are decoded and answers encoded by
// the same Rust codec the `sipp-gateway` server and the gateway endpoint use, so a
// browser `kind: 'gateway'` endpoint cannot tell the difference. Routes, auth and
// policy stay yours.
import type { SippChatRequest, SippEmbedRequest, SippQueryRequest } from "./client";
import { SippError } from "./errors";
import { call } from "./native-errors";
import { native } from "./native";
import type { SippTextRun } from "./run";
import type { SippEmbeddingResponse, SippTextResponse } from "./schema-types";

/** A decoded profile body: `target` is its `model`; run `request` with the matching call. */
export interface DecodedGatewayBody<R> {
  target: string;
  /** The body asked for SSE (`stream: true`); `request.emitTokens` is set to match. */
  stream: boolean;
  request: R;
}

/** A body as a route has it: parsed JSON (`await request.json()`), text or bytes. */
export type GatewayBody = unknown;

function text(body: GatewayBody): string {
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return JSON.stringify(body) ?? "";
}

function decode<R>(operation: "query" | "chat" | "embed", body: GatewayBody): DecodedGatewayBody<R> {
  const d = call(() => native().gatewayDecode(operation, text(body)));
  return { target: d.target, stream: d.stream, request: d.request as R };
}

/** Decode a `/v1/query` body; a bad one throws `InvalidRequestError` (answer 400). */
export function decodeGatewayQueryBody(body: GatewayBody): DecodedGatewayBody<SippQueryRequest> {
  return decode("query", body);
}

/** Decode a `/v1/chat` body (roles system, user and assistant). */
export function decodeGatewayChatBody(body: GatewayBody): DecodedGatewayBody<SippChatRequest> {
  const d = decode<Record<string, unknown>>("chat", body);
  const { prompt, ...rest } = d.request;
  return { ...d, request: { ...rest, messages: prompt } as SippChatRequest };
}

/** Decode a `/v1/embed` body. */
export function decodeGatewayEmbedBody(body: GatewayBody): DecodedGatewayBody<SippEmbedRequest> {
  return decode("embed", body);
}

/** The JSON body of a finished query or chat (`Response.json(...)` it). */
export function gatewayTextResponseBody(target: string, response: SippTextResponse): unknown {
  return call(() => native().gatewayEncodeText(target, response));
}

/** The JSON body of a finished embed. */
export function gatewayEmbeddingResponseBody(target: string, response: SippEmbeddingResponse): unknown {
  return call(() => native().gatewayEncodeEmbedding(target, response));
}

/** An error as the profile answers it: `Response.json(r.body, r.init)`. */
export interface GatewayErrorResponse {
  body: unknown;
  init: { status: number; headers: Record<string, string> };
  /** The same error as an SSE `event: error` frame, for a stream already under way. */
  sseFrame: string;
}

/**
 * Map an error to the profile's answer. Sipp errors keep their code, status and
 * `Retry-After`; anything else is a 500 that does not echo its text (it may hold a secret).
 */
export function gatewayErrorResponse(error: unknown): GatewayErrorResponse {
  const known = error instanceof SippError;
  const code = known ? error.code : "execution";
  const message = known ? error.message : "internal error";
  const parts = native().gatewayError(code, message);
  const headers: Record<string, string> = { "content-type": "application/json" };
  const wait = (known ? error.retryAfter : null) ?? parts.retryAfter ?? null;
  if (wait !== null) headers["retry-after"] = String(Math.max(0, Math.round(wait)));
  return { body: parts.body, init: { status: parts.status, headers }, sseFrame: parts.sseFrame };
}

/**
 * The profile's SSE answer for a run started with `emitTokens: true`: `event: token` per
 * batch, then `usage` and `done`, or one `event: error`. If the client goes away the
 * body is cancelled and so is the run, freeing its engine sequence.
 */
export function gatewayTextStreamResponse(run: SippTextRun): Response {
  const encoder = new TextEncoder();
  const batches = run[Symbol.asyncIterator]();
  let finished = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await batches.next();
        if (!next.done) {
          controller.enqueue(encoder.encode(native().gatewaySseToken(next.value.text, next.value.sequence)));
          return;
        }
        const response = await run.response;
        finished = true;
        controller.enqueue(encoder.encode(native().gatewaySseFinish(response)));
      } catch (e) {
        finished = true;
        controller.enqueue(encoder.encode(gatewayErrorResponse(e).sseFrame));
      }
      controller.close();
    },
    cancel() {
      if (!finished) run.cancel("client_disconnected");
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
