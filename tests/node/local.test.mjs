// A local GGUF endpoint from Node: the spec's snippet, greedy answers, streaming,
// concurrency that shares decode batches, cancel (method and AbortSignal), typed errors
// that name the bad field, an event loop that keeps turning, and clean exits.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import * as sipp from "@sipp/sipp-server";
import { EXAMPLES, EMBED_MODEL, MODEL, chatPrompt, runNode } from "./helpers.mjs";

const greedy = (maxTokens) => ({ maxTokens, temperature: 0 });
const LONG = chatPrompt("Write a very long story about dragons and castles.");

let client;
let endpoint;
before(async () => {
  client = new sipp.SippClient();
  endpoint = await client.add("default", { kind: "local", modelPath: MODEL, config: { context: { n_ctx: 4096, n_parallel: 8 } } });
});
after(() => client.close());

describe("the spec's Local GGUF Query snippet", () => {
  test("runs verbatim and prints its one answer line", async () => {
    const { code, signal, stdout, stderr } = await runNode(join(EXAMPLES, "local_query.js"), [MODEL]);
    assert.equal(code, 0, stderr);
    assert.equal(signal, null);
    // Its generic <|system|> markers are not this model's template and it samples at
    // 0.7, so the text may be anything, even empty: one printed line, nothing else.
    assert.ok(stdout.endsWith("\n") && stdout.length >= 1, JSON.stringify(stdout));
  });
});

describe("the README's Node quickstart", () => {
  test("runs verbatim and streams an answer", async () => {
    const { code, stdout, stderr } = await runNode(join(EXAMPLES, "readme_quickstart.js"));
    assert.equal(code, 0, stderr);
    assert.ok(stdout.trim().split(/\s+/).length >= 3, JSON.stringify(stdout));
  });
});

describe("query and chat", () => {
  test("a greedy query answers sensibly, and the streamed text is the response's", async () => {
    const run = client.query({ endpoint, prompt: chatPrompt("What is the capital of France?"), emitTokens: true, options: greedy(24) });
    let streamed = "";
    let tokens = 0;
    let expected = 0;
    for await (const batch of run) {
      assert.equal(batch.sequence, expected++);
      streamed += batch.text;
      tokens += batch.tokenIds.length;
    }
    const response = await run.response;
    assert.match(response.text, /Paris/);
    assert.equal(response.text, streamed);
    assert.equal(response.usage.outputTokens, tokens);
    assert.ok(["stop", "length"].includes(response.finishReason));
    assert.ok(response.localStats.ttftMs > 0 && response.localStats.prefillTokens > 0);
    // `run.tokens` is the same stream, and `response` is one Promise.
    assert.equal(run.response, run.response);
  });

  test("chat renders the model's template", async () => {
    const messages = [
      { role: "system", content: "Answer concisely." },
      { role: "user", content: "What is the capital of France?" },
    ];
    const response = await client.chat({ endpoint, messages, options: greedy(16) }).response;
    assert.match(response.text, /Paris/);
    // The template rendered the system turn too: more prompt than the user's words.
    assert.ok(response.usage.inputTokens > 15, String(response.usage.inputTokens));
    const again = await client.chat({ endpoint, messages, options: greedy(16) }).response;
    assert.equal(again.text, response.text);
  });

  test("without emitTokens the run yields no batches but still answers", async () => {
    const run = client.query({ endpoint, prompt: chatPrompt("Say hi."), options: greedy(4) });
    const batches = [];
    for await (const b of run.tokens) batches.push(b);
    assert.deepEqual(batches, []);
    assert.ok((await run.response).usage.outputTokens >= 1);
  });

  test("8 concurrent streams give the serial greedy texts, batched together", async () => {
    const prompts = ["France", "Italy", "Spain", "Germany", "Japan", "Egypt", "Peru", "Canada"].map((c) =>
      chatPrompt(`What is the capital of ${c}?`),
    );
    const serial = [];
    for (const prompt of prompts) serial.push((await client.query({ endpoint, prompt, options: greedy(24) }).response).text);
    const streamOne = async (prompt) => {
      const run = client.query({ endpoint, prompt, emitTokens: true, options: greedy(24) });
      let text = "";
      for await (const b of run) text += b.text;
      const r = await run.response;
      assert.equal(r.text, text);
      return r;
    };
    const concurrent = await Promise.all(prompts.map(streamOne));
    assert.deepEqual(
      concurrent.map((r) => r.text),
      serial,
    );
    assert.ok(Math.max(...concurrent.map((r) => r.localStats.maxBatchSequences)) > 1, "the streams shared decode batches");
  });

  test("the event loop keeps turning while 8 streams generate", async () => {
    let last = performance.now();
    let worst = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    const runs = Array.from({ length: 8 }, (_, i) =>
      client.query({ endpoint, prompt: chatPrompt(`Count to ${10 + i}.`), emitTokens: true, options: greedy(48) }),
    );
    await Promise.all(runs.map(async (run) => {
      for await (const _ of run);
      return run.response;
    }));
    clearInterval(tick);
    // A blocked loop would show a gap as long as a generation (seconds).
    assert.ok(worst < 250, `the longest pause between 5 ms ticks was ${worst.toFixed(0)} ms`);
  });
});

