// Gateway and provider endpoints from Node, and the gateway profile helpers: the spec's
// snippets against the real sipp-gateway, a loopback mock (the exact bytes sent) and
// llama-server (OpenAI-compatible); a profile route that a Sipp gateway endpoint calls.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Readable } from "node:stream";
import * as sipp from "@sipp/sipp-server";
import {
  EXAMPLES,
  GATEWAY_TOKEN,
  chatPrompt,
  mockUpstream,
  runNode,
  startGateway,
  startLlamaServer,
} from "./helpers.mjs";

const OPENAI_CHAT = {
  id: "chatcmpl-1",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "Paris (provider)." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 20, completion_tokens: 3, total_tokens: 23 },
};
const OPENAI_COMPLETION = {
  id: "cmpl-1",
  object: "text_completion",
  choices: [{ index: 0, text: "Paris (provider).", finish_reason: "stop" }],
  usage: { prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 },
};
const MOCK_KEY = "mock-openai-key-0123456789";
const sseChunk = (content, finish = null) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })}\n\n`;
/** A `/completions` stream chunk (what a query streams). */
const sseText = (text, finish = null) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, text: text ?? "", finish_reason: finish }] })}\n\n`;

describe("against the real sipp-gateway", () => {
  let gateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(() => gateway.stop());

  test("the spec's Gateway Chat snippet runs verbatim", async () => {
    const env = { ...process.env, SIPP_GATEWAY_TARGET: "local", SIPP_GATEWAY_URL: gateway.url, SIPP_GATEWAY_TOKEN: GATEWAY_TOKEN };
    const { code, stdout, stderr } = await runNode(join(EXAMPLES, "gateway_chat.js"), [], { env });
    assert.equal(code, 0, stderr);
    assert.ok(stdout.trim().length > 0, JSON.stringify(stdout));
    assert.ok(!gateway.log().includes(GATEWAY_TOKEN), "the token reached the gateway's log");
  });

  test("streams through a gateway endpoint, with a per-request credential function", async () => {
    const client = new sipp.SippClient();
    try {
      let asked = 0;
      const endpoint = await client.add("gw", {
        kind: "gateway",
        target: "local",
        baseUrl: gateway.url,
        authentication: {
          kind: "bearer",
          valueProvider: async () => {
            asked++;
            return GATEWAY_TOKEN;
          },
        },
      });
      const run = client.query({ endpoint, prompt: chatPrompt("What is the capital of France?"), emitTokens: true, options: { maxTokens: 16, temperature: 0 } });
      let text = "";
      for await (const b of run) text += b.text;
      const response = await run.response;
      assert.equal(response.text, text);
      assert.match(text, /Paris/);
      assert.equal(asked, 1);
    } finally {
      await client.close();
    }
  });

  test("a refused credential is AuthenticationError with the status", async () => {
    const client = new sipp.SippClient();
    const endpoint = await client.add("gw", {
      kind: "gateway",
      target: "local",
      baseUrl: gateway.url,
      authentication: { kind: "bearer", value: "wrong-token-000000000000" },
    });
    const e = await client.chat({ endpoint, messages: [{ role: "user", content: "hi" }] }).response.catch((e) => e);
    assert.ok(e instanceof sipp.AuthenticationError, String(e));
    assert.equal(e.status, 401);
    assert.equal(e.code, "authentication");
    const failing = await client.add("gw2", {
      kind: "gateway",
      target: "local",
      baseUrl: gateway.url,
      authentication: { kind: "bearer", valueProvider: () => Promise.reject(new Error("vault is down")) },
    });
    const e2 = await client.chat({ endpoint: failing, messages: [{ role: "user", content: "hi" }] }).response.catch((e) => e);
    assert.ok(e2 instanceof sipp.AuthenticationError, String(e2));
    assert.match(e2.message, /vault is down/);
    await client.close();
  });
});

