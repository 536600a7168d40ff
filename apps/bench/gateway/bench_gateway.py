"""Gateway side of `cargo xtask bench`: what the gateway adds, side by side in one run.

1. Provider proxying against a mock upstream much faster than any gateway (nginx
   answering a fixed chat-completion body): wrk on loopback, client to upstream,
   direct vs nginx as a bare reverse proxy on the gateway's core (the floor: forwarding
   alone) vs `sipp-gateway` (its OpenAI-compatible route and its own profile) vs
   LiteLLM proxy (PyPI, one worker). Cores pinned (shared/design/perf.md): the
   gateway on CPU 0 (`taskset -c 0`), nginx and wrk on CPU 1. p50/p99 at concurrency 1
   and what the gateway adds to them (through the gateway minus direct, same run),
   req/s at 16 and 64, RSS idle and under load; and a streamed answer's time to its
   first event, direct vs through the gateway (both routes).
   Then what traffic limits add (bench_traffic.py): none, in memory, in Redis, at
   concurrency 1 and 64.
3. Prefix affinity vs round robin over a pool of three local members
   (bench_affinity.py): time to first token of eight agents resending their prompts.
2. A local target (the default model) through the gateway at 8 concurrent streams vs
   the same engine in-process (apps/bench/python's `sipp-concurrent`), same runtime
   config, prompts, greedy EOS-free sampling and token counts.

Prints one JSON object; writes a Markdown table next to the JSON when asked.

    python bench_gateway.py --gateway-bin target/dist/sipp-gateway --litellm .build/bench-litellm/bin/litellm \
        --model M.gguf --markdown .build/bench/gateway.md
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
from bench_python import BANNED, N_CTX, PROMPT  # noqa: E402  (the in-process bench's settings)

import bench_affinity  # noqa: E402  (beside this file)
import bench_traffic  # noqa: E402

TOKEN = "bench-gateway-token-0123456789"
LITELLM_KEY = "sk-bench-litellm-0123456789"
UPSTREAM_BODY = json.dumps({
    "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": "served",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the mock."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
}, separators=(",", ":"))
CHAT = {"model": "mock", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}
_CHUNK = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": "served"}
UPSTREAM_STREAM = "".join(f"data: {json.dumps(_CHUNK | c, separators=(',', ':'))}\n\n" for c in (
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": " from the mock."}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}},
)) + "data: [DONE]\n\n"
STREAMS = 2000  # streamed requests per time-to-first-event measurement


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never answered 200")
        time.sleep(0.1)


# The contenders' cores: the gateway alone on one, the mock upstream and the load
# generator on the other (none on a machine with one CPU).
PINNED = len(os.sched_getaffinity(0)) >= 2
GATEWAY_CPU, LOAD_CPU = "0", "1"


def pinned(cmd: list[str], cpu: str) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if PINNED and shutil.which("taskset") else cmd


@contextlib.contextmanager
def process(cmd: list[str], log: Path, env: dict[str, str] | None = None,
            cpu: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    # Logs go to a file: a full pipe would stall a server under load.
    cmd = pinned(cmd, cpu) if cpu else cmd
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (LiteLLM may fork)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class RssSampler:
    """Peak tree RSS while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, tree_rss_mb(self.pid))

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, tree_rss_mb(self.pid))


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, body: dict[str, Any], headers: dict[str, str], connections: int, seconds: int, tmp: Path,
        strict: bool = True) -> dict[str, float]:
    """One wrk run. A failed request (a socket error, a timeout, a non-2xx answer) stops the
    bench when `strict` (a Sipp contender must answer every request); an anchor's are
    counted and shown next to its numbers instead."""
    script = tmp / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    # A 10 s request timeout (wrk's default is 2 s): an overloaded contender is slow, and
    # its latency, not a count of give-ups, is what the table should show.
    out = subprocess.run(
        pinned(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(script),
                url], LOAD_CPU),
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    failed = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    failed += sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    if failed and strict:
        raise RuntimeError(f"wrk against {url} saw failures:\n{out}")
    pct = {m[0]: float(m[1]) * UNITS[m[2]] for m in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"p50_ms": pct["50"], "p99_ms": pct["99"], "rps": rps, "failed": failed}