describe("cancel", () => {
  test("cancel mid-stream ends the run as cancelled and frees its sequence", async () => {
    const one = await client.add("one", { kind: "local", modelPath: MODEL, config: { scheduler: { max_running_requests: 1 } } });
    try {
      const run = client.query({ endpoint: one, prompt: LONG, emitTokens: true, options: greedy(400) });
      let i = 0;
      for await (const _ of run) {
        if (++i === 3) run.cancel("user pressed stop");
      }
      const response = await run.response;
      assert.equal(response.finishReason, "cancelled");
      assert.ok(response.usage.outputTokens >= 3 && response.usage.outputTokens < 50, String(response.usage.outputTokens));
      const stats = client.endpointStats(one);
      assert.equal(stats.cancelledRequests, 1);
      assert.equal(stats.runningRequests, 0);
      // The single slot is free again.
      assert.ok((await client.query({ endpoint: one, prompt: chatPrompt("Hi"), options: greedy(4) }).response).usage.outputTokens >= 1);
    } finally {
      await client.remove(one);
    }
  });

  test("an AbortSignal cancels, also one aborted before the run started", async () => {
    const controller = new AbortController();
    const run = client.query({ endpoint, prompt: LONG, emitTokens: true, options: greedy(400), signal: controller.signal });
    let n = 0;
    for await (const _ of run) if (++n === 2) controller.abort();
    assert.equal((await run.response).finishReason, "cancelled");

    const early = client.query({ endpoint, prompt: LONG, options: greedy(400), signal: AbortSignal.abort("gone") });
    const response = await early.response;
    assert.equal(response.finishReason, "cancelled");
    assert.ok(response.usage.outputTokens < 5);
  });
});

test("a run outlives its client's JavaScript handle (a client made per request)", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  const start = async () => {
    const perRequest = new sipp.SippClient();
    const ep = await perRequest.add("m", { kind: "local", modelPath: MODEL });
    return perRequest.query({ endpoint: ep, prompt: LONG, emitTokens: true, options: greedy(32) });
  };
  const run = await start();
  let n = 0;
  for await (const _ of run) {
    n++;
    gc();
  }
  const response = await run.response;
  assert.equal(response.finishReason, "length");
  assert.equal(n, 32);
});

