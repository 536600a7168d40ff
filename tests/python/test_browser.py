"""The browser package ``@sipp/sipp`` in a real headless browser: Debian's Chromium
driven by Playwright for Python, against pages Vite built with the *packed* package
(``cargo xtask test`` packs it, installs the tarball into ``tests/browser/app`` and
``examples/web`` and builds both; ``SIPP_BROWSER_APP`` and ``SIPP_WEB_EXAMPLE`` name the
two). The test page is served twice by ``vite preview``: cross-origin isolated (COOP/COEP)
and plainly. Both talk to the real ``sipp-gateway`` binary with CORS allowing their origin.

What a page does, locally (llama.cpp in WebAssembly, in a worker and on the main
thread): the spec's Browser Local snippet (query, chat, embed on the default model and
MiniLM), a second load that comes from OPFS with no request, cancel mid-stream, typed
errors (not a GGUF, a missing model, no chat template, a prompt over the window,
``backend: 'webgpu'`` refused rather than run on the CPU). Through the gateway: a chat
that streams, a query and an embed, cancel, a value provider for short-lived tokens,
typed errors (a wrong token, a gateway that does not allow the origin, a stream cut
before its final event). The React example is used through its UI, both panels."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_sync

from conftest import MINILM, MODEL, ROOT
from servers import free_port, gateway_toml, http_ok, running

TOKEN = "browser-token-0123456789abcdef"
CHROMIUM = os.environ.get("SIPP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
APP = Path(os.environ.get("SIPP_BROWSER_APP", ROOT / "tests/browser/app"))
WEB = Path(os.environ.get("SIPP_WEB_EXAMPLE", ROOT / "examples/web"))
PORTS = {"isolated": free_port(), "plain": free_port(), "web": free_port()}


def node() -> str:
    found = shutil.which("node")
    if not found:
        pytest.fail("node missing; `cargo xtask test` sets up Node.js")
    return found


@pytest.fixture(scope="module")
def models_dir() -> Iterator[Path]:
    """What the test page serves at /models/: the two models and a file that is not GGUF."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "chat.gguf").symlink_to(MODEL)
        (d / "embed.gguf").symlink_to(MINILM)
        (d / "notes.gguf").write_bytes(b"not a model, just text" * 10)
        yield d


def vite_preview(app: Path, port: int, env: dict[str, str]) -> Any:
    vite = app / "node_modules/vite/bin/vite.js"
    if not (app / "dist/index.html").is_file() or not vite.is_file():
        pytest.fail(f"{app} is not built; `cargo xtask test` installs the packed @sipp/sipp there and runs vite build")
    cmd = [node(), str(vite), "preview", str(app), "--port", str(port), "--host", "127.0.0.1", "--strictPort"]
    return running(cmd, http_ok(f"http://127.0.0.1:{port}/"), env={**os.environ, **env}, timeout=60)


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, str, Any]]:
    binary = os.environ.get("SIPP_GATEWAY_BIN")
    if not binary or not Path(binary).is_file():
        pytest.fail("sipp-gateway binary missing; `cargo xtask test` builds it and sets SIPP_GATEWAY_BIN")
    public, management = free_port(), free_port()
    targets = f"""
[[targets]]
name = "local"
type = "local"
model = "{MODEL}"
[targets.runtime.context]
n_ctx = 1024
[[targets]]
name = "minilm"
type = "local"
model = "{MINILM}"
[targets.runtime.context]
embeddings = true
pooling = "mean"
"""
    origins = ", ".join(f'"http://127.0.0.1:{p}"' for p in PORTS.values())
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        toml = gateway_toml(
            public, management, admin_env="BROWSER_ADMIN_PASSWORD", token_env="BROWSER_GATEWAY_TOKEN",
            caller="browser-tests", targets=targets,
        )
        config.write_text(f"allowed_origins = [{origins}]\n" + toml)
        env = {**os.environ, "BROWSER_GATEWAY_TOKEN": TOKEN, "BROWSER_ADMIN_PASSWORD": "browser-admin-password"}
        ready = http_ok(f"http://127.0.0.1:{management}/readyz", b"ready")
        with running([binary, "serve", "--config", str(config)], ready, env=env, timeout=90) as log:
            yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{management}", log
            assert TOKEN not in log(), "the token reached the gateway's log"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium missing at {CHROMIUM}; `cargo xtask test` installs Debian's chromium")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module", params=["isolated", "plain"])
