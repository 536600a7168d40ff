"""Browser decode speed, side by side on one model and one prompt (greedy, 128 tokens):

- Sipp's WebAssembly runtime (@sipp/sipp, packed) in a worker: the single-thread runtime,
  and the pthread runtime on 2 threads (the page is cross-origin isolated);
- wllama (npm @wllama/wllama, its own llama.cpp build) in the same page, 1 and 2 threads;
- the native Sipp engine (the Python package) in this process, 1 and 2 threads.

All run in alternating rounds; each browser contender gets a fresh page (the model comes
from the page's server). Decode speed is measured the same way for both browser
contenders: pieces streamed after the first, over the time from the first to the last.
Not a test: `cargo xtask bench --browser-only` runs it and prints a Markdown table.

    python bench_browser.py --app DIR --model MODEL.gguf --chromium /usr/bin/chromium
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright import sync_api

ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PROMPT = "<|im_start|>user\nWrite a long story about a dragon and a knight.<|im_end|>\n<|im_start|>assistant\n"
TOKENS = 128
CONTENDERS = (
    ("Sipp WASM, 1 thread", "sipp", 1),
    ("wllama 3.8.1, 1 thread", "wllama", 1),
    ("Sipp WASM pthread, 2 threads", "sipp", 2),
    ("wllama 3.8.1, 2 threads", "wllama", 2),
)

TIMED = """
async ([kind, prompt, tokens, threads]) => {
  const stamps = [];
  if (kind === 'sipp') {
    const wasmThreading = threads > 1 ? 'pthread' : 'single-thread';
    const client = new bench.sipp.SippClient({ executionMode: 'worker', wasmThreading });
    const context = { n_ctx: 1024, n_threads: threads };
    const ep = await client.add('m', { kind: 'local', source: '/models/model.gguf', options: { runtime: { context } } });
    const info = client.endpointInfo(ep);
    if (info.runtime !== `wasm-${wasmThreading}` || info.threads !== threads) throw new Error(`ran ${JSON.stringify(info)}`);
    const run = client.query(prompt, { endpoint: ep, maxTokens: tokens, temperature: 0, emitTokens: true });
    for await (const _ of run.tokens) stamps.push(performance.now());
    const r = await run.response;
    await client.close();
    return { stamps, text: r.text, reported: r.localStats.decodeTokensPerSecond };
  }
  const w = new bench.Wllama({ default: bench.wllamaWasm }, { logger: { debug() {}, log() {}, warn() {}, error: console.error } });
  await w.loadModelFromUrl(new URL('/models/model.gguf', location.href).href, { n_ctx: 1024, n_threads: threads });
  let text = '';
  const stream = await w.createCompletion({ prompt, max_tokens: tokens, temperature: 0, stream: true });
  for await (const chunk of stream) { stamps.push(performance.now()); text += chunk.choices?.[0]?.text ?? ''; }
  await w.exit();
  return { stamps, text, reported: null };
}
"""


def decode_rate(stamps: list[float]) -> float:
    if len(stamps) < 2:
        return 0.0
    return (len(stamps) - 1) * 1000.0 / (stamps[-1] - stamps[0])


def native(model: str, threads: int) -> float:
    import sipp

    config = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_ctx=1024, n_threads=threads, n_threads_batch=threads))
    with sipp.SippClient() as client:
        ep = client.add("m", sipp.LocalModelDescriptor(model, config))
        r = client.query(PROMPT, endpoint=ep, options=sipp.SippTextOptions(max_tokens=TOKENS, temperature=0.0)).result()
        assert r.local_stats is not None
        return float(r.local_stats.decode_tokens_per_second)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True, help="the built page (apps/bench/browser)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=15190)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as models:
        (Path(models) / "model.gguf").symlink_to(Path(a.model).resolve())
        vite = Path(a.app) / "node_modules/vite/bin/vite.js"
        env = {**os.environ, "SIPP_MODELS_DIR": models}
        server = subprocess.Popen(
            ["node", str(vite), "preview", a.app, "--port", str(a.port), "--host", "127.0.0.1", "--strictPort"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{a.port}/"
            for _ in range(100):
                try:
                    urllib.request.urlopen(url, timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=a.chromium, args=ARGS, headless=True)
                for _ in range(a.rounds):
                    for name, kind, threads in CONTENDERS:
                        context = browser.new_context()
                        page = context.new_page()
                        page.goto(url)
                        page.wait_for_function("() => window.bench !== undefined")
                        out: dict[str, Any] = page.evaluate(TIMED, [kind, PROMPT, TOKENS, threads])
                        context.close()
                        results.setdefault(name, []).append(decode_rate(out["stamps"]))
                        print(f"{name}: {decode_rate(out['stamps']):.1f} tok/s over {len(out['stamps'])} pieces", file=sys.stderr)
                    for threads in (1, 2):
                        name = f"native Sipp, {threads} thread{'s' if threads > 1 else ''}"
                        results.setdefault(name, []).append(native(a.model, threads))
                        print(f"{name}: {results[name][-1]:.1f} tok/s", file=sys.stderr)
                browser.close()
        finally:
            server.terminate()
            server.wait()
    lines = ["| contender | decode tok/s (median) | min–max |", "|---|---|---|"]
    for name, xs in results.items():
        lines.append(f"| {name} | {statistics.median(xs):.1f} | {min(xs):.1f}–{max(xs):.1f} |")
    table = "\n".join(lines)
    if a.markdown:
        Path(a.markdown).write_text(table + "\n")
    print(json.dumps({k: {"median": statistics.median(v), "all": v} for k, v in results.items()}, indent=1))
    print(table)


if __name__ == "__main__":
    main()
