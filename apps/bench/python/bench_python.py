"""Python side of `cargo xtask bench`: sipp's Python package against llama-cpp-python,
on the same model, threads, prompt and greedy EOS-free sampling. Each measurement runs
in a fresh process (llama.cpp's OpenMP workers from one run would steal cores from the
next). Prints one JSON object.

    python bench_python.py --model M.gguf --rust-report .build/bench/report.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PROMPT = "<|im_start|>user\nWrite a story about a lighthouse keeper.<|im_end|>\n<|im_start|>assistant\n"
BANNED = [0, 1, 2]  # end-of-generation tokens of the default model: fixed-length runs
N_CTX = 1024


def median_of(repeats: int, fn: Callable[[], float]) -> float:
    fn()  # warm-up
    return statistics.median(fn() for _ in range(repeats))


def sipp_setup(threads: int, streams: int) -> tuple[Any, Any]:
    """Endpoint config like the Rust bench's (no prefix reuse) and the EOS ban."""
    import sipp

    config = sipp.NativeRuntimeConfig(
        context=sipp.ContextRuntimeConfig(n_ctx=N_CTX, n_batch=512, n_threads=threads, n_threads_batch=threads),
        scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=streams),
        cache=sipp.CacheRuntimeConfig(mode="none"),
    )
    bias = sipp.SamplingRuntimeConfig(logit_bias=[sipp.LogitBias(t, float("-inf")) for t in BANNED])
    return config, bias


def sipp_single(model: str, threads: int, gen: int, repeats: int) -> dict[str, float]:
    import sipp

    config, bias = sipp_setup(threads, 1)
    with sipp.SippClient() as client:
        ep = client.add("bench", sipp.LocalModelDescriptor(model, config))

        def once() -> tuple[float, float]:
            start = time.perf_counter()
            run = client.query(PROMPT, endpoint=ep, options=sipp.SippTextOptions(max_tokens=gen, temperature=0.0),
                               local=sipp.LocalTextOptions(sampling=bias), emit_tokens=True)
            first = None
            count = 0
            for batch in run:
                count += len(batch.token_ids)
                if first is None:
                    first = time.perf_counter()
            end = time.perf_counter()
            assert count == gen, count
            assert first is not None
            return (gen - 1) / (end - first), gen / (end - start)

        once()
        runs = [once() for _ in range(repeats)]
    return {
        "decode_tps": statistics.median(r[0] for r in runs),
        "with_prefill_tps": statistics.median(r[1] for r in runs),
    }


def sipp_concurrent(model: str, threads: int, gen: int, repeats: int, streams: int) -> dict[str, float]:
    import sipp

    config, bias = sipp_setup(threads, streams)
    with sipp.SippClient() as client:
        ep = client.add("bench", sipp.LocalModelDescriptor(model, config))

        def one(i: int) -> int:
            run = client.query(PROMPT + f"Story {i}:", endpoint=ep,
                               options=sipp.SippTextOptions(max_tokens=gen, temperature=0.0),
                               local=sipp.LocalTextOptions(sampling=bias), emit_tokens=True)
            count = sum(len(b.token_ids) for b in run)
            run.result()
            return count

        def once() -> float:
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=streams) as pool:
                total = sum(pool.map(one, range(streams)))
            return total / (time.perf_counter() - start)

        return {"aggregate_tps": median_of(repeats, once)}


def llama_cpp_single(model: str, threads: int, gen: int, repeats: int) -> dict[str, float]:
    from llama_cpp import Llama

    llm = Llama(model_path=model, n_ctx=N_CTX, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    bias = {t: float("-inf") for t in BANNED}

    def once() -> tuple[float, float]:
        llm.reset()
        start = time.perf_counter()
        first = None
        count = 0
        for _chunk in llm.create_completion(PROMPT, max_tokens=gen, temperature=0.0, stream=True, logit_bias=bias):
            count += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        assert first is not None
        return (count - 1) / (end - first), count / (end - start)

    once()
    runs = [once() for _ in range(repeats)]
    return {
        "decode_tps": statistics.median(r[0] for r in runs),
        "with_prefill_tps": statistics.median(r[1] for r in runs),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_llama_server(binary: str, model: str, threads: int, slots: int, n_ctx: int) -> tuple[subprocess.Popen[bytes], int]:
    """llama.cpp's llama-server on a free loopback port, once it answers /health (its own
    process group: stop it with os.killpg)."""
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-np", str(slots), "-c", str(n_ctx),
         "-t", str(threads), "-tb", str(threads), "--no-webui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            raise RuntimeError("llama-server never became healthy")
        time.sleep(0.2)


def llama_cpp_server(model: str, threads: int, gen: int, repeats: int, streams: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
         "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", str(N_CTX), "--n_batch", "512"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/completions"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("llama_cpp.server did not start")
                time.sleep(0.5)

        def one(i: int) -> int:
            body = json.dumps({"prompt": PROMPT + f"Story {i}:", "max_tokens": gen, "temperature": 0.0,
                               "logit_bias": {str(t): -100.0 for t in BANNED}}).encode()
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=600) as resp:
                return int(json.load(resp)["usage"]["completion_tokens"])

        def once() -> float:
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=streams) as pool:
                total = sum(pool.map(one, range(streams)))
            return total / (time.perf_counter() - start)

        def single() -> float:
            start = time.perf_counter()
            return one(0) / (time.perf_counter() - start)

        return {"aggregate_tps": median_of(repeats, once), "single_request_tps": median_of(repeats, single)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


MODES: dict[str, Callable[..., dict[str, float]]] = {
    "sipp-single": sipp_single,
    "llama-cpp-single": llama_cpp_single,
}
CONCURRENT: dict[str, Callable[..., dict[str, float]]] = {
    "sipp-concurrent": sipp_concurrent,
    "llama-cpp-server": llama_cpp_server,
}


def child(args: argparse.Namespace) -> None:
    if args.child in MODES:
        out = MODES[args.child](args.model, args.threads, args.gen, args.repeats)
    else:
        out = CONCURRENT[args.child](args.model, args.threads, args.gen, args.repeats, args.streams)
    print(json.dumps(out))


def measure(args: argparse.Namespace, mode: str, python: str) -> dict[str, Any]:
    cmd = [python, __file__, "--child", mode, "--model", args.model, "--threads", str(args.threads),
           "--gen", str(args.gen), "--repeats", str(args.repeats), "--streams", str(args.streams)]
    return run_child(cmd, mode)


def run_child(cmd: list[str], label: str) -> dict[str, Any]:
    """One measurement in a fresh process; its last stdout line is the JSON result."""
    print(f"bench: {label} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child")
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--anchor-python", default=sys.executable, help="interpreter with llama-cpp-python[server]")
    p.add_argument("--rust-report")
    args = p.parse_args()
    if args.child:
        child(args)
        return
    results = {
        "sipp_python_single": measure(args, "sipp-single", sys.executable),
        "llama_cpp_python_single": measure(args, "llama-cpp-single", args.anchor_python),
        "sipp_python_concurrent": measure(args, "sipp-concurrent", sys.executable),
        "llama_cpp_python_server_concurrent": measure(args, "llama-cpp-server", args.anchor_python),
    }
    if args.rust_report:
        with open(args.rust_report) as f:
            results["rust_engine_decode_tps"] = json.load(f)["engine"]["decode_tps"]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
