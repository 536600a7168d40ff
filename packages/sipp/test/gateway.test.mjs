// The gateway endpoint against a loopback mock that records the exact bytes it gets:
// the profile body in snake_case, the headers, retries only of answers that ran nothing,
// deadlines, and option buckets. (tests/python/test_browser.py runs the same package in
// Chromium against the real sipp-gateway.) Node has the same fetch, streams and
// AbortSignal as a page, so the built dist/ runs here unchanged.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { after, describe, test } from "node:test";
import * as sipp from "../dist/index.js";

/** A server answering `replies` in order; `requests` holds what arrived. */
async function mock(replies) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
    const r = replies.shift() ?? { status: 500, json: { error: { code: "execution", message: "no reply scripted" } } };
    if (r.hang) return;
    if (r.sse) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const frame of r.sse) {
        res.write(frame);
        await new Promise((ok) => setTimeout(ok, r.pause ?? 2));
      }
      if (!r.stall) res.end();
      return;
    }
    res.writeHead(r.status ?? 200, { "content-type": "application/json", ...(r.headers ?? {}) });
    res.end(typeof r.json === "string" ? r.json : JSON.stringify(r.json));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => (server.closeAllConnections(), new Promise((ok) => server.close(ok))),
  };
}

const ok = { json: { id: "r1", model: "local", text: "Paris.", finish_reason: "stop", usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } } };
const sse = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

async function endpoint(server, extra = {}) {
  const client = new sipp.SippClient();
  const ref = await client.add("gw", { kind: "gateway", target: "local", baseUrl: server.url, ...extra });
  return { client, ref };
}

describe("the bytes a gateway endpoint sends", () => {
  const servers = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  test("chat: the profile body, options under their wire names, and the headers", async () => {
    const server = await mock([ok]);
    servers.push(server);
    const { client, ref } = await endpoint(server, {
      authentication: { kind: "bearer", value: "tok-secret-123456" },
      staticHeaders: [{ name: "x-app", value: "web" }],
      protocolOptions: { tenant: "t1" },
    });
    const response = await client.chat([{ role: "user", content: "Capital of France?" }], {
      endpoint: ref,
      maxTokens: 16,
      temperature: 0.2,
      topP: 0.9,
      minP: 0.05,
      seed: 7,
      stop: ["\n\n"],
      requestId: "req-42",
      endpointOptions: { priority: "high" },
    }).response;
    assert.deepEqual(response, { text: "Paris.", finishReason: "stop", usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 }, localStats: null });
    const [r] = server.requests;
    assert.equal(r.method, "POST");
    assert.equal(r.path, "/v1/chat");
    assert.equal(
      r.body,
      '{"model":"local","messages":[{"role":"user","content":"Capital of France?"}],"max_tokens":16,"min_p":0.05,' +
        '"seed":7,"stop":["\\n\\n"],"temperature":0.2,"top_p":0.9,"tenant":"t1","priority":"high"}',
    );
    assert.equal(r.headers.authorization, "Bearer tok-secret-123456");
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.headers.accept, "application/json");
    assert.equal(r.headers["x-request-id"], "req-42");
    assert.equal(r.headers["x-app"], "web");
  });

  test("query streams: stream true, SSE accepted, batches numbered, a header credential", async () => {
    const server = await mock([{ sse: [sse("token", { text: "Pa", sequence: 0 }), ": keep-alive\n\n", sse("token", { text: "ris", sequence: 1 }), sse("usage", { input_tokens: 3, output_tokens: 2, total_tokens: 5 }), sse("done", { finish_reason: "length" })] }]);
    servers.push(server);
    const { client, ref } = await endpoint(server, {
      routes: { query: "/api/sipp/query" },
      authentication: { kind: "header", headerName: "x-api-key", valueProvider: async () => "short-lived-1" },
    });
    const run = client.query("The capital of France is", { endpoint: ref, emitTokens: true });
    const batches = [];
    for await (const b of run.tokens) batches.push(b);
    assert.deepEqual(batches, [
      { text: "Pa", tokenIds: [], sequence: 0 },
      { text: "ris", tokenIds: [], sequence: 1 },
    ]);
    assert.deepEqual(await run.response, { text: "Paris", finishReason: "length", usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }, localStats: null });
    const [r] = server.requests;
    assert.equal(r.path, "/api/sipp/query");
    assert.equal(r.body, '{"model":"local","prompt":"The capital of France is","stream":true}');
    assert.equal(r.headers.accept, "text/event-stream");
    assert.equal(r.headers["x-api-key"], "short-lived-1");
    assert.equal(r.headers.authorization, undefined);
  });

  test("embed: model and input; normalized is measured", async () => {
    const server = await mock([{ json: { id: "e", model: "minilm", embedding: [0.6, 0.8], pooling: "mean" } }]);
    servers.push(server);
    const { client, ref } = await endpoint(server);
    const v = await client.embed("hello", { endpoint: ref }).response;
    assert.deepEqual(v, { values: [0.6, 0.8], usage: null, pooling: "mean", normalized: true });
    assert.equal(server.requests[0].path, "/v1/embed");
    assert.equal(server.requests[0].body, '{"model":"local","input":"hello"}');
  });
});