describe("typed errors", () => {
  test("a wrong model path is ModelNotFoundError", async () => {
    const e = await client.add("missing", { kind: "local", modelPath: "/nonexistent/model.gguf" }).catch((e) => e);
    assert.ok(e instanceof sipp.ModelNotFoundError && e instanceof sipp.ModelLoadError && e instanceof sipp.SippError, String(e));
    assert.equal(e.code, "model_not_found");
    assert.match(e.message, /\/nonexistent\/model\.gguf/);
  });

  test("an unknown endpoint is UnknownEndpointError", async () => {
    const run = client.query({ endpoint: { kind: "local", id: "nope" }, prompt: "x" });
    await assert.rejects(run.response, (e) => e instanceof sipp.UnknownEndpointError && e.code === "unknown_endpoint");
    // Iteration sees the same failure: a run never ends quietly.
    const again = client.query({ endpoint: { kind: "local", id: "nope" }, prompt: "x", emitTokens: true });
    await assert.rejects(async () => {
      for await (const _ of again);
    }, sipp.UnknownEndpointError);
  });

  test("a bad descriptor field is named as it was written", async () => {
    const cases = [
      [{ kind: "local", modelPth: MODEL }, /unknown field `modelPth` in `descriptor`; expected one of .*`modelPath`/],
      [{ kind: "local", modelPath: MODEL, config: { context: { n_ctxx: 5 } } }, /unknown field `n_ctxx` in `descriptor\.config\.context`/],
      [{ kind: "local", modelPath: MODEL, config: { context: { n_ctx: "big" } } }, /descriptor\.config\.context\.n_ctx: invalid type: string "big"/],
      [{ kind: "local" }, /missing field `modelPath`/],
      [{ kind: "gateway", target: "t", baseUrl: "http://127.0.0.1:1", authentication: { kind: "bearer", headerNme: "x" } }, /unknown field `headerNme` in `descriptor\.authentication`/],
      [{ kind: "lokal", modelPath: MODEL }, /descriptor\.kind must be 'local', 'gateway' or 'provider' \(got "lokal"\)/],
    ];
    for (const [descriptor, message] of cases) {
      const e = await client.add("bad", descriptor).catch((e) => e);
      assert.ok(e instanceof sipp.InvalidConfigError, `${JSON.stringify(descriptor)}: ${e}`);
      assert.equal(e.code, "invalid_config");
      assert.match(e.message, message);
    }
  });

  test("a bad request field throws InvalidRequestError at the call", () => {
    const cases = [
      [{ endpoint, prompt: "x", options: { maxTokns: 3 } }, /unknown field `maxTokns` in `request\.options`/],
      [{ endpoint, prompt: "x", options: { maxTokens: "3" } }, /request\.options\.maxTokens: invalid type: string "3"/],
      [{ endpoint, prompt: "x", options: { temperature: -1 } }, /temperature must be a finite number >= 0/],
      [{ endpoint, prompt: "x", local: { context_key: "k" } }, /unknown field `context_key` in `request\.local`/],
      [{ endpoint, prompt: 3 }, /query needs `prompt`, a string/],
    ];
    for (const [request, message] of cases) {
      assert.throws(() => client.query(request), (e) => e instanceof sipp.InvalidRequestError && message.test(e.message), JSON.stringify(request));
    }
    assert.throws(
      () => client.chat({ endpoint, messages: [{ role: "tool", content: "x" }] }),
      (e) => e instanceof sipp.InvalidRequestError && /unknown variant `tool`/.test(e.message),
    );
    assert.throws(() => client.chat({ endpoint, prompt: "x" }), /chat needs `messages`/);
  });

  test("every error code has its class, as in Python", () => {
    for (const [code, Class] of Object.entries(sipp.CLASS_OF_CODE)) {
      const e = new Class("m", code);
      assert.ok(e instanceof sipp.SippError && e instanceof Error);
      assert.equal(e.name, Class.name);
      assert.equal(sipp.classFor(code), Class);
    }
    assert.equal(sipp.classFor("something_else"), sipp.ExecutionError);
  });
});

describe("embed", () => {
  test("an embedding endpoint gives one vector", async () => {
    const minilm = await client.add("minilm", {
      kind: "local",
      modelPath: EMBED_MODEL,
      config: { context: { embeddings: true, pooling: "mean" } },
    });
    try {
      const response = await client.embed({ endpoint: minilm, input: "Sipp runs models.", local: { normalize: true } }).response;
      assert.equal(response.values.length, 384);
      assert.equal(response.normalized, true);
      const norm = Math.hypot(...response.values);
      assert.ok(Math.abs(norm - 1) < 1e-3, String(norm));
      assert.equal(response.pooling, "mean");
      // A text endpoint refuses, typed.
      await assert.rejects(client.embed({ endpoint, input: "x" }).response, sipp.UnsupportedOperationError);
    } finally {
      await client.remove(minilm);
    }
  });
});

