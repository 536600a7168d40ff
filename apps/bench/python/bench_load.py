"""The engine under load, side by side with llama-server (part of `cargo xtask bench`,
alone with `--load-only`). Same model, threads, slots and context; greedy; end of
generation banned so every request makes exactly `--gen` tokens. Each contender runs
in its own process. Prints one JSON object.

1. Aggregate decode tok/s at 1, 8 and 16 concurrent requests (8 slots of 1,024 cells);
   each contender's peak RSS. `--rounds` alternating rounds (Sipp, llama-server, Sipp,
   ...; each a fresh process), medians and min-max; Sipp in its default
   `cache.mode = "snapshot"`. The same on `--repacked-model` (weights llama.cpp repacks
   for its CPU GEMMs, e.g. Gemma 3 270M Q4_K_M; `--repacked-banned` its end tokens), and
   llama-server on the Q8_0 file Sipp's opt-in transcode makes.
2. Inter-token latency of 4 running streams while a 2,040-token prompt arrives:
   gaps that end while that prompt is being prefilled, against the same streams'
   gaps with nothing arriving (quiet). Sipp with and without chunked prefill, and with
   `scheduler.policy = "decode_first"`.
3. Prompt processing of 512 tokens: llama.cpp's llama-bench, next to the Rust bench's
   raw llama-cpp-2 loop and engine figures (`--rust-report`).
4. Sipp with `placement.transcode_weights = "q8_0"` (opt-in): parts 1 and 3 again.

    python bench_load.py --model M.gguf --llama-server BIN --llama-bench BIN
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from bench_python import BANNED, PROMPT, run_child, start_llama_server

# End-of-generation tokens banned in every run (`--banned`: another model's).
banned = list(BANNED)

SLOTS = 8
# KV cells per slot. Sipp's n_ctx is each request's window; llama-server's -c is shared
# by its -np slots (SLOTS x window).
DECODE_WINDOW = 1024  # llama-server -np 8 -c 8192
ITL_WINDOW = 4096  # room for the 2,040-token prompt in one slot
ITL_STREAMS, ITL_GEN = 4, 160
# Distinct numbers keep any prefix cache out of it; ~27 tokens per sentence.
LONG = "".join(f"Clause {i}: the tenant keeps the premises clean, pays on the {i}th, and reports damage. "
               for i in range(1, 86))
LONG_PROMPT = f"<|im_start|>user\nSummarise this lease.\n{LONG}<|im_end|>\n<|im_start|>assistant\n"
# 481 tokens; 2,040 for LONG_PROMPT.
PP_PROMPT = "The history of the river valley spans many centuries of farming, trade and settlement. " * 30


# ---- contenders: one `Contender` per process, same calls for both ----

class Sipp:
    def __init__(self, model: str, threads: int, window: int, chunk: int = 0, policy: str = "fcfs",
                 transcode_dir: str = "", cache: str = "snapshot") -> None:
        import sipp

        self.sipp = sipp
        placement = sipp.PlacementRuntimeConfig(transcode_weights="q8_0", transcode_dir=transcode_dir) \
            if transcode_dir else sipp.PlacementRuntimeConfig()
        config = sipp.NativeRuntimeConfig(
            placement=placement,
            context=sipp.ContextRuntimeConfig(n_ctx=window, n_threads=threads, n_threads_batch=threads),
            scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=SLOTS, prefill_chunk_size=chunk,
                                                  policy=policy),  # type: ignore[arg-type]
            cache=sipp.CacheRuntimeConfig(mode=cache),  # type: ignore[arg-type]
        )
        self.client = sipp.SippClient()
        self.ep = self.client.add("bench", sipp.LocalModelDescriptor(model, config))
        self.bias = sipp.SamplingRuntimeConfig(logit_bias=[sipp.LogitBias(t, float("-inf")) for t in banned])

    def _run(self, prompt: str, gen: int, stream: bool) -> Any:
        return self.client.query(prompt, endpoint=self.ep,
                                 options=self.sipp.SippTextOptions(max_tokens=gen, temperature=0.0),
                                 local=self.sipp.LocalTextOptions(sampling=self.bias), emit_tokens=stream)

    def complete(self, prompt: str, gen: int) -> int:
        usage = self._run(prompt, gen, False).result().usage
        return int(usage.output_tokens)

    def stream(self, prompt: str, gen: int) -> Iterator[int]:
        """Yields the number of tokens in each arrival."""
        run = self._run(prompt, gen, True)
        for batch in run:
            yield len(batch.token_ids)
        run.result()

    def peak_rss_mb(self) -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def prompt_tps(self) -> float:
        """Prompt processing of PP_PROMPT (481 tokens) in one request, best of 3 (engine-measured)."""
        best = 0.0
        for _ in range(3):
            r = self._run(PP_PROMPT, 1, False).result()
            best = max(best, r.local_stats.prefill_tokens_per_second)
        return best

    def close(self) -> None:
        self.client.close()


class LlamaServer:
    def __init__(self, binary: str, model: str, threads: int, window: int) -> None:
        self.proc, self.port = start_llama_server(binary, model, threads, SLOTS, SLOTS * window)

    def _post(self, prompt: str, gen: int, stream: bool) -> Any:
        body = json.dumps({"prompt": prompt, "n_predict": gen, "temperature": 0, "stream": stream,
                           "cache_prompt": False, "logit_bias": [[t, False] for t in banned]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/completion", body,
                                         {"Content-Type": "application/json"})
        return urllib.request.urlopen(request, timeout=600)

    def complete(self, prompt: str, gen: int) -> int:
        with self._post(prompt, gen, False) as r:
            return int(json.load(r)["tokens_predicted"])

    def stream(self, prompt: str, gen: int) -> Iterator[int]:
        with self._post(prompt, gen, True) as r:
            for line in r:
                if line.startswith(b"data: ") and b'"content"' in line and b'"stop":true' not in line:
                    yield 1

    def peak_rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


@contextmanager
def contender(args: argparse.Namespace, window: int) -> Iterator[Any]:
    if args.child == "llama-server":
        c: Any = LlamaServer(args.llama_server, args.model, args.threads, window)
    else:
        c = Sipp(args.model, args.threads, window, args.chunk, args.policy, args.transcode_dir, args.cache)
    try:
        yield c
    finally:
        c.close()


# ---- measurements ----

def decode(c: Any, gen: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for streams in (1, 8, 16):
        def once() -> float:
            start = time.perf_counter()
            with ThreadPoolExecutor(streams) as pool:
                total = sum(pool.map(lambda i: c.complete(PROMPT + f"Story {i}:", gen), range(streams)))
            assert total == streams * gen, total
            return float(total / (time.perf_counter() - start))

        once()  # warm-up
        out[f"tps_{streams}"] = statistics.median(once() for _ in range(repeats))
    if isinstance(c, Sipp):
        out["prompt_tps"] = c.prompt_tps()
    out["peak_rss_mb"] = c.peak_rss_mb()
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def inter_token(c: Any, with_arrival: bool) -> dict[str, Any]:
    """4 streams of ITL_GEN tokens; with_arrival: the long prompt arrives once they run."""
    arrivals: list[list[float]] = [[] for _ in range(ITL_STREAMS)]
    started = threading.Barrier(ITL_STREAMS + 1)

    def stream(i: int) -> None:
        first = True
        for n in c.stream(PROMPT + f"Story {i}:", ITL_GEN):
            arrivals[i].extend([time.perf_counter()] * n)
            if first:
                first = False
                started.wait()

    window = (0.0, float("inf"))
    long_ttft = None
    with ThreadPoolExecutor(ITL_STREAMS) as pool:
        futures = [pool.submit(stream, i) for i in range(ITL_STREAMS)]
        started.wait()
        time.sleep(0.3)
        if with_arrival:
            t0 = time.perf_counter()
            for _ in c.stream(LONG_PROMPT, 1):
                break
            t1 = time.perf_counter()
            window, long_ttft = (t0, t1), (t1 - t0) * 1e3
        for f in futures:
            f.result()
    gaps = [(b - a) * 1e3 for times in arrivals for a, b in zip(times, times[1:])
            if window[0] <= b <= window[1] + 0.05]
    if not with_arrival:  # quiet: the streams' steady part (first tokens and tail excluded)
        gaps = [(b - a) * 1e3 for times in arrivals for a, b in zip(times[10:], times[11:])]
    return {"p50_ms": percentile(gaps, 0.5), "p99_ms": percentile(gaps, 0.99), "max_ms": max(gaps),
            "gaps": len(gaps), "long_prompt_ttft_ms": long_ttft}


def child(args: argparse.Namespace) -> dict[str, Any]:
    if args.banned:
        banned[:] = [int(t) for t in args.banned.split(",")]
    if args.part == "decode":
        with contender(args, DECODE_WINDOW) as c:
            return decode(c, args.gen, args.repeats)
    with contender(args, ITL_WINDOW) as c:
        c.complete(PROMPT, 8)  # warm-up
        return {"quiet": inter_token(c, False), "arrival": inter_token(c, True)}


def llama_bench(binary: str, model: str, threads: int) -> dict[str, float]:
    """pp512 tok/s with flash attention off and on (llama.cpp's `auto`, which Sipp keeps, is on for CPU)."""
    out = subprocess.run([binary, "-m", model, "-p", "512", "-n", "0", "-t", str(threads), "-r", "5", "-fa", "0,1",
                          "-o", "json"], capture_output=True, text=True, check=True, timeout=600).stdout
    return {("llama_bench_fa_on_tps" if row["flash_attn"] else "llama_bench_fa_off_tps"): float(row["avg_ts"])
            for row in json.loads(out)}


def markdown(results: dict[str, Any]) -> str:
    """The decode comparisons as one table: streams, Sipp, llama-server, ratio."""
    names = {"decode": "default model (Q4_1)", "decode_repacked": "repacked weights",
             "decode_q8_0": "Sipp transcode q8_0 vs llama-server on the same Q8_0 file"}
    out = ["| weights | streams | Sipp tok/s (min-max) | llama-server tok/s (min-max) | ratio |", "|---|---|---|---|---|"]
    for key, label in names.items():
        r = results.get(key)
        if not r or "tps_1" not in r.get("sipp", {}) or "tps_1" not in r.get("llama_server", {}):
            continue
        for n in (1, 8, 16):
            cell = {who: "{:.1f} ({:.1f}-{:.1f})".format(r[who][f"tps_{n}"], *r[who]["spread"][f"tps_{n}"])
                    for who in ("sipp", "llama_server")}
            out.append(f"| {label}, {r['model']}, {r['rounds']} rounds | {n} | {cell['sipp']} | {cell['llama_server']} |"
                       f" {r['ratio'][f'tps_{n}']:.2f}x |")
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child")
    p.add_argument("--part", default="decode")
    p.add_argument("--chunk", type=int, default=0)
    p.add_argument("--policy", default="fcfs")
    p.add_argument("--transcode-dir", default="", help="sipp: transcode_weights=q8_0 into this directory")
    p.add_argument("--cache", default="snapshot", help="sipp: cache.mode (snapshot is the default users get)")
    p.add_argument("--banned", default="", help="comma-separated end tokens of --model (default: the default model's)")
    p.add_argument("--rounds", type=int, default=3, help="alternating decode rounds per contender")
    p.add_argument("--markdown", help="also write the decode table here")
    p.add_argument("--parts", default="decode,repacked,q8_0,itl,pp",
                   help="which parts to run: decode (default model), repacked, q8_0, itl, pp")
    p.add_argument("--repacked-model", help="also compare decode on this model (weights llama.cpp repacks)")
    p.add_argument("--repacked-banned", default="1,106", help="its end tokens (Gemma 3: <eos>, <end_of_turn>)")
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--llama-server")
    p.add_argument("--llama-bench")
    p.add_argument("--rust-report")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    def measure(who: str, part: str, chunk: int = 0, policy: str = "fcfs", transcode: str = "",
                model: str = args.model, banned: str = "", repeats: int = args.repeats) -> dict[str, Any]:
        cmd = [sys.executable, __file__, "--child", who, "--part", part, "--chunk", str(chunk), "--policy", policy,
               "--transcode-dir", transcode, "--banned", banned,
               "--model", model, "--threads", str(args.threads), "--gen", str(args.gen),
               "--repeats", str(repeats), "--llama-server", args.llama_server or ""]
        return run_child(cmd, f"load: {who} {part} {os.path.basename(model)} chunk={chunk} policy={policy}")

    def rounds(model: str, banned: str = "", transcode: str = "",
               server_model: Callable[[], str] | None = None) -> dict[str, Any]:
        """Alternating rounds, one repeat each: the machine's drift hits both contenders alike.
        `server_model`: llama-server's file, asked after Sipp's first round (default `model`)."""
        runs: dict[str, list[dict[str, Any]]] = {"sipp": [], "llama_server": []}
        for _ in range(args.rounds):
            runs["sipp"].append(measure("sipp", "decode", transcode=transcode, model=model, banned=banned, repeats=1))
            if args.llama_server:
                runs["llama_server"].append(measure("llama-server", "decode",
                                                    model=server_model() if server_model else model,
                                                    banned=banned, repeats=1))
        out: dict[str, Any] = {"model": os.path.basename(model), "rounds": args.rounds}
        for who, rs in runs.items():
            ok = [r for r in rs if "error" not in r]
            if not ok:
                out[who] = rs[0] if rs else {}
                continue
            out[who] = {k: statistics.median(r[k] for r in ok) for k in ok[0]}
            out[who]["spread"] = {f"tps_{n}": [min(r[f"tps_{n}"] for r in ok), max(r[f"tps_{n}"] for r in ok)]
                                  for n in (1, 8, 16)}
        if "tps_8" in out.get("llama_server", {}) and "tps_8" in out["sipp"]:
            out["ratio"] = {f"tps_{n}": out["sipp"][f"tps_{n}"] / out["llama_server"][f"tps_{n}"] for n in (1, 8, 16)}
        return out

    parts = set(args.parts.split(","))
    results: dict[str, Any] = {}
    if "decode" in parts:
        results["decode"] = rounds(args.model)
    if args.repacked_model and "repacked" in parts:
        results["decode_repacked"] = rounds(args.repacked_model, args.repacked_banned)
    if "q8_0" in parts:
        # Opt-in: the same file's weights re-encoded as Q8_0 (by the first Sipp round, at
        # load, outside the timing); llama-server runs on that same Q8_0 file.
        with tempfile.TemporaryDirectory() as weights:
            def q8_file() -> str:
                found = sorted(glob.glob(os.path.join(weights, "**", "*.q8_0.gguf"), recursive=True))
                if not found:
                    raise RuntimeError(f"the transcode left no .q8_0.gguf in {weights}")
                return found[0]

            results["decode_q8_0"] = rounds(args.model, transcode=weights, server_model=q8_file)
    if "itl" in parts:
        results["inter_token"] = {
            "sipp_unchunked": measure("sipp", "itl"),
            "sipp_chunk_64": measure("sipp", "itl", 64),
            "sipp_decode_first": measure("sipp", "itl", 0, "decode_first"),
        }
        if args.llama_server:
            results["inter_token"]["llama_server"] = measure("llama-server", "itl")
    if "pp" in parts:
        pp: dict[str, Any] = {}
        if args.llama_bench:
            pp |= llama_bench(args.llama_bench, args.model, args.threads)
        if args.rust_report and os.path.exists(args.rust_report):
            with open(args.rust_report) as f:
                rust = json.load(f)
            pp["raw_llama_cpp_2_tps"] = rust["raw"]["prompt_tps"]
            pp["sipp_engine_tps"] = rust["engine"]["prompt_tps"]
        results["prompt_processing_512"] = pp
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(results))
    print(json.dumps(results, indent=2))

if __name__ == "__main__":
    main()
