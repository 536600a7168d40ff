"""The official ``openai`` SDK (sync and async) against ``sipp-gateway``'s OpenAI-compatible
routes, serving the default model and an embedding model: what an application built on
that SDK does, with answers checked against the same engine called in-process."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path

import openai
import numpy as np
import pytest

import sipp
from conftest import GATEWAY_TOKEN as TOKEN
from conftest import MINILM, chatml

QUESTION = [
    {"role": "system", "content": "Answer concisely."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture
def sdk(gateway_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=TOKEN, max_retries=0) as c:
        yield c


def test_chat_completion_matches_the_in_process_engine(sdk: openai.OpenAI, client: sipp.SippClient, model_path: Path) -> None:
    r = sdk.chat.completions.create(model="local", messages=QUESTION, max_tokens=16, temperature=0)
    choice = r.choices[0]
    assert (r.object, r.model, choice.message.role) == ("chat.completion", "local", "assistant")
    assert choice.finish_reason in ("stop", "length")
    assert r.usage is not None and 0 < r.usage.completion_tokens <= 16
    ep = client.add("direct", sipp.LocalModelDescriptor(model_path))
    messages = [sipp.ChatMessage(m["role"], m["content"]) for m in QUESTION]
    direct = client.chat(messages, endpoint=ep, options=sipp.SippTextOptions(max_tokens=16, temperature=0.0)).result()
    assert choice.message.content == direct.text and "Paris" in direct.text


def test_streamed_chat_reassembles_the_answer_with_usage(sdk: openai.OpenAI) -> None:
    whole = sdk.chat.completions.create(model="local", messages=QUESTION, max_tokens=16, temperature=0)
    stream = sdk.chat.completions.create(
        model="local", messages=QUESTION, max_tokens=16, temperature=0,
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_completions_stream_and_not(sdk: openai.OpenAI) -> None:
    prompt = chatml("What is the capital of France?")
    whole = sdk.completions.create(model="local", prompt=prompt, max_tokens=8, temperature=0)
    assert whole.object == "text_completion" and "Paris" in whole.choices[0].text
    parts = [c.choices[0].text for c in sdk.completions.create(model="local", prompt=prompt, max_tokens=8, temperature=0, stream=True)]
    assert "".join(parts) == whole.choices[0].text


def test_embeddings_match_in_process_vectors(sdk: openai.OpenAI, client: sipp.SippClient) -> None:
    texts = ["The gateway owns the models.", "Paris is the capital of France."]
    r = sdk.embeddings.create(model="minilm", input=texts)
    assert [d.index for d in r.data] == [0, 1] and r.usage.prompt_tokens > 0
    as_b64 = sdk.embeddings.create(model="minilm", input=texts, encoding_format="base64")
    config = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(embeddings=True, pooling="mean"))
    ep = client.add("minilm", sipp.LocalModelDescriptor(MINILM, config))
    for text, got, got_b64 in zip(texts, r.data, as_b64.data):
        want = client.embed(text, endpoint=ep).result().values
        assert len(got.embedding) == len(want) == 384
        assert max(abs(a - b) for a, b in zip(got.embedding, want)) < 1e-6
        # Asked for explicitly, base64 comes back as the SDK's caller sees it: a string of
        # little-endian float32s.
        assert isinstance(got_b64.embedding, str)
        assert np.frombuffer(base64.b64decode(got_b64.embedding), dtype="<f4").tolist() == got.embedding


def test_models_and_typed_errors(sdk: openai.OpenAI, gateway_url: str) -> None:
    assert [m.id for m in sdk.models.list()] == ["local", "minilm"]
    assert sdk.models.retrieve("local").owned_by == "sipp"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-4o")
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o", messages=QUESTION)
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="local", messages=QUESTION, n=2)
    assert bad.value.param == "n" and "unsupported" in bad.value.message
    with pytest.raises(openai.BadRequestError):
        sdk.embeddings.create(model="local", input="a text model has no pooled vector")
    with openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="not-the-token", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()


def test_async_client_streams_concurrently(gateway_url: str) -> None:
    async def main() -> list[str]:
        async with openai.AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key=TOKEN, max_retries=0) as sdk:

            async def one(question: str) -> str:
                stream = await sdk.chat.completions.create(
                    model="local", messages=[{"role": "user", "content": question}],
                    max_tokens=12, temperature=0, stream=True,
                )
                async with stream:
                    return "".join([c.choices[0].delta.content or "" async for c in stream])

            questions = ["Name a color.", "Name a fruit.", "Name an animal.", "Say hi."]
            return list(await asyncio.gather(*(one(q) for q in questions)))

    answers = asyncio.run(main())
    assert len(answers) == 4 and all(a.strip() for a in answers)