describe("the package", () => {
  test("import and require load one implementation", async () => {
    const cjs = createRequire(import.meta.url)("@sipp/sipp-server");
    assert.equal(cjs.SippClient, sipp.SippClient);
    assert.equal(cjs.InvalidRequestError, sipp.InvalidRequestError);
    assert.deepEqual(Object.keys(sipp).filter((k) => k !== "default").sort(), Object.keys(cjs).sort());
    assert.deepEqual(sipp.compiledBackends()[0], "cpu");
    assert.equal(sipp.nativeBackend().backend, "cpu");
    assert.match(sipp.nativeBackend().file, /@sipp\/sipp-server-linux-x64-gnu\/sipp-server\.cpu\.node$/);
  });

  test("the published manifest names a platform package per OS/CPU, each declaring them", () => {
    const req = createRequire(import.meta.url);
    const manifest = req("@sipp/sipp-server/package.json");
    assert.deepEqual(Object.keys(manifest.optionalDependencies).sort(), [
      "@sipp/sipp-server-darwin-arm64",
      "@sipp/sipp-server-darwin-x64",
      "@sipp/sipp-server-linux-arm64-gnu",
      "@sipp/sipp-server-linux-x64-gnu",
      "@sipp/sipp-server-win32-x64-msvc",
    ]);
    assert.ok(Object.values(manifest.optionalDependencies).every((v) => v === manifest.version));
    assert.equal(manifest.sippPlatforms, undefined);
    const platform = req("@sipp/sipp-server-linux-x64-gnu/package.json");
    assert.deepEqual([platform.os, platform.cpu, platform.libc, platform.version], [["linux"], ["x64"], ["glibc"], manifest.version]);
  });

  test("without its platform package the loader names the package to install", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sipp-no-platform-"));
    const wrapper = dirname(createRequire(import.meta.url).resolve("@sipp/sipp-server/package.json"));
    cpSync(wrapper, join(dir, "node_modules", "@sipp", "sipp-server"), { recursive: true });
    const file = join(dir, "check.mjs");
    writeFileSync(file, "import('@sipp/sipp-server').then((m) => new m.SippClient().add('x', { kind: 'local', modelPath: 'm' })).catch((e) => { console.error(e.message); process.exit(3); })");
    const { code, stderr } = await runNode(file, [], { cwd: dir });
    assert.equal(code, 3);
    assert.match(stderr, /no native module for this platform \(linux-x64-gnu\): the package @sipp\/sipp-server-linux-x64-gnu is not installed/);
    assert.match(stderr, /--omit=optional/);
  });

  test("SIPP_NODE_BACKEND picks the build, and a missing one says what is packaged", async () => {
    const script = "import('@sipp/sipp-server').then((m) => console.log(m.compiledBackends().join(','))).catch((e) => { console.error(e.message); process.exit(3); })";
    const file = join(EXAMPLES, "..", "backend-check.mjs");
    writeFileSync(file, script);
    const cpu = await runNode(file, [], { env: { ...process.env, SIPP_NODE_BACKEND: "cpu" } });
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.equal(cpu.stdout.trim(), "cpu");
    const cuda = await runNode(file, [], { env: { ...process.env, SIPP_NODE_BACKEND: "cuda" } });
    assert.equal(cuda.code, 3);
    assert.match(cuda.stderr, /SIPP_NODE_BACKEND=cuda; packaged: cpu/);
    const bogus = await runNode(file, [], { env: { ...process.env, SIPP_NODE_BACKEND: "tpu" } });
    assert.match(bogus.stderr, /SIPP_NODE_BACKEND=tpu is not one of cpu, vulkan, cuda, metal/);
  });

  test("a script that ends without close() exits cleanly, 20 fresh processes", async () => {
    const file = join(EXAMPLES, "..", "no-close.mjs");
    writeFileSync(
      file,
      `import { SippClient } from '@sipp/sipp-server';
const client = new SippClient();
const endpoint = await client.add('m', { kind: 'local', modelPath: process.argv[2] });
const run = client.query({ endpoint, prompt: ${JSON.stringify(LONG)}, emitTokens: true, options: { maxTokens: 64, temperature: 0 } });
let n = 0;
for await (const b of run) {
  // process.exit() with a generation still running.
  if (process.argv[3] === 'exit' && ++n === 3) { console.log('left'); process.exit(0); }
}
console.log((await run.response).usage.outputTokens);
if (process.argv[3] === 'abandon') {
  // The script ends with a run still generating and its handle alive.
  const abandoned = client.query({ endpoint, prompt: ${JSON.stringify(LONG)}, emitTokens: true, options: { maxTokens: 400 } });
  await abandoned[Symbol.asyncIterator]().next();
  globalThis.keep = abandoned;
}
`,
    );
    for (let i = 0; i < 20; i++) {
      const mode = ["end", "exit", "abandon"][i % 3];
      const { code, signal, stdout, stderr } = await runNode(file, [MODEL, mode], { timeoutMs: 60_000 });
      assert.equal(signal, null, `run ${i} (${mode}) died by ${signal}: ${stderr}`);
      assert.equal(code, 0, `run ${i} (${mode}): ${stderr}`);
      assert.equal(stdout.trim(), mode === "exit" ? "left" : "64", `run ${i} (${mode})`);
      assert.equal(stderr, "", `run ${i} (${mode})`);
    }
  });
});