def proxy_contender(url: str, headers: dict[str, str], pid: int | None, seconds: int, tmp: Path,
                    strict: bool = True) -> dict[str, float]:
    wrk(url, CHAT, headers, 4, 2, tmp, strict)  # warm-up: connections, pools, lazy init
    idle = tree_rss_mb(pid) if pid else 0.0
    c1 = wrk(url, CHAT, headers, 1, seconds, tmp, strict)
    sampler = RssSampler(pid) if pid else contextlib.nullcontext()
    with sampler:
        c16 = wrk(url, CHAT, headers, 16, seconds, tmp, strict)
        c64 = wrk(url, CHAT, headers, 64, seconds, tmp, strict)
    out = {"c1_p50_ms": c1["p50_ms"], "c1_p99_ms": c1["p99_ms"], "c1_rps": c1["rps"], "c16_rps": c16["rps"],
           "c16_p50_ms": c16["p50_ms"], "c16_p99_ms": c16["p99_ms"], "c64_rps": c64["rps"],
           "failed": c1["failed"] + c16["failed"] + c64["failed"]}
    if pid:
        out |= {"rss_idle_mb": idle, "rss_loaded_mb": sampler.peak}  # type: ignore[union-attr]
    return out


def write_nginx_conf(tmp: Path, name: str, http_body: str) -> Path:
    """One nginx worker in the foreground, its pid and temp files under `tmp` (prefixed by
    `name`), no access log; `http_body` goes inside `http { }`."""
    conf = tmp / f"{name}.conf"
    temp = "\n".join(f"  {k}_temp_path {tmp}/{name}-{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/{name}.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp}
  keepalive_requests 10000000;
{http_body}
}}
""")
    return conf


def nginx_conf(tmp: Path, port: int) -> Path:
    """The mock upstream: a fixed chat completion, and a fixed SSE answer under `/stream/`."""
    return write_nginx_conf(tmp, "nginx", f"""
  server {{
    listen 127.0.0.1:{port};
    location /stream/ {{
      default_type text/event-stream;
      return 200 '{UPSTREAM_STREAM}';
    }}
    location / {{
      default_type application/json;
      return 200 '{UPSTREAM_BODY}';
    }}
  }}""")


def nginx_proxy_conf(tmp: Path, port: int, upstream: str) -> Path:
    """nginx as a plain reverse proxy in front of the mock (kept-alive upstream connections,
    unbuffered so streams pass at once): what forwarding alone adds on these cores, with no
    JSON read, no token checked and no answer re-encoded. Not a gateway; the floor under one."""
    return write_nginx_conf(tmp, "nginx-proxy", f"""
  upstream mock {{ server {upstream.removeprefix("http://")}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}""")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def gateway_toml(tmp: Path, public: int, management: int, targets: str, token_lines: str = "") -> Path:
    path = tmp / "gateway.toml"
    path.write_text(f"""
public_bind = "127.0.0.1:{public}"
management_bind = "127.0.0.1:{management}"
max_request_bytes = 1048576
admin_password_env = "BENCH_ADMIN_PASSWORD"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "BENCH_GATEWAY_TOKEN"
caller = "bench"
targets = []
{token_lines}
{targets}
""")
    return path


@contextlib.contextmanager
def sipp_gateway(binary: str, tmp: Path, targets: str, token_lines: str = "",
                 extra_env: dict[str, str] | None = None, cpu: str | None = None) -> Iterator[tuple[str, int]]:
    public, management = free_port(), free_port()
    config = gateway_toml(tmp, public, management, targets, token_lines)
    env = {**os.environ, "BENCH_GATEWAY_TOKEN": TOKEN, "BENCH_ADMIN_PASSWORD": "bench-admin", "UPSTREAM_KEY": "upstream-key",
           **(extra_env or {})}
    with process([binary, "serve", "--config", str(config)], tmp / "sipp-gateway.log", env, cpu) as proc:
        wait_http(f"http://127.0.0.1:{management}/readyz", 120)
        yield f"http://127.0.0.1:{public}", proc.pid


@contextlib.contextmanager
def litellm_proxy(litellm: str, tmp: Path, upstream: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    config = tmp / "litellm.yaml"
    config.write_text(f"""
model_list:
  - model_name: mock
    litellm_params:
      model: openai/served
      api_base: {upstream}/v1
      api_key: upstream-key
general_settings:
  master_key: {LITELLM_KEY}
""")
    # No network: the model cost map ships in the package; no telemetry.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True"}
    cmd = [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    with process(cmd, tmp / "litellm.log", env, GATEWAY_CPU) as proc:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180)
        yield f"http://127.0.0.1:{port}", proc.pid


def mock_target(upstream: str) -> str:
    """The `[[targets]]` entries of the mock upstream, as every proxying contender uses
    them: `mock` answers JSON, `mock-stream` server-sent events."""
    return f"""
[[targets]]
name = "mock"
type = "openai_compatible"
model = "served"
base_url = "{upstream}/v1"
token_env = "UPSTREAM_KEY"

[[targets]]
name = "mock-stream"
type = "openai_compatible"
model = "served"
base_url = "{upstream}/stream/v1"
token_env = "UPSTREAM_KEY"
"""


def first_event_ms(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, float]:
    """Sequential streamed requests on one kept-alive connection: request sent to the
    first `data:` line read, p50/p99 over [`STREAMS`] after a warm-up."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    payload = json.dumps(body)
    hdrs = {"Content-Type": "application/json", **headers}
    times = []
    for i in range(STREAMS + 200):
        start = time.perf_counter()
        conn.request("POST", path, payload, hdrs)
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"{url}{path} answered {resp.status}: {resp.read()[:300]!r}")
        seen = b""
        while b"data:" not in seen:
            chunk = resp.read1(65536)
            if not chunk:
                raise RuntimeError(f"{url}{path}: the stream ended before its first event")
            seen += chunk
        elapsed = (time.perf_counter() - start) * 1000
        resp.read()
        if i >= 200:
            times.append(elapsed)
    conn.close()
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99)]}