describe("failures", () => {
  const servers = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  test("503 and 429 with Retry-After are retried within the budget; 500 is not", async () => {
    const server = await mock([
      { status: 503, json: { error: { code: "unavailable", message: "loading" } } },
      { status: 429, headers: { "retry-after": "0" }, json: { error: { code: "overloaded", message: "busy" } } },
      ok,
      { status: 500, json: { error: { code: "execution", message: "boom" } } },
    ]);
    servers.push(server);
    const { client, ref } = await endpoint(server, { retry: { maxRetries: 2, backoffMs: 1 } });
    assert.equal((await client.query("a", { endpoint: ref }).response).text, "Paris.");
    assert.equal(server.requests.length, 3);
    await assert.rejects(client.query("b", { endpoint: ref }).response, (e) => e instanceof sipp.ExecutionError && e.status === 500 && e.upstreamCode === "execution");
    assert.equal(server.requests.length, 4, "a 500 may have run: not retried");
  });

  test("error answers are typed, keep Retry-After, and never quote the credential", async () => {
    const server = await mock([
      { status: 429, headers: { "retry-after": "7" }, json: { error: { code: "overloaded", message: "slow down" } } },
      { status: 401, json: { error: { code: "authentication", message: "bad token tok-secret-123456" } } },
      { status: 400, json: { error: { code: "context_overflow", message: "too long" } } },
    ]);
    servers.push(server);
    const { client, ref } = await endpoint(server, { authentication: { kind: "bearer", value: "tok-secret-123456" } });
    await assert.rejects(client.query("a", { endpoint: ref }).response, (e) => e instanceof sipp.OverloadedError && e.retryAfter === 7 && e.code === "overloaded");
    await assert.rejects(client.query("a", { endpoint: ref }).response, (e) => e instanceof sipp.AuthenticationError && !e.message.includes("tok-secret") && e.message.includes("***"));
    await assert.rejects(client.query("a", { endpoint: ref }).response, (e) => e instanceof sipp.InvalidRequestError && e.upstreamCode === "context_overflow");
  });

  test("an error event inside a stream, and a stream cut short, fail the run", async () => {
    const server = await mock([
      { sse: [sse("token", { text: "x", sequence: 0 }), sse("error", { error: { code: "context_overflow", message: "window full" } })] },
      { sse: [sse("token", { text: "x", sequence: 0 })] },
      { json: "<html>proxy</html>" },
    ]);
    servers.push(server);
    const { client, ref } = await endpoint(server);
    await assert.rejects(client.query("a", { endpoint: ref, emitTokens: true }).response, (e) => e instanceof sipp.InvalidRequestError && e.upstreamCode === "context_overflow" && e.status === null);
    await assert.rejects(client.query("a", { endpoint: ref, emitTokens: true }).response, (e) => e instanceof sipp.ProtocolError && /ended before its final event, after 1 characters/.test(e.message));
    await assert.rejects(client.query("a", { endpoint: ref }).response, (e) => e instanceof sipp.ProtocolError);
  });

  test("deadlines: no answer, and a stream gone quiet", async () => {
    const server = await mock([{ hang: true }, { sse: [sse("token", { text: "x", sequence: 0 })], stall: true }]);
    servers.push(server);
    const { client, ref } = await endpoint(server, { timeouts: { connectMs: 150, idleMs: 150 } });
    await assert.rejects(client.query("a", { endpoint: ref }).response, (e) => e instanceof sipp.RequestTimeoutError && /no answer within 150 ms/.test(e.message));
    await assert.rejects(client.query("a", { endpoint: ref, emitTokens: true }).response, (e) => e instanceof sipp.RequestTimeoutError && /idle/.test(e.message));
  });

  test("cancel before an answer ends the run as cancelled; close ends it as EndpointClosedError", async () => {
    const server = await mock([{ hang: true }, { hang: true }]);
    servers.push(server);
    const { client, ref } = await endpoint(server);
    const run = client.query("a", { endpoint: ref });
    setTimeout(() => run.cancel("user"), 50);
    assert.deepEqual(await run.response, { text: "", finishReason: "cancelled", usage: null, localStats: null });
    const closing = client.query("a", { endpoint: ref });
    setTimeout(() => void client.close(), 50);
    await assert.rejects(closing.response, (e) => e instanceof sipp.EndpointClosedError);
  });
});

