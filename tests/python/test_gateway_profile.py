"""``sipp.gateway``: the profile helpers for Python web apps, byte for byte what the
spec's Gateway Testing page shows; and the FastAPI example app, served by uvicorn, called
by Sipp's own gateway endpoint and by raw HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import sipp
from servers import free_port, port_open, running
from sipp.gateway import (
    decode_gateway_chat_body,
    decode_gateway_embed_body,
    decode_gateway_query_body,
    gateway_error_response,
    gateway_text_response_body,
    gateway_text_stream_response,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "app-token-0123456789"


def test_decode_the_testing_page_bodies() -> None:
    q = decode_gateway_query_body(
        b'{"model": "local", "prompt": "Explain gateway inference in one sentence.", "max_tokens": 64, "temperature": 0.2}'
    )
    assert (q.target, q.prompt, q.stream, q.endpoint_options) == ("local", "Explain gateway inference in one sentence.", False, {})
    assert (q.options.max_tokens, q.options.temperature) == (64, pytest.approx(0.2))
    c = decode_gateway_chat_body(
        '{"model": "local", "messages": [{"role": "system", "content": "Answer briefly."},'
        ' {"role": "user", "content": "What does the gateway own?"}], "max_tokens": 64, "stream": true, "tier": "gold"}'
    )
    assert c.messages == [sipp.ChatMessage("system", "Answer briefly."), sipp.ChatMessage("user", "What does the gateway own?")]
    assert (c.stream, c.endpoint_options) == (True, {"tier": "gold"})
    e = decode_gateway_embed_body(b'{"model": "local", "input": "gateway inference"}')
    assert (e.target, e.input) == ("local", "gateway inference")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{oops", "not valid JSON"),
        (b'{"model": "local"}', "query needs `prompt`"),
        (b'{"model": "local", "prompt": "x", "grammar": "root"}', "grammar is local-only"),
        (b'{"model": "local", "prompt": "x", "max_tokens": "many"}', "invalid type"),
    ],
)
def test_bad_bodies_raise_invalid_request(body: bytes, says: str) -> None:
    with pytest.raises(sipp.InvalidRequestError, match=says) as info:
        decode_gateway_query_body(body)
    assert gateway_error_response(info.value).status == 400


def test_errors_answer_with_status_body_and_retry_after() -> None:
    r = gateway_error_response(sipp.OverloadedError("endpoint overloaded: queue full", "overloaded"))
    assert (r.status, r.headers["retry-after"]) == (429, "1")
    assert json.loads(r.body) == {"error": {"code": "overloaded", "message": "endpoint overloaded: queue full"}}
    assert r.sse_frame == b'event: error\ndata: {"error":{"code":"overloaded","message":"endpoint overloaded: queue full"}}\n\n'
    remote = sipp.OverloadedError("busy", "overloaded", status=429, retry_after=7.0)
    assert gateway_error_response(remote).headers["retry-after"] == "7"
    for error, status in [
        (sipp.AuthorizationError("no", "authorization"), 403),
        (sipp.NotFoundError("no", "not_found"), 404),
        (sipp.UnknownEndpointError("x", "unknown_endpoint"), 404),
        (sipp.ContextOverflowError("long", "context_overflow"), 400),
        (sipp.RequestTimeoutError("slow", "timeout"), 504),
    ]:
        assert gateway_error_response(error).status == status
    hidden = gateway_error_response(RuntimeError("db password is hunter2"))
    assert hidden.status == 500 and b"hunter2" not in hidden.body


def test_a_decoded_request_runs_as_decoded(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    """The helpers hand back the native request: the client runs it without rebuilding it
    from the view, with every option the body set (``min_p`` included)."""
    body = b'{"model": "local", "prompt": "The capital of France is", "max_tokens": 5, "temperature": 0, "min_p": 0.05}'
    q = decode_gateway_query_body(body)
    assert (q.options.min_p, q.options.max_tokens) == (pytest.approx(0.05), 5)
    decoded = client.query(q.request, endpoint=text_ep).result()
    direct = client.query("The capital of France is", endpoint=text_ep, options=q.options).result()
    assert (decoded.text, decoded.usage) == (direct.text, direct.usage)
    with pytest.raises(sipp.InvalidRequestError, match="carries its own options"):
        client.query(q.request, endpoint=text_ep, options=q.options)
    c = decode_gateway_chat_body(b'{"model": "local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}')
    assert client.chat(c.request, endpoint=text_ep).result().usage.output_tokens <= 3


def test_text_answers_and_streams_from_a_real_run(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    options = sipp.SippTextOptions(max_tokens=4, temperature=0.0)
    response = client.query("The capital of France is", endpoint=text_ep, options=options).result()
    body = json.loads(gateway_text_response_body("local", response))
    assert body["id"] == "response" and body["model"] == "local" and body["text"] == response.text
    assert body["finish_reason"] == "length" and body["usage"]["output_tokens"] == 4

    async def frames() -> list[bytes]:
        run = client.query("The capital of France is", endpoint=text_ep, options=options, emit_tokens=True)
        return [f async for f in gateway_text_stream_response(run)]

    out = asyncio.run(frames())
    assert [f.split(b"\n")[0] for f in out] == [b"event: token"] * 4 + [b"event: usage"]
    assert out[-1].endswith(b'event: done\ndata: {"finish_reason":"length"}\n\n')
    texts = [json.loads(f.split(b"data: ")[1])["text"] for f in out[:4]]
    assert "".join(texts) == response.text


@pytest.fixture(scope="module")
def app_url(model_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SIPP_GATEWAY_TOKEN": TOKEN, "SIPP_MODEL": str(model_path)}
    cmd = [sys.executable, "-m", "uvicorn", "gateway_app:app", "--app-dir", str(ROOT / "examples" / "python"),
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with running(cmd, port_open(port), env=env, timeout=60):
        yield f"http://127.0.0.1:{port}"


def test_sipp_gateway_endpoint_against_the_fastapi_app(client: sipp.SippClient, app_url: str) -> None:
    ep = client.add("app", sipp.GatewayDescriptor("local", app_url, authentication_kind="bearer", authentication_value=TOKEN))
    messages = [sipp.ChatMessage("system", "Answer concisely."), sipp.ChatMessage("user", "What is the capital of France?")]
    options = sipp.SippTextOptions(max_tokens=16, temperature=0.0)
    r = client.chat(messages, endpoint=ep, options=options).result()
    assert "Paris" in r.text and r.usage is not None and r.usage.output_tokens <= 16
    run = client.chat(messages, endpoint=ep, options=options, emit_tokens=True)
    streamed = "".join(b.text for b in run)
    assert streamed == run.result().text == r.text

    wrong = client.add("wrong", sipp.GatewayDescriptor("local", app_url, authentication_kind="bearer", authentication_value="nope-0000"))
    with pytest.raises(sipp.AuthenticationError) as info:
        client.query("x", endpoint=wrong).result()
    assert info.value.status == 401
    missing = client.add("missing", sipp.GatewayDescriptor("elsewhere", app_url, authentication_kind="bearer", authentication_value=TOKEN))
    with pytest.raises(sipp.NotFoundError, match="target `elsewhere` is not configured"):
        client.query("x", endpoint=missing).result()
    with pytest.raises(sipp.UnsupportedOperationError) as unsupported:
        client.embed("x", endpoint=ep).result()
    assert unsupported.value.status == 400


def test_raw_http_calls_like_the_testing_page(app_url: str) -> None:
    def post(path: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        req = urllib.request.Request(f"{app_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    status, body = post("/v1/query", {"model": "local", "prompt": "The sky is", "max_tokens": 3, "temperature": 0.2})
    assert status == 200 and body["finish_reason"] == "length" and body["model"] == "local"
    status, body = post("/v1/query", {"model": "local", "prompt": "x", "context_key": "k"})
    assert (status, body["error"]["code"]) == (400, "invalid_request")  # type: ignore[index]
    status, body = post("/v1/chat", {"model": "local", "messages": [{"role": "tool", "content": "x"}]})
    assert (status, body["error"]["code"]) == (400, "invalid_request")  # type: ignore[index]
