"""Cancel mid-stream (sync, async, by dropping the handle) and Ctrl-C during result()."""

from __future__ import annotations

import _thread
import asyncio
import gc
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sipp
from conftest import chatml, greedy

LONG = chatml("Write a very long story about dragons and castles.")


def one_slot(client: sipp.SippClient, model_path: Path) -> sipp.EndpointRef:
    config = sipp.NativeRuntimeConfig(scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=1))
    return client.add("one", sipp.LocalModelDescriptor(model_path, config))


def wait_for(predicate: "object", timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False


def test_cancel_mid_stream_sync(client: sipp.SippClient, model_path: Path) -> None:
    ep = one_slot(client, model_path)
    run = client.query(LONG, endpoint=ep, options=greedy(400), emit_tokens=True)
    for i, _batch in enumerate(run):
        if i == 2:
            run.cancel("user pressed stop")
    response = run.result()
    assert response.finish_reason == "cancelled"
    assert 3 <= response.usage.output_tokens < 50
    # The single slot is free again.
    assert client.query(chatml("Hi"), endpoint=ep, options=greedy(4)).result().usage.output_tokens >= 1


def test_cancel_mid_stream_async(client: sipp.SippClient, model_path: Path) -> None:
    ep = one_slot(client, model_path)

    async def main() -> sipp.SippTextResponse:
        run = client.query(LONG, endpoint=ep, options=greedy(400), emit_tokens=True)
        count = 0
        async for _batch in run:
            count += 1
            if count == 3:
                run.cancel("client went away")
        return await run

    assert asyncio.run(main()).finish_reason == "cancelled"
    assert client.endpoint_stats(ep)["cancelled_requests"] == 1


def test_dropping_an_unfinished_run_frees_its_sequence(client: sipp.SippClient, model_path: Path) -> None:
    ep = one_slot(client, model_path)
    run = client.query(LONG, endpoint=ep, options=greedy(400), emit_tokens=True)
    next(iter(run))
    del run
    gc.collect()
    # With one slot this completes only because the dropped run released it.
    assert client.query(chatml("Hi"), endpoint=ep, options=greedy(4)).result().text is not None
    assert client.endpoint_stats(ep)["cancelled_requests"] == 1


def test_cancelling_the_awaiting_task_cancels_the_run(client: sipp.SippClient, model_path: Path) -> None:
    ep = one_slot(client, model_path)

    async def main() -> None:
        run = client.query(LONG, endpoint=ep, options=greedy(400))
        task = asyncio.ensure_future(run.response())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        del run

    asyncio.run(main())
    gc.collect()
    assert wait_for(lambda: client.endpoint_stats(ep)["cancelled_requests"] == 1)


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Python's own SIGINT handler, as in an interactive run: a shell that starts the
    suite in the background (no job control) leaves SIGINT ignored, and then
    ``interrupt_main`` (like a real Ctrl-C) does nothing at all."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("ctrl_c_raises")
def test_keyboard_interrupt_during_result_is_prompt_and_cancels(client: sipp.SippClient, model_path: Path) -> None:
    ep = one_slot(client, model_path)
    run = client.query(LONG, endpoint=ep, options=greedy(2000))
    timer = threading.Timer(0.3, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run.result()
    assert time.monotonic() - started < 2.0
    assert wait_for(lambda: client.endpoint_stats(ep)["cancelled_requests"] == 1)
    assert client.query(chatml("Hi"), endpoint=ep, options=greedy(4)).result().usage.output_tokens >= 1