describe("checked before anything is sent", () => {
  test("descriptors", async () => {
    const client = new sipp.SippClient();
    const bad = async (d, re) => assert.rejects(client.add("x", d), (e) => e instanceof sipp.InvalidConfigError && re.test(e.message));
    await bad({ kind: "gateway", target: "t", baseUrl: "/v1" }, /absolute URL/);
    await bad({ kind: "gateway", target: "t", baseUrl: "ftp://h" }, /http:\/\/ or https/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://u:p@h" }, /credentials/);
    await bad({ kind: "gateway", target: "", baseUrl: "http://h" }, /need a target/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://h", routes: { chat: "v1/chat" } }, /must be a path/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://h", base_url: "x" }, /no field `base_url`/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://h", authentication: { kind: "bearer" } }, /needs a value or a valueProvider/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://h", authentication: { kind: "none", value: "x" } }, /takes no value/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://h", authentication: { kind: "header", value: "x" } }, /needs headerName/);
    await bad({ kind: "gateway", target: "t", baseUrl: "http://h", protocolOptions: { max_tokens: 3 } }, /may not set `max_tokens`/);
    await bad({ kind: "local", modelPath: "/m.gguf" }, /browser endpoints take `source`/);
    await bad({ kind: "local", source: "/m.gguf", options: { backend: "cuda" } }, /'auto', 'cpu' or 'webgpu'/);
    assert.throws(() => new sipp.SippClient({ moduleUrl: "/a.js" }), (e) => e instanceof sipp.InvalidConfigError && /together/.test(e.message));
    assert.throws(() => new sipp.SippClient({ executionMode: "thread" }), sipp.InvalidConfigError);
  });

  test("requests", async () => {
    const client = new sipp.SippClient();
    const ref = await client.add("gw", { kind: "gateway", target: "t", baseUrl: "http://127.0.0.1:9" });
    const bad = async (run, Class, re) => assert.rejects(run.response, (e) => e instanceof Class && re.test(e.message));
    await bad(client.query("a", { endpoint: ref, maxTokens: 0 }), sipp.InvalidRequestError, /max_tokens must be at least 1/);
    await bad(client.query("a", { endpoint: ref, topP: 0 }), sipp.InvalidRequestError, /top_p/);
    await bad(client.query("a", { endpoint: ref, stop: [""] }), sipp.InvalidRequestError, /stop\[0\] is empty/);
    await bad(client.query("a", { endpoint: ref, contextKey: "k", grammar: "root ::= x" }), sipp.InvalidRequestError, /contextKey, grammar are local-only/);
    await bad(client.query("a", { endpoint: ref, endpointOptions: { prompt: "x" } }), sipp.InvalidRequestError, /may not set `prompt`/);
    await bad(client.chat([{ role: "tool", content: "x" }], { endpoint: ref }), sipp.InvalidRequestError, /role must be system, user or assistant/);
    await bad(client.query("a", { endpoint: { kind: "gateway", id: "nope" } }), sipp.UnknownEndpointError, /nope/);
    await bad(client.query("a"), sipp.EndpointRequiredError, /needs an endpoint/);
  });
});