def page(request: pytest.FixtureRequest, browser: Any, gateway: tuple[str, str, Any], models_dir: Path) -> Iterator[Any]:
    mode = request.param
    port = PORTS[mode]
    env = {"SIPP_ISOLATED": "1" if mode == "isolated" else "0", "SIPP_MODELS_DIR": str(models_dir)}
    with vite_preview(APP, port, env):
        context = browser.new_context()
        pg = context.new_page()
        problems: list[str] = []
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.goto(f"http://127.0.0.1:{port}/")
        pg.wait_for_function("() => window.sipp !== undefined")
        assert pg.evaluate("() => window.crossOriginIsolated") is (mode == "isolated")
        assert pg.evaluate("() => typeof SharedArrayBuffer") == ("function" if mode == "isolated" else "undefined")
        pg.evaluate("([url, token]) => { window.GATEWAY = url; window.TOKEN = token; }", [gateway[0], TOKEN])
        pg.mode = mode
        yield pg
        assert not problems, problems
        context.close()


def run_js(page: Any, body: str) -> Any:
    """``body`` as an async function of the page (``sipp`` and the gateway in scope)."""
    return page.evaluate(
        "async (body) => { const sipp = window.sipp; const GATEWAY = window.GATEWAY; const TOKEN = window.TOKEN;"
        " return await (new Function('sipp', 'GATEWAY', 'TOKEN', `return (async () => { ${body} })()`))"
        "(sipp, GATEWAY, TOKEN); }",
        body,
    )


GATEWAY_ENDPOINT = """
const client = new sipp.SippClient();
let asked = 0;
const endpoint = await client.add('gateway', {
  kind: 'gateway', target: 'local', baseUrl: GATEWAY,
  authentication: { kind: 'bearer', valueProvider: async () => { asked += 1; return TOKEN; } },
});
"""


def test_gateway_chat_streams_in_the_page(page: Any) -> None:
    out = run_js(page, GATEWAY_ENDPOINT + """
const run = client.chat([
  { role: 'system', content: 'Answer concisely.' },
  { role: 'user', content: 'What is the capital of France?' },
], { endpoint, maxTokens: 32, temperature: 0, emitTokens: true });
const batches = [];
for await (const b of run.tokens) batches.push(b);
const response = await run.response;
const query = await client.query('The capital of France is', { endpoint, maxTokens: 8, temperature: 0 }).response;
await client.close();
return { batches, response, query, asked, html: document.documentElement.outerHTML };
""")
    response = out["response"]
    assert len(out["batches"]) > 1, "the chat did not stream"
    assert "".join(b["text"] for b in out["batches"]) == response["text"]
    assert [b["sequence"] for b in out["batches"]] == list(range(len(out["batches"])))
    assert "Paris" in response["text"], response
    assert response["finishReason"] in ("stop", "length")
    assert response["usage"]["outputTokens"] >= len(out["batches"]) - 1
    assert "Paris" in out["query"]["text"], out["query"]
    assert out["asked"] == 2, "the value provider is asked once per request"
    assert TOKEN not in out["html"]


def test_gateway_embed_on_minilm(page: Any) -> None:
    out = run_js(page, """
const client = new sipp.SippClient();
const endpoint = await client.add('embed', {
  kind: 'gateway', target: 'minilm', baseUrl: GATEWAY, authentication: { kind: 'bearer', value: TOKEN },
});
const a = await client.embed('A cat sits on the mat.', { endpoint }).response;
const b = await client.embed('A kitten is sitting on a rug.', { endpoint }).response;
const c = await client.embed('Quarterly tax filing deadlines.', { endpoint }).response;
let local = null;
try { await client.embed('x', { endpoint, normalize: true }).response; } catch (e) { local = [e.name, e.message]; }
const cos = (x, y) => { let d = 0, nx = 0, ny = 0; for (let i = 0; i < x.length; i++) { d += x[i]*y[i]; nx += x[i]*x[i]; ny += y[i]*y[i]; } return d / Math.sqrt(nx*ny); };
return { n: a.values.length, pooling: a.pooling, near: cos(a.values, b.values), far: cos(a.values, c.values), local };
""")
    assert out["n"] == 384
    assert out["pooling"] == "mean"
    assert out["near"] > out["far"] + 0.2, out
    assert out["local"][0] == "InvalidRequestError" and "normalize is local-only" in out["local"][1], out["local"]


