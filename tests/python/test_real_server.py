"""The provider adapters against a real server, not only our mocks: llama.cpp's own
llama-server (built by `cargo xtask llama-server` from the llama.cpp that
llama-cpp-python vendors) speaks OpenAI's completions, chat and embeddings routes and
Anthropic's Messages API. Same model on both sides; loopback only."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import sipp
from conftest import MODEL
from servers import free_port, http_ok, running

KEY = "sk-local-test-key-123456"
MINILM = MODEL.parent / "all-MiniLM-L6-v2.F16.gguf"
MESSAGES = [sipp.ChatMessage("system", "Answer concisely."), sipp.ChatMessage("user", "What is the capital of France?")]


def server_binary() -> Path:
    path = os.environ.get("SIPP_LLAMA_SERVER")
    if not path or not Path(path).is_file():
        pytest.fail("llama-server missing; run `cargo xtask llama-server` and set SIPP_LLAMA_SERVER (cargo xtask test does)")
    return Path(path)


@contextmanager
def llama_server(model: Path, *args: str) -> Iterator[str]:
    port = free_port()
    cmd = [str(server_binary()), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-t", "2", "--no-webui", *args]
    url = f"http://127.0.0.1:{port}"
    with running(cmd, http_ok(f"{url}/health")):
        yield url


@pytest.fixture(scope="module")
def text_server(model_path: Path) -> Iterator[str]:
    with llama_server(model_path, "-c", "4096", "-np", "2", "--api-key", KEY) as url:
        yield url


@pytest.fixture(scope="module")
def embed_server() -> Iterator[str]:
    if not MINILM.is_file():
        pytest.fail(f"test embedding model missing at {MINILM}; run `cargo xtask models`")
    with llama_server(MINILM, "--embeddings", "--pooling", "mean", "-c", "512", "-b", "512", "-ub", "512") as url:
        yield url


def greedy(max_tokens: int) -> sipp.SippTextOptions:
    return sipp.SippTextOptions(max_tokens=max_tokens, temperature=0.0)


def compatible(client: sipp.SippClient, url: str, key: str | None = KEY) -> sipp.EndpointRef:
    return client.add("compat", sipp.ProviderDescriptor("openai_compatible", "smollm2", api_key=key, base_url=f"{url}/v1"))


def test_openai_compatible_chat_answers_like_the_local_engine(client: sipp.SippClient, text_server: str, model_path: Path) -> None:
    remote = client.chat(MESSAGES, endpoint=compatible(client, text_server), options=greedy(24)).result()
    local = client.chat(MESSAGES, endpoint=client.add("local", sipp.LocalModelDescriptor(model_path)), options=greedy(24)).result()
    assert "Paris" in remote.text, remote.text
    assert "Paris" in local.text, local.text
    assert remote.usage is not None and local.usage is not None
    # Same model, same template: the prompt has the same number of tokens on both sides.
    assert remote.usage.input_tokens == local.usage.input_tokens
    assert remote.finish_reason in ("stop", "length")


def test_openai_compatible_streams_chat_with_usage(client: sipp.SippClient, text_server: str) -> None:
    run = client.chat(MESSAGES, endpoint=compatible(client, text_server), options=greedy(24), emit_tokens=True)
    texts = [b.text for b in run]
    r = run.result()
    assert len(texts) > 3 and "".join(texts) == r.text and "Paris" in r.text
    # One batch per generated token; the end-of-turn token is counted but has no text.
    assert r.usage is not None and len(texts) <= r.usage.output_tokens <= len(texts) + 1
    assert r.usage.input_tokens > 10


def test_openai_compatible_query_uses_completions(client: sipp.SippClient, text_server: str) -> None:
    ep = compatible(client, text_server)
    r = client.query("The capital of France is", endpoint=ep, options=greedy(5)).result()
    assert (r.finish_reason, r.usage and r.usage.output_tokens) == ("length", 5)
    run = client.query("The capital of France is", endpoint=ep, options=greedy(5), emit_tokens=True)
    streamed = "".join(b.text for b in run)
    assert streamed == run.result().text == r.text


def test_wrong_key_is_an_authentication_error(client: sipp.SippClient, text_server: str) -> None:
    with pytest.raises(sipp.AuthenticationError) as info:
        client.chat(MESSAGES, endpoint=compatible(client, text_server, key="wrong-key-000"), options=greedy(4)).result()
    assert info.value.status == 401 and "wrong-key-000" not in str(info.value)


def test_anthropic_messages_api(client: sipp.SippClient, text_server: str) -> None:
    ep = client.add("claude", sipp.ProviderDescriptor("anthropic", "smollm2", api_key=KEY, base_url=f"{text_server}/v1"))
    r = client.chat(MESSAGES, endpoint=ep, options=greedy(24)).result()
    assert "Paris" in r.text and r.usage is not None and r.usage.output_tokens > 0
    run = client.chat(MESSAGES, endpoint=ep, options=greedy(24), emit_tokens=True)
    texts = [b.text for b in run]
    s = run.result()
    assert "".join(texts) == s.text and "Paris" in s.text
    assert s.usage is not None and s.usage.input_tokens == r.usage.input_tokens
    short = client.query("Count: 1, 2, 3,", endpoint=ep, options=greedy(3)).result()
    assert short.finish_reason == "length"


def test_cancel_mid_stream_then_the_server_still_answers(client: sipp.SippClient, text_server: str) -> None:
    ep = compatible(client, text_server)
    # llama-server's own `ignore_eos`, through provider_options: 400 tokens unless cancelled.
    run = client.query(
        "Once upon a time", endpoint=ep, options=greedy(400), emit_tokens=True, provider_options={"ignore_eos": True}
    )
    it = iter(run)
    first = next(it).text
    run.cancel("enough")
    r = run.result()
    assert r.finish_reason == "cancelled" and r.text.startswith(first)
    assert r.usage is None or r.usage.output_tokens < 400
    assert client.chat(MESSAGES, endpoint=ep, options=greedy(8)).result().text


def test_embeddings_match_the_local_engine(client: sipp.SippClient, embed_server: str) -> None:
    ep = client.add("embed-remote", sipp.ProviderDescriptor("openai_compatible", "minilm", base_url=f"{embed_server}/v1"))
    local = client.add(
        "embed-local",
        sipp.LocalModelDescriptor(MINILM, sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(embeddings=True, pooling="mean"))),
    )
    text = "Gateways centralize model access."
    remote = client.embed(text, endpoint=ep).result()
    mine = client.embed(text, endpoint=local, local=sipp.LocalEmbedOptions(normalize=True)).result()
    assert len(remote.values) == len(mine.values) == 384
    dot = sum(a * b for a, b in zip(remote.values, mine.values))
    assert dot / (math.hypot(*remote.values) * math.hypot(*mine.values)) > 0.999
    assert remote.normalized and remote.pooling is None
