"""``n_ctx`` is the window of every request, failed runs raise where the caller iterates,
and a free running place always admits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import sipp
from conftest import chatml, greedy


def long_prompt(words: int) -> str:
    return chatml("Count the words:" + " word" * words)


def test_one_request_gets_the_whole_n_ctx(client: sipp.SippClient, model_path: Path) -> None:
    config = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_ctx=2048))
    ep = client.add("w", sipp.LocalModelDescriptor(model_path, config))
    info = client.endpoint_info(ep)
    assert (info["n_ctx"], info["n_seq_max"], info["kv_unified"]) == (2048, 8, False)
    assert info["kv_cells"] == 8 * 2048 and info["kv_bytes"] == info["kv_cells"] * 23040
    response = client.query(long_prompt(1800), endpoint=ep, options=greedy(8)).result()
    assert 1800 < response.usage.input_tokens < 2040
    assert response.usage.output_tokens == 8
    with pytest.raises(sipp.ContextOverflowError, match=r"context\.n_ctx = 2048"):
        client.query(long_prompt(2100), endpoint=ep, options=greedy(8)).result()


def test_a_shared_pool_queues_instead_of_truncating(client: sipp.SippClient, model_path: Path) -> None:
    config = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_ctx=2048, kv_unified=True))
    ep = client.add("pool", sipp.LocalModelDescriptor(model_path, config))
    assert client.endpoint_info(ep)["kv_cells"] == 2048
    runs = [client.query(long_prompt(1200), endpoint=ep, options=greedy(16)) for _ in range(2)]
    responses = [r.result() for r in runs]
    assert [r.usage.output_tokens for r in responses] == [16, 16]
    assert client.endpoint_stats(ep)["max_batch_sequences"] == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_iteration_raises_a_failed_runs_error(client: sipp.SippClient, model_path: Path, mode: str) -> None:
    config = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_ctx=256))
    ep = client.add("small", sipp.LocalModelDescriptor(model_path, config))

    def too_long() -> sipp.SippTextRun:
        return client.query(long_prompt(400), endpoint=ep, options=greedy(8), emit_tokens=True)

    async def drain(run: sipp.SippTextRun) -> list[sipp.TokenBatch]:
        return [b async for b in run]

    with pytest.raises(sipp.ContextOverflowError):
        if mode == "sync":
            list(too_long())
        else:
            asyncio.run(drain(too_long()))

    # A run that fails mid-stream: the endpoint is closed under it.
    run = client.query(chatml("Write a very long story."), endpoint=ep, options=greedy(200), emit_tokens=True)
    with pytest.raises(sipp.EndpointClosedError):
        if mode == "sync":
            for i, _ in enumerate(run):
                if i == 0:
                    client.close()
        else:

            async def close_after_first() -> None:
                i = 0
                async for _ in run:
                    if i == 0:
                        client.close()
                    i += 1

            asyncio.run(close_after_first())


def test_no_queue_still_admits_into_a_free_place(client: sipp.SippClient, model_path: Path) -> None:
    config = sipp.NativeRuntimeConfig(
        scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=1, max_queued_requests=0)
    )
    ep = client.add("one", sipp.LocalModelDescriptor(model_path, config))
    assert client.query("Hi", endpoint=ep, options=greedy(2)).result().finish_reason in ("stop", "length")
    running = client.query(chatml("Write a long story."), endpoint=ep, options=greedy(64), emit_tokens=True)
    next(iter(running))
    with pytest.raises(sipp.OverloadedError):
        client.query("Hi", endpoint=ep, options=greedy(2)).result()
    running.result()
    client.query("Hi", endpoint=ep, options=greedy(2)).result()