def test_cancel_mid_stream(page: Any, gateway: tuple[str, str, Any]) -> None:
    out = run_js(page, GATEWAY_ENDPOINT + """
const run = client.chat([{ role: 'user', content: 'Write a long story about a dragon and a knight.' }],
  { endpoint, maxTokens: 400, emitTokens: true });
let n = 0, streamed = '';
for await (const b of run.tokens) { streamed += b.text; if (++n === 4) run.cancel('user stopped'); }
const response = await run.response;
const controller = new AbortController();
const second = client.chat([{ role: 'user', content: 'Count to one hundred.' }],
  { endpoint, maxTokens: 400, emitTokens: true, signal: controller.signal });
let m = 0;
for await (const b of second.tokens) { if (++m === 2) controller.abort('navigated away'); }
const aborted = await second.response;
await client.close();
return { response, n, streamed, aborted };
""")
    assert out["response"]["finishReason"] == "cancelled"
    assert out["response"]["text"] == out["streamed"]
    assert out["n"] < 40, "tokens kept coming after cancel"
    assert out["aborted"]["finishReason"] == "cancelled"


def test_typed_errors(page: Any, gateway: tuple[str, str, Any]) -> None:
    public, management, _ = gateway
    out = run_js(page, f"""
const client = new sipp.SippClient();
const errors = {{}};
const grab = async (name, f) => {{ try {{ await f(); errors[name] = null; }} catch (e) {{
  errors[name] = {{ name: e.name, code: e.code, status: e.status, message: e.message, sipp: e instanceof sipp.SippError }}; }} }};
const wrong = await client.add('wrong', {{ kind: 'gateway', target: 'local', baseUrl: GATEWAY,
  authentication: {{ kind: 'bearer', value: 'not-the-token-0123' }} }});
await grab('auth', () => client.chat([{{ role: 'user', content: 'hi' }}], {{ endpoint: wrong }}).response);
const missing = await client.add('missing', {{ kind: 'gateway', target: 'no-such-target', baseUrl: GATEWAY,
  authentication: {{ kind: 'bearer', value: TOKEN }} }});
await grab('target', () => client.query('hi', {{ endpoint: missing }}).response);
// The management listener has no CORS layer: the browser refuses to read it.
const noCors = await client.add('nocors', {{ kind: 'gateway', target: 'local', baseUrl: '{management}',
  authentication: {{ kind: 'none' }} }});
await grab('cors', () => client.query('hi', {{ endpoint: noCors }}).response);
await grab('relative', () => client.add('rel', {{ kind: 'gateway', target: 'local', baseUrl: '/api' }}));
await grab('provider', () => client.add('p', {{ kind: 'provider', provider: 'openai', model: 'gpt-5-mini' }}));
await grab('noEndpoint', () => client.query('hi').response);
await grab('badOption', () => client.query('hi', {{ endpoint: wrong, max_tokens: 4 }}).response);
await grab('webgpu', () => client.add('g', {{ kind: 'local', source: '/models/chat.gguf', options: {{ backend: 'webgpu' }} }}));
await grab('options', async () => new sipp.SippClient({{ wasmThreading: 'threads' }}));
return errors;
""")
    assert out["auth"]["name"] == "AuthenticationError" and out["auth"]["status"] == 401 and out["auth"]["sipp"]
    assert out["target"]["status"] in (403, 404), out["target"]
    assert out["cors"]["name"] == "TransportError" and "allowed_origins" in out["cors"]["message"]
    assert out["relative"]["name"] == "InvalidConfigError" and "absolute" in out["relative"]["message"]
    assert out["provider"]["name"] == "InvalidConfigError" and "provider key" in out["provider"]["message"]
    assert out["noEndpoint"]["name"] == "EndpointRequiredError"
    assert out["badOption"]["name"] == "InvalidRequestError" and "max_tokens" in out["badOption"]["message"]
    assert out["webgpu"]["name"] == "BackendUnavailableError" and "nothing ran on the CPU" in out["webgpu"]["message"]
    assert out["options"]["name"] == "InvalidConfigError"


