"""Sentence embeddings from Python on a real embedding model (all-MiniLM-L6-v2 as GGUF),
checked against reference vectors computed without llama.cpp (tests/models/minilm.py)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest

import sipp
from conftest import MODEL

MINILM = MODEL.parent / "all-MiniLM-L6-v2.F16.gguf"
REFERENCE = MODEL.parent / "all-MiniLM-L6-v2.reference.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        pytest.fail(f"test embedding model missing at {MINILM}; run `cargo xtask models`")
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def config(n_ubatch: int | None = None) -> sipp.NativeRuntimeConfig:
    return sipp.NativeRuntimeConfig(
        context=sipp.ContextRuntimeConfig(embeddings=True, pooling="mean", n_batch=n_ubatch, n_ubatch=n_ubatch)
    )


def test_vectors_match_the_reference(client: sipp.SippClient, reference: dict[str, Any]) -> None:
    ep = client.add("minilm", sipp.LocalModelDescriptor(MINILM, config()))
    normalize = sipp.LocalEmbedOptions(normalize=True)
    got = []
    for sentence, expected, tokens in zip(reference["sentences"], reference["vectors"], reference["tokens"]):
        response = client.embed(sentence, endpoint=ep, local=normalize).result()
        assert response.usage is not None and response.usage.input_tokens == tokens
        assert cosine(response.values, expected) >= 0.99, sentence[:40]
        got.append(response.values)
    assert cosine(got[0], got[1]) > cosine(got[0], got[2]) + 0.3


def test_concurrent_async_embeds_match_serial(client: sipp.SippClient, reference: dict[str, Any]) -> None:
    ep = client.add("minilm", sipp.LocalModelDescriptor(MINILM, config()))
    sentences = reference["sentences"][:4]

    async def together() -> list[sipp.SippEmbeddingResponse]:
        return list(await asyncio.gather(*(client.embed(s, endpoint=ep) for s in sentences)))

    for sentence, batched in zip(sentences, asyncio.run(together())):
        assert cosine(client.embed(sentence, endpoint=ep).result().values, batched.values) > 0.9999


def test_long_input_beyond_the_micro_batch_raises(client: sipp.SippClient, reference: dict[str, Any]) -> None:
    ep = client.add("small", sipp.LocalModelDescriptor(MINILM, config(n_ubatch=64)))
    with pytest.raises(sipp.ContextOverflowError, match=r"context\.n_ubatch = 64"):
        client.embed(reference["sentences"][4], endpoint=ep).result()


def test_per_token_pooling_is_refused_at_add(client: sipp.SippClient) -> None:
    none = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(embeddings=True, pooling="none"))
    with pytest.raises(sipp.NotSupportedYetError, match=r"context\.pooling = none"):
        client.add("none", sipp.LocalModelDescriptor(Path(MINILM), none))
