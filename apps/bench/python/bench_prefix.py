"""Long shared prefix, time to first token, side by side with llama-server (part of
`cargo xtask bench`): cold, warm, warm after 16 other requests took every slot, and warm
after a process restart. Sipp runs with `cache.mode = "snapshot"` and a `snapshot_dir`;
llama-server with its defaults (`--cache-ram` 8 GiB host prompt cache). Same model,
threads, 8 slots, context per slot; TTFT is measured by the client: submit to the first
streamed token. Each contender runs in its own process. Prints one JSON object.

    python bench_prefix.py --model M.gguf --llama-server .build/llama-server/build/bin/llama-server
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench_python import run_child, start_llama_server

SYSTEM = "<|im_start|>system\nYou are a support agent for Sipp. " + " ".join(
    f"Policy {i}: answer in plain English, cite section {i} of the handbook, keep replies short, and never guess."
    for i in range(1, 26)
) + "<|im_end|>\n"
QUESTIONS = ["How do I reset my password?", "Where are my invoices?", "How do I change my email?", "What is my plan?"]
OTHER = [f"{w} {i} are the subject of this short poem:" for i in range(2) for w in
         ("Oceans", "Mountains", "Rivers", "Forests", "Deserts", "Islands", "Glaciers", "Valleys")]
SLOTS, N_CTX = 8, 4096


def ask(q: str) -> str:
    return SYSTEM + f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


def sipp_child(model: str, threads: int, kv_dir: str, phase: str) -> dict[str, Any]:
    import sipp

    config = sipp.NativeRuntimeConfig(
        context=sipp.ContextRuntimeConfig(n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads),
        scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=SLOTS),
        cache=sipp.CacheRuntimeConfig(mode="snapshot", snapshot_dir=kv_dir),
    )
    with sipp.SippClient() as client:
        ep = client.add("bench", sipp.LocalModelDescriptor(model, config))

        def ttft(prompt: str, tokens: int = 1) -> float:
            start = time.perf_counter()
            run = client.query(prompt, endpoint=ep, options=sipp.SippTextOptions(max_tokens=tokens, temperature=0.0),
                               emit_tokens=True)
            first = None
            for _ in run:
                first = first or time.perf_counter()
            run.result()
            return ((first or time.perf_counter()) - start) * 1e3

        return phases(phase, ttft)


def phases(phase: str, ttft: Any) -> dict[str, Any]:
    if phase == "restart":
        return {"after_restart_ms": ttft(ask(QUESTIONS[3]))}
    out = {"cold_ms": ttft(ask(QUESTIONS[0])), "warm_ms": ttft(ask(QUESTIONS[1]))}
    with ThreadPoolExecutor(SLOTS) as pool:
        list(pool.map(lambda p: ttft(p, 8), OTHER))
    out["after_other_traffic_ms"] = ttft(ask(QUESTIONS[2]))
    return out


def llama_server_phase(binary: str, model: str, threads: int, phase: str) -> dict[str, Any]:
    server, port = start_llama_server(binary, model, threads, SLOTS, N_CTX * SLOTS)
    try:
        def ttft(prompt: str, tokens: int = 1) -> float:
            body = json.dumps({"prompt": prompt, "n_predict": tokens, "temperature": 0, "stream": True,
                               "cache_prompt": True}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/completion", body,
                                             {"Content-Type": "application/json"})
            start = time.perf_counter()
            first = None
            with urllib.request.urlopen(request, timeout=600) as r:
                for line in r:
                    if line.startswith(b"data: ") and first is None:
                        first = time.perf_counter()
            return ((first or time.perf_counter()) - start) * 1e3

        return phases(phase, ttft)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def child(args: argparse.Namespace) -> None:
    if args.child == "sipp":
        out = sipp_child(args.model, args.threads, args.kv_dir, args.phase)
    else:
        out = llama_server_phase(args.llama_server, args.model, args.threads, args.phase)
    print(json.dumps(out))


def measure(args: argparse.Namespace, who: str, phase: str, kv_dir: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", who, "--phase", phase, "--model", args.model, "--threads",
           str(args.threads), "--kv-dir", kv_dir, "--llama-server", args.llama_server or ""]
    return run_child(cmd, f"prefix TTFT, {who} ({phase})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child")
    p.add_argument("--phase", default="traffic")
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kv-dir", default="")
    p.add_argument("--llama-server")
    args = p.parse_args()
    if args.child:
        child(args)
        return
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as kv_dir:
        # The first process fills the snapshot directory; the second is the restart.
        results["sipp"] = measure(args, "sipp", "traffic", kv_dir) | measure(args, "sipp", "restart", kv_dir)
    if args.llama_server:
        # llama-server keeps nothing across a restart: its "restart" is a cold start.
        results["llama_server"] = (measure(args, "llama-server", "traffic", "")
                                   | measure(args, "llama-server", "restart", ""))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