def streaming(upstream: str, url: str, floor: str) -> dict[str, Any]:
    """Time to the first event of a streamed chat answer: direct, through the nginx proxy
    floor, and through both routes."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    chat = CHAT | {"model": "mock-stream", "stream": True}
    return {
        "direct": first_event_ms(upstream, "/stream/v1/chat/completions", chat, {}),
        "nginx_proxy": first_event_ms(floor, "/stream/v1/chat/completions", chat, {}),
        "sipp_openai_route": first_event_ms(url, "/v1/chat/completions", chat, auth),
        "sipp_profile_route": first_event_ms(url, "/v1/chat", chat, auth),
    }


def proxying(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = free_port()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    upstream = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    with process([nginx, "-c", str(nginx_conf(tmp, port)), "-e", "stderr"], tmp / "nginx.log", cpu=LOAD_CPU):
        wait_http(upstream + "/", 10)
        print("bench: direct to the mock upstream ...", file=sys.stderr, flush=True)
        results["direct"] = proxy_contender(upstream + "/v1/chat/completions", {}, None, args.seconds, tmp)
        floor_port = free_port()
        floor = f"http://127.0.0.1:{floor_port}"
        floor_conf = nginx_proxy_conf(tmp, floor_port, upstream)
        with process([nginx, "-c", str(floor_conf), "-e", "stderr"], tmp / "nginx-proxy.log", cpu=GATEWAY_CPU) as proc:
            wait_http(floor + "/", 10)
            print("bench: nginx reverse proxy (the floor) ...", file=sys.stderr, flush=True)
            results["nginx_proxy"] = proxy_contender(floor + "/v1/chat/completions", {}, proc.pid, args.seconds, tmp)
        target = mock_target(upstream)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        results["pinned"] = PINNED
        with sipp_gateway(args.gateway_bin, tmp, target, cpu=GATEWAY_CPU) as (url, pid):
            print("bench: sipp-gateway (OpenAI-compatible route) ...", file=sys.stderr, flush=True)
            results["sipp_openai_route"] = proxy_contender(url + "/v1/chat/completions", auth, pid, args.seconds, tmp)
            print("bench: sipp-gateway (Sipp profile) ...", file=sys.stderr, flush=True)
            results["sipp_profile_route"] = proxy_contender(url + "/v1/chat", auth, pid, args.seconds, tmp)
            print("bench: streamed answers, time to the first event ...", file=sys.stderr, flush=True)
            # The floor shares the gateway's core, so it runs only while it is measured.
            with process([nginx, "-c", str(floor_conf), "-e", "stderr"], tmp / "nginx-proxy.log", cpu=GATEWAY_CPU):
                wait_http(floor + "/", 10)
                results["streaming"] = streaming(upstream, url, floor)
        results["traffic"] = bench_traffic.traffic(args.gateway_bin, upstream, args.seconds, tmp)
        if args.litellm:
            with litellm_proxy(args.litellm, tmp, upstream) as (url, pid):
                print("bench: LiteLLM proxy ...", file=sys.stderr, flush=True)
                auth = {"Authorization": f"Bearer {LITELLM_KEY}"}
                results["litellm"] = proxy_contender(url + "/v1/chat/completions", auth, pid, args.seconds, tmp,
                                                      strict=False)
    return results


def stream_tokens(url: str, body: dict[str, Any]) -> int:
    """One first-party SSE stream; the output tokens its `usage` event reports."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    conn.request("POST", "/v1/query", json.dumps(body), {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"gateway answered {resp.status}: {resp.read()[:300]!r}")
    event, tokens = "", -1
    for raw in resp:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "usage":
            tokens = int(json.loads(line[6:])["output_tokens"])
        elif line.startswith("data: ") and event == "error":
            raise RuntimeError(line)
    conn.close()
    return tokens


