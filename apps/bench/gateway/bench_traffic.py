"""What traffic limits add to a proxied request (`cargo xtask bench`, gateway part).

The same mock upstream and request as the proxy table, through `sipp-gateway` three
ways in one run: no limits, a caller with token limits counted in memory, and the same
limits counted in a real Redis (`[state]`; Debian's redis-server on loopback). The
limits are far above the load, so every request is admitted and settled and none is
refused: the difference is the cost of counting. p50/p99 at concurrency 1 and 64.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bench_gateway as g

LIMITS = "requests_per_minute = 4000000000\ntokens_per_minute = 4000000000\nmax_concurrent_streams = 100000\n"


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    port = g.free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with g.process(cmd, tmp / "redis.log", cpu=g.LOAD_CPU):
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"


def contender(url: str, seconds: int, tmp: Path) -> dict[str, float]:
    auth = {"Authorization": f"Bearer {g.TOKEN}"}
    g.wrk(url, g.CHAT, auth, 4, 2, tmp)  # warm-up
    c1 = g.wrk(url, g.CHAT, auth, 1, seconds, tmp)
    c64 = g.wrk(url, g.CHAT, auth, 64, seconds, tmp)
    return {"c1_p50_ms": c1["p50_ms"], "c1_p99_ms": c1["p99_ms"], "c64_p50_ms": c64["p50_ms"],
            "c64_p99_ms": c64["p99_ms"], "c64_rps": c64["rps"]}


def traffic(binary: str, upstream: str, seconds: int, tmp: Path) -> dict[str, Any]:
    """`upstream` is the mock the proxy table uses (already running)."""
    target = g.mock_target(upstream)
    out: dict[str, Any] = {}
    with g.sipp_gateway(binary, tmp, target, cpu=g.GATEWAY_CPU) as (url, _):
        g.log("bench: sipp-gateway without limits ...")
        out["no_limits"] = contender(url + "/v1/chat/completions", seconds, tmp)
    with g.sipp_gateway(binary, tmp, target, token_lines=LIMITS, cpu=g.GATEWAY_CPU) as (url, _):
        g.log("bench: sipp-gateway with token limits in memory ...")
        out["limits_memory"] = contender(url + "/v1/chat/completions", seconds, tmp)
    with redis_server(tmp) as redis_url:
        state = f'[state]\nredis_url = "{redis_url}"\n'
        with g.sipp_gateway(binary, tmp, target + state, token_lines=LIMITS, cpu=g.GATEWAY_CPU) as (url, _):
            g.log("bench: sipp-gateway with token limits in Redis ...")
            out["limits_redis"] = contender(url + "/v1/chat/completions", seconds, tmp)
    return out


def markdown(t: dict[str, Any]) -> str:
    base = t["no_limits"]
    rows = ["| sipp-gateway | c=1 p50 ms | c=1 p99 ms | added p50 ms | c=64 p50 ms | c=64 p99 ms | added c=64 p50 ms | c=64 req/s |",
            "|---|---|---|---|---|---|---|---|"]
    for name in ("no_limits", "limits_memory", "limits_redis"):
        c = t[name]
        rows.append(f"| {name} | {c['c1_p50_ms']:.3f} | {c['c1_p99_ms']:.3f} | {c['c1_p50_ms'] - base['c1_p50_ms']:.3f} |"
                    f" {c['c64_p50_ms']:.3f} | {c['c64_p99_ms']:.3f} | {c['c64_p50_ms'] - base['c64_p50_ms']:.3f} | {c['c64_rps']:.0f} |")
    return "\n".join(rows) + "\n"
