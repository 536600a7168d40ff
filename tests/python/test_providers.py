"""Provider endpoints from Python against a loopback mock of each API: the exact
request per operation, streaming, provider_options rules and key hygiene. The same
adapters are checked against a real OpenAI-compatible server in test_real_server.py."""

from __future__ import annotations

import pytest
from mock_upstream import MockUpstream, Reply

import sipp

KEY = "sk-test-0123456789"
MESSAGES = [
    sipp.ChatMessage("system", "Answer briefly."),
    sipp.ChatMessage("user", "Hi"),
    sipp.ChatMessage("assistant", "Hello."),
    sipp.ChatMessage("user", "What is Sipp?"),
]
OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A runtime."}, "finish_reason": "length"}],
    "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24},
}


def provider(client: sipp.SippClient, mock: MockUpstream, name: str, key: str | None = KEY) -> sipp.EndpointRef:
    return client.add("p", sipp.ProviderDescriptor(name, "model-x", api_key=key, base_url=f"{mock.url}/v1"))  # type: ignore[arg-type]


def test_openai_chat_request_and_answer(client: sipp.SippClient) -> None:
    with MockUpstream([Reply.json(OPENAI_CHAT)]) as mock:
        ep = provider(client, mock, "openai")
        assert ep.kind == "provider"
        r = client.chat(MESSAGES, endpoint=ep, options=sipp.SippTextOptions(max_tokens=3, temperature=0.5, stop=["\n"])).result()
        req = mock.only_request()
    assert (r.text, r.finish_reason, r.usage) == ("A runtime.", "length", sipp.Usage(21, 3, 24))
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.json() == {
        "model": "model-x",
        "messages": [{"role": m.role, "content": m.content} for m in MESSAGES],
        "max_completion_tokens": 3,
        "temperature": 0.5,
        "stop": ["\n"],
    }


def test_openai_compatible_streams_completions(client: sipp.SippClient) -> None:
    frames = [
        'data: {"choices":[{"index":0,"text":"Par","finish_reason":null}]}\n\n',
        'data: {"choices":[{"index":0,"text":"is.","finish_reason":"stop"}]}\n\n',
        'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n',
        "data: [DONE]\n\n",
    ]
    with MockUpstream([Reply.sse(frames, split_every=9)]) as mock:
        ep = provider(client, mock, "openai_compatible", key=None)
        run = client.query("The capital of France is", endpoint=ep, emit_tokens=True, options=sipp.SippTextOptions(max_tokens=4))
        assert [b.text for b in run] == ["Par", "is."]
        r = run.result()
        req = mock.only_request()
    assert (r.text, r.usage) == ("Paris.", sipp.Usage(5, 2, 7))
    assert "authorization" not in req.headers
    assert (req.path, req.json()) == (
        "/v1/completions",
        {"model": "model-x", "prompt": "The capital of France is", "max_tokens": 4, "stream": True,
         "stream_options": {"include_usage": True}},
    )


def test_openai_embed(client: sipp.SippClient) -> None:
    answer = {"data": [{"index": 0, "embedding": [1.0, 2.0]}], "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    with MockUpstream([Reply.json(answer)]) as mock:
        e = client.embed("vectorize me", endpoint=provider(client, mock, "openai")).result()
        req = mock.only_request()
    assert (e.values, e.normalized, e.usage) == ([1.0, 2.0], False, sipp.Usage(3, 0, 3))
    assert (req.path, req.json()) == ("/v1/embeddings", {"model": "model-x", "input": "vectorize me", "encoding_format": "float"})


def test_anthropic_chat_stream(client: sipp.SippClient) -> None:
    frames = [
        'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":9,"output_tokens":1}}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n',
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    with MockUpstream([Reply.sse(frames)]) as mock:
        ep = provider(client, mock, "anthropic")
        run = client.chat(MESSAGES, endpoint=ep, emit_tokens=True, provider_options={"metadata": {"user_id": "u1"}})
        assert [b.text for b in run] == ["Hi", "!"]
        r = run.result()
        req = mock.only_request()
    assert (r.text, r.finish_reason, r.usage) == ("Hi!", "stop", sipp.Usage(9, 2, 11))
    assert (req.path, req.headers["x-api-key"], req.headers["anthropic-version"]) == ("/v1/messages", KEY, "2023-06-01")
    assert req.json() == {
        "model": "model-x",
        "max_tokens": 4096,
        "system": "Answer briefly.",
        "messages": [{"role": m.role, "content": m.content} for m in MESSAGES[1:]],
        "stream": True,
        "metadata": {"user_id": "u1"},
    }


def test_anthropic_embed_is_unsupported(client: sipp.SippClient) -> None:
    with MockUpstream([]) as mock:
        with pytest.raises(sipp.UnsupportedOperationError, match="no embeddings"):
            client.embed("x", endpoint=provider(client, mock, "anthropic")).result()


def test_provider_options_rules(client: sipp.SippClient) -> None:
    with MockUpstream([]) as mock:
        ep = provider(client, mock, "openai")
        for key in ["model", "messages", "temperature", "top_p", "max_tokens", "stop", "stream"]:
            with pytest.raises(sipp.InvalidRequestError, match=f"provider_options may not set `{key}`"):
                client.chat(MESSAGES, endpoint=ep, provider_options={key: 1}).result()
        with pytest.raises(sipp.InvalidRequestError, match="endpoint_options are for gateway endpoints"):
            client.chat(MESSAGES, endpoint=ep, endpoint_options={"x": 1}).result()
        with pytest.raises(sipp.InvalidRequestError, match="json_schema is local-only"):
            client.chat(MESSAGES, endpoint=ep, local=sipp.LocalTextOptions(json_schema={"type": "object"})).result()
        assert mock.requests == []


def test_keys_stay_out_of_repr_and_errors(client: sipp.SippClient) -> None:
    d = sipp.ProviderDescriptor("openai", "m", api_key=KEY, base_url="http://127.0.0.1:9")
    assert KEY not in repr(d) and "api_key='[redacted]'" in repr(d)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error", "code": "invalid_api_key"}}
    with MockUpstream([Reply.json(echo, 401)]) as mock:
        with pytest.raises(sipp.AuthenticationError) as info:
            client.chat(MESSAGES, endpoint=provider(client, mock, "openai")).result()
    assert KEY not in str(info.value) and info.value.upstream_code == "invalid_api_key"


def test_compatible_without_base_url_fails_at_add(client: sipp.SippClient) -> None:
    with pytest.raises(sipp.InvalidConfigError, match="needs base_url"):
        client.add("p", sipp.ProviderDescriptor("openai_compatible", "m"))


def test_request_id_travels_under_the_correlation_header(client: sipp.SippClient) -> None:
    with MockUpstream([Reply.json(OPENAI_CHAT), Reply.json(OPENAI_CHAT)]) as mock:
        d = sipp.ProviderDescriptor("openai_compatible", "m", base_url=f"{mock.url}/v1", correlation_header="x-trace-id")
        assert "correlation_header='x-trace-id'" in repr(d)
        ep = client.add("traced", d)
        client.chat(MESSAGES, endpoint=ep, request_id="trace-7").result()
        client.chat(MESSAGES, endpoint=ep).result()
        with pytest.raises(sipp.InvalidRequestError, match="request_id"):
            client.chat(MESSAGES, endpoint=ep, request_id="two\nlines").result()
        sent = [r.headers.get("x-trace-id") for r in mock.requests]
    assert sent == ["trace-7", None]