describe("provider endpoints", () => {
  test("the spec's Direct Provider Chat snippet sends exactly the OpenAI body", async () => {
    const mock = await mockUpstream([{ json: OPENAI_CHAT }]);
    try {
      const env = { ...process.env, OPENAI_API_KEY: MOCK_KEY, OPENAI_BASE_URL: `${mock.url}/v1`, OPENAI_MODEL: "served-model" };
      const { code, stdout, stderr } = await runNode(join(EXAMPLES, "provider_chat.js"), [], { env });
      assert.equal(code, 0, stderr);
      assert.equal(stdout, "Paris (provider).\n");
      assert.equal(mock.requests.length, 1);
      const [r] = mock.requests;
      assert.equal(r.method, "POST");
      assert.equal(r.path, "/v1/chat/completions");
      assert.equal(r.headers.authorization, `Bearer ${MOCK_KEY}`);
      assert.deepEqual(r.json(), {
        model: "served-model",
        messages: [
          { role: "system", content: "Answer concisely." },
          { role: "user", content: "Explain provider inference." },
        ],
        max_completion_tokens: 64,
      });
    } finally {
      await mock.close();
    }
  });

  test("openai_compatible against llama-server: JSON and a stream", async () => {
    const server = await startLlamaServer();
    const client = new sipp.SippClient();
    try {
      const endpoint = await client.add("llama", { kind: "provider", provider: "openai_compatible", model: "smollm2", baseUrl: `${server.url}/v1` });
      const messages = [
        { role: "system", content: "Answer concisely." },
        { role: "user", content: "What is the capital of France?" },
      ];
      const response = await client.chat({ endpoint, messages, options: { maxTokens: 16, temperature: 0 } }).response;
      assert.match(response.text, /Paris/);
      assert.ok(response.usage.outputTokens > 0);
      const run = client.chat({ endpoint, messages, emitTokens: true, options: { maxTokens: 16, temperature: 0 } });
      let text = "";
      for await (const b of run) text += b.text;
      assert.equal((await run.response).text, text);
      assert.equal(text, response.text);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  test("providerOptions pass through; a cut stream fails typed, never quietly", async () => {
    const frames = [sseChunk("Par"), sseChunk("is")]; // no finish, no [DONE]
    const mock = await mockUpstream([{ json: OPENAI_CHAT }, { sse: frames }]);
    const client = new sipp.SippClient();
    try {
      const endpoint = await client.add("p", { kind: "provider", provider: "openai", model: "m", apiKey: MOCK_KEY, baseUrl: `${mock.url}/v1` });
      await client.query({ endpoint, prompt: "x", providerOptions: { reasoning_effort: "low" } }).response;
      assert.equal(mock.requests[0].json().reasoning_effort, "low");
      const run = client.query({ endpoint, prompt: "x", emitTokens: true });
      let text = "";
      await assert.rejects(async () => {
        for await (const b of run) text += b.text;
      }, sipp.ProtocolError);
      assert.equal(text, "Paris");
    } finally {
      await client.close();
      await mock.close();
    }
  });
});

/** Serve a fetch-style handler (`Request` → `Response`) on loopback, as frameworks do. */
async function serveHandler(handler) {
  let disconnects = 0;
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers, body: Buffer.concat(chunks) });
    const response = await handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return res.end();
    const body = Readable.fromWeb(response.body);
    res.on("close", () => {
      if (!res.writableFinished) {
        disconnects++;
        body.destroy();
      }
    });
    body.pipe(res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    disconnects: () => disconnects,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

describe("gateway profile helpers", () => {
  let handleQuery;
  before(async () => {
    ({ handleQuery } = await import(join(EXAMPLES, "gateway_route.js")));
  });

  test("the spec's route answers JSON in the profile's shape", async () => {
    const mock = await mockUpstream([{ json: OPENAI_COMPLETION }]);
    process.env.OPENAI_API_KEY = MOCK_KEY;
    process.env.OPENAI_BASE_URL = `${mock.url}/v1`;
    try {
      const body = { model: "served-model", prompt: "The capital of France is", max_tokens: 8, temperature: 0.2 };
      const response = await handleQuery(new Request("http://app/api/sipp/query", { method: "POST", body: JSON.stringify(body) }));
      assert.equal(response.status, 200);
      const json = await response.json();
      assert.equal(json.text, "Paris (provider).");
      assert.equal(json.finish_reason, "stop");
      assert.equal(json.model, "served-model");
      // The provider got the decoded request (a query: OpenAI's completions route),
      // options as sent.
      assert.equal(mock.requests[0].path, "/v1/completions");
      assert.deepEqual(mock.requests[0].json(), {
        model: "served-model",
        prompt: "The capital of France is",
        max_tokens: 8,
        temperature: 0.2,
      });
    } finally {
      await mock.close();
    }
  });

  test("bad bodies get the profile's typed error answer", async () => {
    for (const [body, code] of [
      [{ model: "m" }, "invalid_request"],
      [{ model: "m", prompt: "x", max_tokens: 0 }, "invalid_request"],
      [{ model: "m", prompt: "x", grammar: "root ::= x" }, "invalid_request"],
    ]) {
      const response = await handleQuery(new Request("http://app/q", { method: "POST", body: JSON.stringify(body) }));
      assert.equal(response.status, 400, JSON.stringify(body));
      const json = await response.json();
      assert.equal(json.error.code, code);
    }
    const plain = sipp.gatewayErrorResponse(new Error("secret sk-123 inside"));
    assert.equal(plain.init.status, 500);
    assert.ok(!JSON.stringify(plain.body).includes("sk-123"));
    const busy = sipp.gatewayErrorResponse(new sipp.OverloadedError("full", "overloaded", { retryAfter: 2.4 }));
    assert.equal(busy.init.status, 429);
    assert.equal(busy.init.headers["retry-after"], "2");
  });

  test("a Sipp gateway endpoint calls the route, JSON and SSE, and a disconnect cancels", async () => {
    const stallFrames = Array.from({ length: 400 }, (_, i) => sseText(`t${i} `));
    const mock = await mockUpstream([
      { json: OPENAI_COMPLETION },
      { sse: [sseText("Pa"), sseText("ris"), sseText(null, "stop"), "data: [DONE]\n\n"] },
      { sse: stallFrames, pause: 20, stall: true },
    ]);
    process.env.OPENAI_API_KEY = MOCK_KEY;
    process.env.OPENAI_BASE_URL = `${mock.url}/v1`;
    const app = await serveHandler(handleQuery);
    const client = new sipp.SippClient();
    try {
      const endpoint = await client.add("app", {
        kind: "gateway",
        target: "served-model",
        baseUrl: app.url,
        routes: { query: "/api/sipp/query" },
        authentication: { kind: "none" },
      });
      const answer = await client.query({ endpoint, prompt: "Capital of France?", options: { maxTokens: 8 } }).response;
      assert.equal(answer.text, "Paris (provider).");
      assert.equal(answer.finishReason, "stop");
      assert.equal(answer.usage.outputTokens, 3);

      const run = client.query({ endpoint, prompt: "Capital of France?", emitTokens: true });
      const texts = [];
      for await (const b of run) texts.push(b.text);
      assert.deepEqual(texts, ["Pa", "ris"]);
      assert.equal((await run.response).text, "Paris");

      // A stream the caller abandons: the route's body is cancelled, so is the run, so
      // is the provider request.
      const long = client.query({ endpoint, prompt: "Talk forever.", emitTokens: true });
      let n = 0;
      for await (const _ of long) if (++n === 3) long.cancel("caller left");
      assert.equal((await long.response).finishReason, "cancelled");
      await Promise.race([mock.hungUp, new Promise((_, no) => setTimeout(() => no(new Error("the provider stream was not closed")), 10_000))]);
      assert.equal(app.disconnects(), 1);
    } finally {
      await client.close();
      await app.close();
      await mock.close();
    }
  });

  test("decode helpers give requests the client runs as they are", () => {
    const chat = sipp.decodeGatewayChatBody({ model: "t", messages: [{ role: "user", content: "hi" }], stream: true, top_p: 0.5 });
    assert.equal(chat.target, "t");
    assert.equal(chat.stream, true);
    assert.deepEqual(chat.request.messages, [{ role: "user", content: "hi" }]);
    assert.equal(chat.request.emitTokens, true);
    assert.equal(chat.request.options.topP, 0.5);
    const embed = sipp.decodeGatewayEmbedBody(JSON.stringify({ model: "e", input: "text" }));
    assert.deepEqual([embed.target, embed.request.input], ["e", "text"]);
    assert.throws(() => sipp.decodeGatewayQueryBody("{not json"), sipp.InvalidRequestError);
    const body = sipp.gatewayEmbeddingResponseBody("e", { values: [0.5, 0.25], usage: null, pooling: "mean", normalized: false });
    assert.deepEqual(body.values ?? body.embedding, [0.5, 0.25]);
  });
});
