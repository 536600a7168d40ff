"""The Python package's figures for `cargo xtask bench --node-only`: the same prompts,
threads, greedy tokens and measurement as bench_node.mjs (best of --reps; 1 stream, then
8 concurrent through asyncio). Prints one JSON report."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import sipp

STREAMS = 8


def prompt(i: int) -> str:
    return (
        f"<|im_start|>user\nWrite a very long story about dragons and castles, number {i}.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    client = sipp.SippClient()
    context = sipp.ContextRuntimeConfig(n_ctx=2048, n_parallel=STREAMS, n_threads=a.threads, n_threads_batch=a.threads)
    ep = client.add("bench", sipp.LocalModelDescriptor(a.model, sipp.NativeRuntimeConfig(context=context)))
    options = sipp.SippTextOptions(max_tokens=a.tokens, temperature=0.0)

    async def one(i: int) -> int:
        run = client.query(prompt(i), endpoint=ep, options=options, emit_tokens=True)
        async for _ in run:
            pass
        response = await run
        assert response.usage is not None
        return response.usage.output_tokens

    async def measure(streams: int) -> dict[str, float]:
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(one(i) for i in range(streams)))
        seconds = time.perf_counter() - t0
        return {"streams": streams, "tokens": sum(counts), "seconds": round(seconds, 3),
                "tokPerS": round(sum(counts) / seconds, 1)}

    async def best(streams: int) -> dict[str, float]:
        runs = [await measure(streams) for _ in range(a.reps)]
        return max(runs, key=lambda r: r["tokPerS"])

    await one(99)
    single = await best(1)
    batched = await best(STREAMS)
    client.close()
    print(json.dumps({"contender": "python", "threads": a.threads, "maxTokens": a.tokens, "single": single, "batched": batched}))


asyncio.run(main())