class _Cut(BaseHTTPRequestHandler):
    """A profile route that starts a stream and hangs up before its final event."""

    def do_OPTIONS(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(204)
        self._cors()
        self.send_header("access-control-allow-headers", "content-type, authorization")
        self.send_header("access-control-allow-methods", "POST")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self._cors()
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for text in ("Hel", "lo"):
            self.wfile.write(f"event: token\ndata: {json.dumps({'text': text, 'sequence': 0})}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def _cors(self) -> None:
        self.send_header("access-control-allow-origin", self.headers.get("origin", "*"))

    def log_message(self, *_: object) -> None:
        pass


def test_a_cut_stream_is_an_error_not_a_short_answer(page: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cut)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        out = run_js(page, f"""
const client = new sipp.SippClient();
const endpoint = await client.add('cut', {{ kind: 'gateway', target: 't', baseUrl: '{url}', authentication: {{ kind: 'none' }} }});
const run = client.query('hi', {{ endpoint, emitTokens: true }});
const seen = [];
try {{ for await (const b of run.tokens) seen.push(b.text); return {{ seen, error: null }}; }}
catch (e) {{ return {{ seen, error: [e.name, e.message] }}; }}
""")
    finally:
        server.shutdown()
        server.server_close()
    assert out["seen"] == ["Hel", "lo"]
    assert out["error"][0] == "ProtocolError" and "ended before its final event" in out["error"][1]


def test_the_react_example_chats_through_the_gateway(browser: Any, gateway: tuple[str, str, Any]) -> None:
    public = gateway[0]
    port = PORTS["web"]
    with vite_preview(WEB, port, {"SIPP_MODEL": str(MODEL)}):
        context = browser.new_context()
        pg = context.new_page()
        problems: list[str] = []
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.goto(f"http://127.0.0.1:{port}/?gateway={public}&target=local")
        assert pg.get_by_test_id("isolated").inner_text() == "true"
        # Greedy, as a user would pin it: the default temperature samples, and a 135M model
        # sampled at 0.8 does not always say "Paris".
        for panel in ("gateway", "local"):
            pg.get_by_test_id(f"{panel}-temperature").fill("0")
        pg.get_by_test_id("gateway-send").click()
        pg.wait_for_function(
            "() => document.querySelector('[data-testid=gateway-status]').textContent !== 'running'"
        )
        status = pg.get_by_test_id("gateway-status").inner_text()
        assert status.startswith("AuthenticationError"), status
        pg.get_by_test_id("gateway-token").fill(TOKEN)
        pg.get_by_test_id("gateway-send").click()
        pg.wait_for_function(
            "() => document.querySelector('[data-testid=gateway-status]').textContent.startsWith('done')", timeout=60_000
        )
        assert "Paris" in pg.get_by_test_id("gateway-answer").inner_text()
        pg.get_by_test_id("local-send").click()
        pg.wait_for_function(
            "() => document.querySelector('[data-testid=local-status]').textContent.startsWith('done')", timeout=120_000
        )
        assert "Paris" in pg.get_by_test_id("local-answer").inner_text()
        # The example's page is cross-origin isolated: the pthread runtime, in a worker.
        cores = pg.evaluate("() => navigator.hardwareConcurrency")
        about = pg.get_by_test_id("local-about").inner_text()
        assert about == f"wasm-pthread, {min(cores, 4)} thread(s), worker", about
        # A bad temperature typed in is the library's typed refusal, shown as the status.
        pg.get_by_test_id("local-temperature").fill("-1")
        pg.get_by_test_id("local-send").click()
        pg.wait_for_function(
            "() => document.querySelector('[data-testid=local-status]').textContent !== 'running'"
        )
        status = pg.get_by_test_id("local-status").inner_text()
        assert status == "InvalidRequestError: temperature must be a finite number >= 0", status
        # ...and the endpoint stays: corrected, the next send runs on it.
        pg.get_by_test_id("local-temperature").fill("0")
        pg.get_by_test_id("local-send").click()
        pg.wait_for_function(
            "() => document.querySelector('[data-testid=local-status]').textContent !== 'running'", timeout=120_000
        )
        assert pg.get_by_test_id("local-status").inner_text().startswith("done"), pg.get_by_test_id("local-status").inner_text()
        assert TOKEN not in pg.content().replace(f'value="{TOKEN}"', "")
        assert not problems, problems
        context.close()


LOCAL_SNIPPET = """
const client = new sipp.SippClient();
const messages = [
  { role: 'system', content: 'Answer concisely.' },
  { role: 'user', content: 'What is the capital of France?' },
];
const queryPrompt = '<|im_start|>user\\nWhat is the capital of France?<|im_end|>\\n<|im_start|>assistant\\n';
const textEndpoint = await client.add('text', {
  kind: 'local',
  source: '/models/chat.gguf',
  options: { BACKEND runtime: { context: { n_ctx: 2048 } } },
});
const query = await client.query(queryPrompt, { endpoint: textEndpoint, maxTokens: 64, temperature: 0, contextKey: 'browser-query' }).response;
const chat = await client.chat(messages, { endpoint: textEndpoint, maxTokens: 64, temperature: 0, contextKey: 'browser-chat' }).response;
const embedEndpoint = await client.add('embed', {
  kind: 'local',
  source: '/models/embed.gguf',
  options: { BACKEND runtime: { context: { n_ctx: 2048, embeddings: true, pooling: 'mean' } } },
});
const embedding = await client.embed('Sipp embedding input.', { endpoint: embedEndpoint, contextKey: 'browser-embed', normalize: true }).response;
const near = await client.embed('A cat sits on the mat.', { endpoint: embedEndpoint, normalize: true }).response;
const close = await client.embed('A kitten is sitting on a rug.', { endpoint: embedEndpoint, normalize: true }).response;
const far = await client.embed('Quarterly tax filing deadlines.', { endpoint: embedEndpoint, normalize: true }).response;
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const info = client.endpointInfo(textEndpoint);
await client.close();
return { query, chat, n: embedding.values.length, norm: Math.sqrt(dot(embedding.values, embedding.values)),
  normalized: embedding.normalized, near: dot(near.values, close.values), far: dot(near.values, far.values), info };
"""


def served(page: Any) -> dict[str, int]:
    return dict(page.evaluate("async () => (await fetch('/models-served')).json()"))


def test_the_spec_browser_local_snippet(page: Any) -> None:
    # Verbatim, the snippet asks for WebGPU: this build has none, so it is refused (never a CPU run).
    refused = run_js(page, "try { " + LOCAL_SNIPPET.replace("BACKEND", "backend: 'webgpu',") + " } catch (e) { return [e.name, e.message]; }")
    assert refused[0] == "BackendUnavailableError" and "nothing ran on the CPU" in refused[1], refused
    out = run_js(page, LOCAL_SNIPPET.replace("BACKEND", ""))
    assert "Paris" in out["query"]["text"], out["query"]
    assert "Paris" in out["chat"]["text"], out["chat"]
    assert out["chat"]["finishReason"] == "stop" and out["chat"]["usage"]["outputTokens"] > 0
    assert out["chat"]["localStats"]["decodeTokensPerSecond"] > 0
    assert out["n"] == 384 and abs(out["norm"] - 1) < 1e-4 and out["normalized"]
    assert out["near"] > out["far"] + 0.2, out
    assert out["info"]["executionMode"] == "worker" and out["info"]["mountedWithoutCopy"] is True
    print(f"[{page.mode}] {out['info']['runtime']} decode {out['chat']['localStats']['decodeTokensPerSecond']:.1f} tok/s")


def test_a_second_load_comes_from_opfs(page: Any) -> None:
    before = served(page).get("chat.gguf", 0)
    out = run_js(page, """
const froms = [];
for (let i = 0; i < 2; i++) {
  const client = new sipp.SippClient();
  const ep = await client.add('text', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_ctx: 512 } } } });
  froms.push(client.endpointInfo(ep).modelFrom);
  const r = await client.query('The capital of France is', { endpoint: ep, maxTokens: 4, temperature: 0 }).response;
  froms.push(r.text);
  await client.close();
}
return froms;
""")
    assert out[0] in ("network", "cache") and out[2] == "cache", out
    assert out[1] == out[3], "the cached model answered differently"
    # The snippet test above already fetched it once in this context: no new request now.
    assert served(page).get("chat.gguf", 0) == before, served(page)


def test_local_cancel_mid_stream_and_main_thread(page: Any) -> None:
    out = run_js(page, """
const results = {};
for (const executionMode of ['worker', 'main-thread']) {
  const client = new sipp.SippClient({ executionMode });
  const ep = await client.add('text', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_ctx: 1024 } } } });
  const run = client.chat([{ role: 'user', content: 'Write a long story about a dragon and a knight.' }],
    { endpoint: ep, maxTokens: 400, emitTokens: true, temperature: 0 });
  let n = 0, streamed = '';
  for await (const b of run.tokens) { streamed += b.text; if (++n === 3) run.cancel('user'); }
  const response = await run.response;
  const after = await client.query('The capital of France is', { endpoint: ep, maxTokens: 4, temperature: 0 }).response;
  results[executionMode] = { response, streamed, n, info: client.endpointInfo(ep), after: after.text };
  await client.close();
}
return results;
""")
    for mode, r in out.items():
        assert r["response"]["finishReason"] == "cancelled", (mode, r)
        assert r["response"]["text"] == r["streamed"] and r["n"] <= 5, (mode, r)
        assert "Paris" in r["after"], (mode, r)
    assert out["worker"]["info"]["executionMode"] == "worker"
    assert out["main-thread"]["info"]["executionMode"] == "main-thread"
    assert out["main-thread"]["info"]["mountedWithoutCopy"] is False


def test_local_typed_errors(page: Any) -> None:
    out = run_js(page, """
const errors = {};
const grab = async (name, f) => { try { await f(); errors[name] = null; } catch (e) {
  errors[name] = { name: e.name, code: e.code, message: e.message, sipp: e instanceof sipp.SippError }; } };
const client = new sipp.SippClient();
await grab('notGguf', () => client.add('a', { kind: 'local', source: '/models/notes.gguf' }));
await grab('missing', () => client.add('b', { kind: 'local', source: '/models/absent.gguf' }));
await grab('spaFallback', () => client.add('b', { kind: 'local', source: '/no-such-dir/model.gguf' }));
await grab('unsupported', () => client.add('c', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { flash_attention: 'on' } } } }));
await grab('threads', () => new sipp.SippClient({ wasmThreading: 'pthread' }).add('d', { kind: 'local', source: '/models/chat.gguf' }));
const small = await client.add('small', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_ctx: 32 } } } });
await grab('overflow', () => client.query('word '.repeat(2000), { endpoint: small }).response);
await grab('embedOnText', () => client.embed('x', { endpoint: small }).response);
await grab('grammar', () => client.query('x', { endpoint: small, grammar: 'root ::= "a"' }).response);
const emb = await client.add('emb', { kind: 'local', source: '/models/embed.gguf', options: { runtime: { context: { embeddings: true } } } });
await grab('noTemplate', () => client.chat([{ role: 'user', content: 'hi' }], { endpoint: emb }).response);
await client.close();
return errors;
""")
    assert out["notGguf"]["name"] == "NotGgufError", out["notGguf"]
    assert out["missing"]["name"] == "ModelNotFoundError" and "404" in out["missing"]["message"], out["missing"]
    assert out["spaFallback"]["name"] == "ModelNotFoundError" and "HTML page" in out["spaFallback"]["message"]
    assert out["unsupported"]["name"] == "NotSupportedYetError" and "flash_attention" in out["unsupported"]["message"]
    if page.mode == "plain":
        assert out["threads"]["name"] == "BackendUnavailableError"
        assert "not cross-origin isolated" in out["threads"]["message"]
    else:
        assert out["threads"] is None, "the pthread runtime loads on an isolated page"

    assert out["overflow"]["name"] == "ContextOverflowError", out["overflow"]
    assert out["embedOnText"]["name"] == "UnsupportedOperationError"
    assert out["grammar"]["name"] == "NotSupportedYetError"
    assert out["noTemplate"]["name"] == "ChatTemplateMissingError", out["noTemplate"]


PTHREAD_CHAT = """
const messages = [{ role: 'user', content: 'What is the capital of France?' }];
const story = '<|im_start|>user\\nWrite a long story about a dragon.<|im_end|>\\n<|im_start|>assistant\\n';
const out = {};
for (const [name, options] of Object.entries(CLIENTS)) {
  const client = new sipp.SippClient(options.client);
  const ep = await client.add('text', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_ctx: 1024, ...options.context } } } });
  const chat = await client.chat(messages, { endpoint: ep, maxTokens: 48, temperature: 0 }).response;
  const long = await client.query(story, { endpoint: ep, maxTokens: 64, temperature: 0 }).response;
  const run = client.query(story, { endpoint: ep, maxTokens: 400, emitTokens: true, temperature: 0 });
  let n = 0;
  for await (const _ of run.tokens) { if (++n === 3) run.cancel('user'); }
  out[name] = { chat, long, cancelled: await run.response, n, info: client.endpointInfo(ep) };
  await client.close();
}
return out;
"""


def test_pthread_runtime_runs_only_on_an_isolated_page(page: Any) -> None:
    if page.mode == "plain":
        out = run_js(page, """
const grab = async (f) => { try { await f(); return null; } catch (e) { return [e.name, e.message]; } };
const client = new sipp.SippClient();
const ep = await client.add('t', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_ctx: 256 } } } });
const info = client.endpointInfo(ep);
await client.close();
return {
  info,
  refused: await grab(() => new sipp.SippClient({ wasmThreading: 'pthread' }).add('t', { kind: 'local', source: '/models/chat.gguf' })),
  threads: await grab(() => client.add('u', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_threads_batch: 2 } } } })),
};
""")
        assert out["refused"][0] == "BackendUnavailableError" and "Cross-Origin-Embedder-Policy" in out["refused"][1], out
        assert out["info"]["runtime"] == "wasm-single-thread" and out["info"]["threads"] == 1, out["info"]
        assert out["threads"][0] == "InvalidConfigError" and "n_threads_batch 2 needs wasmThreading 'pthread'" in out["threads"][1]
        return
    clients = {
        "single": {"client": {"wasmThreading": "single-thread"}, "context": {}},
        # Unset wasmThreading on an isolated page: the pthread runtime, a thread per core (2 here, at most 4).
        "default": {"client": {}, "context": {}},
        "pthread2": {"client": {"wasmThreading": "pthread"}, "context": {"n_threads": 2, "n_threads_batch": 1}},
        "mainThread": {"client": {"wasmThreading": "pthread", "executionMode": "main-thread"}, "context": {"n_threads": 2}},
    }
    out = run_js(page, f"const CLIENTS = {json.dumps(clients)};" + PTHREAD_CHAT)
    cores = page.evaluate("() => navigator.hardwareConcurrency")
    assert out["single"]["info"]["runtime"] == "wasm-single-thread" and out["single"]["info"]["threads"] == 1
    assert out["default"]["info"]["runtime"] == "wasm-pthread" and out["default"]["info"]["threads"] == min(cores, 4)
    assert out["pthread2"]["info"]["threads"] == 2
    assert out["mainThread"]["info"]["executionMode"] == "main-thread"
    for name, r in out.items():
        assert "Paris" in r["chat"]["text"], (name, r["chat"])
        assert r["cancelled"]["finishReason"] == "cancelled" and r["n"] <= 5, (name, r["cancelled"])
        # WebAssembly arithmetic is the same on every CPU, and ggml gives each dot product
        # to one thread: the threads change the speed, never the answer.
        assert r["long"]["text"] == out["single"]["long"]["text"], (name, r["long"]["text"], out["single"]["long"]["text"])
        assert r["chat"]["text"] == out["single"]["chat"]["text"], name
    refused = run_js(page, """
try { await new sipp.SippClient().add('t', { kind: 'local', source: '/models/chat.gguf', options: { runtime: { context: { n_threads: 5 } } } }); return null; }
catch (e) { return [e.name, e.message]; }
""")
    assert refused[0] == "InvalidConfigError" and "at most 4 threads" in refused[1], refused
    rates = {name: r["long"]["localStats"]["decodeTokensPerSecond"] for name, r in out.items()}
    print("[isolated] wasm decode tok/s: " + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
