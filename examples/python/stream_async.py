"""Stream tokens from several concurrent asyncio tasks; the engine batches them.

    python examples/python/stream_async.py [MODEL.gguf]
"""

from __future__ import annotations

import asyncio

from _model import model_path

from sipp import ChatMessage, EndpointRef, LocalModelDescriptor, SippClient, SippTextOptions


async def ask(client: SippClient, endpoint: EndpointRef, question: str) -> str:
    run = client.chat(
        [ChatMessage("user", question)],
        endpoint=endpoint,
        options=SippTextOptions(max_tokens=48, temperature=0.0),
        emit_tokens=True,
    )
    pieces = [batch.text async for batch in run]
    response = await run
    assert "".join(pieces) == response.text
    return response.text


async def main() -> None:
    async with SippClient() as client:
        endpoint = client.add("stream", LocalModelDescriptor(model_path()))
        questions = ["Name a fruit.", "Name a planet.", "Name a color.", "Name an ocean."]
        answers = await asyncio.gather(*(ask(client, endpoint, q) for q in questions))
        for question, answer in zip(questions, answers):
            print(f"{question} -> {answer.strip()}")
        print(f"max sequences in one decode: {client.endpoint_stats(endpoint)['max_batch_sequences']}")


if __name__ == "__main__":
    asyncio.run(main())
