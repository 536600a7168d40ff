"""Many Python threads or asyncio tasks batch together in the engine."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

import sipp
from conftest import chatml, greedy

PROMPTS = [
    "Name three fruits.",
    "What is two plus two?",
    "Describe the color blue.",
    "Give me a synonym for happy.",
    "What do bees make?",
    "Name a planet.",
    "Say hello in French.",
    "What is ice made of?",
]


def serial(client: sipp.SippClient, ep: sipp.EndpointRef) -> list[str]:
    return [client.query(chatml(p), endpoint=ep, options=greedy(24)).result().text for p in PROMPTS]


@pytest.mark.timeout(180)
def test_eight_threads_match_serial_and_share_batches(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    expected = serial(client, text_ep)
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda p: client.query(chatml(p), endpoint=text_ep, options=greedy(24)).result().text, PROMPTS))
    assert texts == expected
    assert client.endpoint_stats(text_ep)["max_batch_sequences"] >= 4


@pytest.mark.timeout(180)
def test_eight_asyncio_tasks_match_serial_and_share_batches(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    expected = serial(client, text_ep)

    async def main() -> list[sipp.SippTextResponse]:
        runs = [client.query(chatml(p), endpoint=text_ep, options=greedy(24)) for p in PROMPTS]
        return await asyncio.gather(*(run.response() for run in runs))

    responses = asyncio.run(main())
    assert [r.text for r in responses] == expected
    shared = max(r.local_stats.max_batch_sequences for r in responses if r.local_stats)
    assert shared >= 4
