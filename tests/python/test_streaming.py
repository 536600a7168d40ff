"""Streaming: sync and async token batches add up to the final text."""

from __future__ import annotations

import asyncio

import sipp
from conftest import chatml, greedy


def test_sync_stream_matches_result(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    run = client.query(chatml("Describe autumn."), endpoint=text_ep, options=greedy(32), emit_tokens=True)
    batches = list(run)
    assert [b.sequence for b in batches] == list(range(len(batches)))
    assert all(isinstance(b.token_ids, list) for b in batches)
    response = run.result()
    assert "".join(b.text for b in batches) == response.text
    assert response.text == response["text"]
    assert response.usage.output_tokens == response["usage"]["output_tokens"]


def test_async_stream_matches_result_and_sync_run(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    expected = client.query(chatml("Describe winter."), endpoint=text_ep, options=greedy(32)).result().text

    async def main() -> tuple[str, sipp.SippTextResponse]:
        run = client.query(chatml("Describe winter."), endpoint=text_ep, options=greedy(32), emit_tokens=True)
        text = "".join([b.text async for b in run])
        return text, await run

    streamed, response = asyncio.run(main())
    assert streamed == response.text == expected


def test_await_without_streaming_and_result_twice(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    async def main() -> sipp.SippTextResponse:
        return await client.chat([sipp.ChatMessage("user", "Hi")], endpoint=text_ep, options=greedy(8))

    response = asyncio.run(main())
    assert response.finish_reason in ("stop", "length")
    run = client.query("Hello", endpoint=text_ep, options=greedy(4))
    assert run.result() is run.result()


def test_awaiting_does_not_block_the_event_loop(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    async def main() -> int:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        await client.query(chatml("Write a paragraph about rivers."), endpoint=text_ep, options=greedy(64))
        stop.set()
        await task
        return ticks

    assert asyncio.run(main()) > 10