def local_target(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    bias = ", ".join(f"{{ token = {t}, bias = -inf }}" for t in BANNED)
    target = f"""
[[targets]]
name = "local"
type = "local"
model = "{args.model}"
[targets.runtime.context]
n_ctx = {N_CTX}
n_batch = 512
n_threads = {args.threads}
n_threads_batch = {args.threads}
[targets.runtime.scheduler]
max_running_requests = {args.streams}
[targets.runtime.cache]
mode = "none"
[targets.runtime.sampling]
logit_bias = [{bias}]
"""
    with sipp_gateway(args.gateway_bin, tmp, target) as (url, _):
        def one(i: int) -> int:
            body = {"model": "local", "prompt": PROMPT + f"Story {i}:", "max_tokens": args.gen, "temperature": 0.0, "stream": True}
            return stream_tokens(url, body)

        def once() -> float:
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.streams) as pool:
                total = sum(pool.map(one, range(args.streams)))
            if total != args.gen * args.streams:
                raise RuntimeError(f"expected {args.gen * args.streams} tokens, the gateway reported {total}")
            return total / (time.perf_counter() - start)

        once()  # warm-up
        gateway_tps = statistics.median(once() for _ in range(args.repeats))
    print("bench: in-process engine, same streams ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, str(HERE.parent / "python" / "bench_python.py"), "--child", "sipp-concurrent", "--model", args.model,
           "--threads", str(args.threads), "--gen", str(args.gen), "--repeats", str(args.repeats), "--streams", str(args.streams)]
    direct = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800).stdout.strip().splitlines()[-1])
    return {"streams": args.streams, "gen": args.gen, "gateway_aggregate_tps": gateway_tps,
            "in_process_aggregate_tps": direct["aggregate_tps"]}


