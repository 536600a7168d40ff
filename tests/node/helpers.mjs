// Shared by the Node tests: the models, example scripts compiled from examples/node, a
// loopback mock upstream that records the exact bytes it receives, and server processes
// (sipp-gateway, llama-server) that are always stopped. `cargo xtask test` installs the
// packed @sipp/sipp-server into a fresh project and runs these files there.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the Node tests with \`cargo xtask test\``);
  return value;
}

export const MODEL = required("SIPP_TEST_MODEL");
export const EMBED_MODEL = required("SIPP_TEST_EMBED_MODEL");
export const GATEWAY_BIN = required("SIPP_GATEWAY_BIN");
export const LLAMA_SERVER = required("SIPP_LLAMA_SERVER");
export const EXAMPLES = fileURLToPath(new URL("../examples/build/", import.meta.url));

/** SmolLM2's own chat template around one user message. */
export const chatPrompt = (user) => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

/** Run `node file args…`; resolves with its exit code and output. */
export function runNode(file, args = [], { env = process.env, timeoutMs = 120_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} ran past ${timeoutMs} ms: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A free loopback port. */
export async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/**
 * A loopback HTTP server answering `replies` in order (`{status, json}` or `{sse: [frames],
 * stall}`); `requests` holds each request as it arrived. `hungUp` resolves when a client
 * closes a stream the mock was still writing.
 */
export async function mockUpstream(replies) {
  const requests = [];
  let hangUp;
  const hungUp = new Promise((r) => (hangUp = r));
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body, json: () => JSON.parse(body) });
    const reply = replies.shift() ?? { status: 500, json: { error: "no reply scripted" } };
    if (reply.sse) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.on("close", () => hangUp());
      for (const frame of reply.sse) {
        if (res.destroyed) return;
        res.write(frame);
        await new Promise((r) => setTimeout(r, reply.pause ?? 5));
      }
      if (!reply.stall) res.end();
      return;
    }
    res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...(reply.headers ?? {}) });
    res.end(JSON.stringify(reply.json));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    hungUp,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

async function waitFor(check, { timeoutMs, child, log, what }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${readFileSync(log, "utf8").slice(-3000)}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready in ${timeoutMs} ms: ${readFileSync(log, "utf8").slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const httpOk = (url, expect) => async () => {
  try {
    const r = await fetch(url);
    return r.ok && (!expect || (await r.text()).includes(expect));
  } catch {
    return false;
  }
};

const portOpen = (port) => () =>
  new Promise((resolve) => {
    const s = createConnection({ port, host: "127.0.0.1" }, () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });

/** Start `cmd args` with its log in a file; `ready` is polled. Returns `{stop, log}`. */
async function start(what, cmd, args, { env, ready, timeoutMs = 90_000 }) {
  const dir = mkdtempSync(join(tmpdir(), "sipp-node-"));
  const log = join(dir, "log");
  const fd = openSync(log, "w");
  const child = spawn(cmd, args, { env, stdio: ["ignore", fd, fd] });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await once(child, "exit").catch(() => {});
      clearTimeout(killer);
    }
  };
  try {
    await waitFor(ready, { timeoutMs, child, log, what });
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop, log: () => readFileSync(log, "utf8"), dir };
}

export const GATEWAY_TOKEN = "node-gateway-token-0123456789";

/** The real sipp-gateway serving the default model as target `local`. */
export async function startGateway() {
  const [pub, mgmt] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "sipp-gw-"));
  const config = join(dir, "gateway.toml");
  writeFileSync(
    config,
    `public_bind = "127.0.0.1:${pub}"
management_bind = "127.0.0.1:${mgmt}"
max_request_bytes = 65536
admin_password_env = "NODE_ADMIN_PASSWORD"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "NODE_GATEWAY_TOKEN"
caller = "node-tests"
targets = []
[[targets]]
name = "local"
type = "local"
model = "${MODEL}"
[targets.runtime.context]
n_ctx = 1024
`,
  );
  const env = { ...process.env, NODE_GATEWAY_TOKEN: GATEWAY_TOKEN, NODE_ADMIN_PASSWORD: "node-admin-password" };
  const server = await start("sipp-gateway", GATEWAY_BIN, ["serve", "--config", config], {
    env,
    ready: httpOk(`http://127.0.0.1:${mgmt}/readyz`, "ready"),
  });
  return { ...server, url: `http://127.0.0.1:${pub}` };
}

/** llama.cpp's llama-server on the default model (OpenAI-compatible routes). */
export async function startLlamaServer() {
  const port = await freePort();
  const args = ["-m", MODEL, "--host", "127.0.0.1", "--port", String(port), "-c", "2048", "-t", "2", "--no-webui"];
  const server = await start("llama-server", LLAMA_SERVER, args, {
    env: process.env,
    ready: httpOk(`http://127.0.0.1:${port}/health`),
  });
  return { ...server, url: `http://127.0.0.1:${port}`, port };
}

export { portOpen };