def markdown(r: dict[str, Any]) -> str:
    p, d = r["proxy"], r["proxy"]["direct"]
    where = "gateway on CPU 0, nginx and wrk on CPU 1" if p.get("pinned") else "cores not pinned (one CPU)"
    rows = [f"Proxying to an nginx mock ({where}); added = through the gateway minus direct, same run.", "",
            "| contender | c=1 p50 / p99 ms | added p50 / p99 | c=16 req/s | c=64 req/s | RSS idle / loaded MB |",
            "|---|---|---|---|---|---|"]
    for name in ("direct", "nginx_proxy", "sipp_openai_route", "sipp_profile_route", "litellm"):
        if name not in p:
            continue
        c = p[name]
        added = "–" if name == "direct" else \
            f"{(c['c1_p50_ms'] - d['c1_p50_ms']) * 1000:.0f} / {(c['c1_p99_ms'] - d['c1_p99_ms']) * 1000:.0f} µs"
        rss = (f"{c['rss_idle_mb']:.1f} / {c['rss_loaded_mb']:.1f}") if "rss_idle_mb" in c else "–"
        failed = f" ({c['failed']} requests failed)" if c.get("failed") else ""
        rows.append(f"| {name}{failed} | {c['c1_p50_ms']:.3f} / {c['c1_p99_ms']:.3f} | {added} | {c['c16_rps']:.0f} |"
                    f" {c.get('c64_rps', float('nan')):.0f} | {rss} |")
    out = "\n".join(rows) + "\n"
    if "nginx_proxy" in p:
        out += ("\nnginx_proxy: nginx as a plain reverse proxy on the gateway's core (no JSON read, no token, no"
                " re-encoding): what forwarding alone adds on these cores.\n")
    if "streaming" in p:
        st = p["streaming"]
        sd = st["direct"]
        out += "\nStreamed chat, request sent to first event (2,000 sequential requests, one connection):\n\n"
        out += "| | p50 / p99 ms | added p50 / p99 µs |\n|---|---|---|\n"
        for name, c in st.items():
            added = "–" if name == "direct" else \
                f"{(c['p50_ms'] - sd['p50_ms']) * 1000:.0f} / {(c['p99_ms'] - sd['p99_ms']) * 1000:.0f}"
            out += f"| {name} | {c['p50_ms']:.3f} / {c['p99_ms']:.3f} | {added} |\n"
    if "litellm" in p:
        lit = p["litellm"]
        for name in ("sipp_openai_route", "sipp_profile_route"):
            out += f"\n{name} / LiteLLM at c=16: {p[name]['c16_rps'] / lit['c16_rps']:.1f}x req/s"
    if "traffic" in p:
        out += "\n\nTraffic limits (a caller with requests, tokens and stream limits far above the load):\n\n"
        out += bench_traffic.markdown(p["traffic"])
    if "local" in r:
        loc = r["local"]
        out += (f"\n\nlocal target, {loc['streams']} streams x {loc['gen']} tokens: gateway {loc['gateway_aggregate_tps']:.1f} tok/s,"
                f" in-process {loc['in_process_aggregate_tps']:.1f} tok/s:"
                f" {loc['gateway_aggregate_tps'] / loc['in_process_aggregate_tps']:.2f}x\n")
    if "affinity" in r:
        out += "\n" + bench_affinity.markdown(r["affinity"])
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gateway-bin", required=True)
    p.add_argument("--litellm", help="the `litellm` executable (litellm[proxy]); omitted: no LiteLLM column")
    p.add_argument("--model", required=True)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--affinity-rounds", type=int, default=4)
    p.add_argument("--markdown")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, Any] = {"proxy": proxying(args, Path(tmp))}
        print("bench: local target through the gateway ...", file=sys.stderr, flush=True)
        results["local"] = local_target(args, Path(tmp))
        results["affinity"] = bench_affinity.affinity(args.gateway_bin, args.model, 1, args.affinity_rounds, Path(tmp))
    if args.markdown:
        Path(args.markdown).write_text(markdown(results))
    else:
        print(markdown(results), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
