"""Gateway endpoints from Python against a loopback mock gateway: the exact bytes sent,
streaming (sync and async), credentials (static, header, value providers), typed errors
per status, stalls, cancel, and the spec's Gateway Chat example run verbatim."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mock_upstream import MockUpstream, Reply

import sipp

HERE = Path(__file__).parent
TOKEN = "gw-token-0123456789"

ANSWER = {
    "id": "response",
    "model": "local",
    "text": "A gateway centralizes inference.",
    "finish_reason": "stop",
    "usage": {"input_tokens": 8, "output_tokens": 12, "total_tokens": 20},
}
STREAM = [
    'event: token\ndata: {"text":"Gateways","sequence":0}\n\n',
    'event: token\ndata: {"text":" route é.","sequence":1}\n\n',
    'event: usage\ndata: {"input_tokens":8,"output_tokens":2,"total_tokens":10}\n\n',
    'event: done\ndata: {"finish_reason":"stop"}\n\n',
]
MESSAGES = [sipp.ChatMessage("system", "Answer briefly."), sipp.ChatMessage("user", "What does the gateway own?")]


def gateway(client: sipp.SippClient, mock: MockUpstream, **kw: object) -> sipp.EndpointRef:
    kw.setdefault("authentication_kind", "bearer")
    kw.setdefault("authentication_value", TOKEN)
    return client.add("gw", sipp.GatewayDescriptor("local", mock.url, **kw))  # type: ignore[arg-type]


def test_spec_gateway_chat_example_runs_verbatim_against_a_mock_gateway(tmp_path: Path) -> None:
    with MockUpstream([Reply.json(ANSWER)]) as mock:
        env = {**os.environ, "SIPP_GATEWAY_TARGET": "local", "SIPP_GATEWAY_URL": mock.url, "SIPP_GATEWAY_TOKEN": TOKEN}
        proc = subprocess.run(
            [sys.executable, str(HERE / "spec_examples" / "gateway_chat.py")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "A gateway centralizes inference.\n"
        req = mock.only_request()
    assert (req.method, req.path) == ("POST", "/v1/chat")
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "model": "local",
        "messages": [
            {"role": "system", "content": "Answer concisely."},
            {"role": "user", "content": "Explain gateway inference."},
        ],
        "max_tokens": 64,
    }


def test_query_and_embed_bodies(client: sipp.SippClient) -> None:
    embed_answer = {"id": "response", "model": "local", "embedding": [0.6, 0.8]}
    with MockUpstream([Reply.json(ANSWER), Reply.json(embed_answer)]) as mock:
        ep = gateway(client, mock, routes=sipp.GatewayRoutes(query="/custom/query"), protocol_options={"tier": "gold"})
        assert ep == sipp.EndpointRef("gateway", "gw")
        r = client.query("Explain gateway inference.", endpoint=ep, options=sipp.SippTextOptions(max_tokens=64, temperature=0.2)).result()
        assert (r.text, r.finish_reason, r.usage) == (ANSWER["text"], "stop", sipp.Usage(8, 12, 20))
        assert r.local_stats is None
        e = client.embed("gateway inference", endpoint=ep, endpoint_options={"dimensions": 2}, request_id="emb-1").result()
        assert e.values == [0.6, 0.8] and e.normalized and e.pooling is None
        query, embed = mock.requests
    # The caller's request id reaches the gateway as x-request-id; none is invented.
    assert "x-request-id" not in query.headers and embed.headers["x-request-id"] == "emb-1"
    assert query.path == "/custom/query"
    assert query.json() == {"model": "local", "prompt": "Explain gateway inference.", "max_tokens": 64, "temperature": 0.2, "tier": "gold"}
    assert (embed.path, embed.json()) == ("/v1/embed", {"model": "local", "input": "gateway inference", "tier": "gold", "dimensions": 2})


def test_streaming_chat_sync_split_frames(client: sipp.SippClient) -> None:
    with MockUpstream([Reply.sse(STREAM, split_every=5)]) as mock:
        ep = gateway(client, mock)
        run = client.chat(MESSAGES, endpoint=ep, emit_tokens=True)
        assert [b.text for b in run] == ["Gateways", " route é."]
        r = run.result()
        assert (r.text, r.usage) == ("Gateways route é.", sipp.Usage(8, 2, 10))
        req = mock.only_request()
    assert req.headers["accept"] == "text/event-stream"
    assert req.json()["stream"] is True


def test_streaming_query_async(client: sipp.SippClient) -> None:
    async def main() -> tuple[list[str], str]:
        with MockUpstream([Reply.sse(STREAM)]) as mock:
            ep = gateway(client, mock)
            run = client.query("Write one sentence.", endpoint=ep, emit_tokens=True)
            texts = [b.text async for b in run]
            return texts, (await run).text

    texts, text = asyncio.run(main())
    assert texts == ["Gateways", " route é."] and text == "Gateways route é."


def test_error_event_mid_stream_raises_while_iterating(client: sipp.SippClient) -> None:
    frames = [STREAM[0], 'event: error\ndata: {"error":{"code":"execution","message":"decode failed"}}\n\n']
    with MockUpstream([Reply.sse(frames)]) as mock:
        run = client.query("x", endpoint=gateway(client, mock), emit_tokens=True)
        seen = []
        with pytest.raises(sipp.ExecutionError, match="decode failed") as info:
            for batch in run:
                seen.append(batch.text)
    assert seen == ["Gateways"]
    assert (info.value.code, info.value.status, info.value.upstream_code) == ("execution", None, "execution")


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (400, sipp.InvalidRequestError, "invalid_request"),
        (401, sipp.AuthenticationError, "authentication"),
        (403, sipp.AuthorizationError, "authorization"),
        (404, sipp.NotFoundError, "not_found"),
        (413, sipp.PayloadTooLargeError, "payload_too_large"),
        (429, sipp.OverloadedError, "overloaded"),
        (500, sipp.ExecutionError, "execution"),
    ],
)
def test_each_status_is_a_typed_error(client: sipp.SippClient, status: int, cls: type[sipp.SippError], code: str) -> None:
    headers = {"retry_after": "3"} if status == 429 else {}
    reply = Reply.json({"error": {"code": code, "message": f"refused with {status}"}}, status, **headers)
    with MockUpstream([reply]) as mock:
        with pytest.raises(cls, match=f"HTTP {status}: refused with {status}") as info:
            client.chat(MESSAGES, endpoint=gateway(client, mock)).result()
    e = info.value
    assert (e.code, e.status, e.upstream_code) == (code, status, code)
    assert e.retry_after == (3.0 if status == 429 else None)


def test_value_providers_sync_and_async_are_asked_per_request(client: sipp.SippClient) -> None:
    calls: list[str] = []

    def fresh() -> str:
        calls.append("sync")
        return f"short-{len(calls)}"

    async def fresh_async() -> str:
        await asyncio.sleep(0)
        calls.append("async")
        return f"async-{len(calls)}"

    with MockUpstream([Reply.json(ANSWER)] * 4) as mock:
        ep = gateway(client, mock, authentication_value=None, value_provider=fresh)
        client.query("a", endpoint=ep).result()
        client.query("b", endpoint=ep).result()
        ep = gateway(client, mock, authentication_kind="header", authentication_header="x-gw-key",
                     authentication_value=None, value_provider=fresh_async)
        client.query("c", endpoint=ep).result()  # no running loop: a private one

        async def from_async_code() -> None:
            await client.query("d", endpoint=ep)  # runs on this loop, which is free while awaiting

        asyncio.run(from_async_code())
        seen = [r.headers.get("authorization") or r.headers["x-gw-key"] for r in mock.requests]
    assert seen == ["Bearer short-1", "Bearer short-2", "async-3", "async-4"]


def test_a_failing_value_provider_is_an_authentication_error(client: sipp.SippClient) -> None:
    def sealed() -> str:
        raise RuntimeError("vault is sealed")

    with MockUpstream([]) as mock:
        ep = gateway(client, mock, authentication_value=None, value_provider=sealed)
        with pytest.raises(sipp.AuthenticationError, match="vault is sealed"):
            client.query("x", endpoint=ep).result()
        assert mock.requests == []


def test_bad_descriptors_fail_at_add(client: sipp.SippClient) -> None:
    with pytest.raises(sipp.InvalidConfigError, match="needs a value"):
        client.add("g", sipp.GatewayDescriptor("t", "http://127.0.0.1:9", authentication_kind="bearer"))
    with pytest.raises(sipp.InvalidConfigError, match="not an absolute URL"):
        client.add("g", sipp.GatewayDescriptor("t", "127.0.0.1:9"))
    with pytest.raises(sipp.InvalidConfigError, match="protocol_options may not set `model`"):
        client.add("g", sipp.GatewayDescriptor("t", "http://127.0.0.1:9", protocol_options={"model": "x"}))
    with pytest.raises(sipp.InvalidConfigError, match="unknown variant `basic`"):
        client.add("g", sipp.GatewayDescriptor("t", "http://127.0.0.1:9", authentication_kind="basic"))  # type: ignore[arg-type]


def test_local_only_and_provider_options_are_refused(client: sipp.SippClient) -> None:
    with MockUpstream([]) as mock:
        ep = gateway(client, mock)
        with pytest.raises(sipp.InvalidRequestError, match="context_key, grammar are local-only"):
            client.query("x", endpoint=ep, local=sipp.LocalTextOptions(context_key="k", grammar='root ::= "a"')).result()
        with pytest.raises(sipp.InvalidRequestError, match="normalize is local-only"):
            client.embed("x", endpoint=ep, local=sipp.LocalEmbedOptions(normalize=True)).result()
        with pytest.raises(sipp.InvalidRequestError, match="provider_options are for provider endpoints"):
            client.chat(MESSAGES, endpoint=ep, provider_options={"reasoning_effort": "low"}).result()
        assert mock.requests == []


def test_a_stalled_stream_times_out(client: sipp.SippClient) -> None:
    with MockUpstream([Reply.sse(STREAM[:1], stall=True)]) as mock:
        ep = gateway(client, mock, timeouts=sipp.TimeoutPolicy(idle_ms=250))
        run = client.query("x", endpoint=ep, emit_tokens=True)
        with pytest.raises(sipp.RequestTimeoutError, match=r"timed out after 250 ms \(timeouts.idle_ms\)") as info:
            list(run)
        assert isinstance(info.value, TimeoutError)
        mock.wait_hangup()


def test_cancel_and_drop_close_the_upstream_connection(client: sipp.SippClient) -> None:
    with MockUpstream([Reply.sse(STREAM[:1], stall=True)]) as mock:
        run = client.query("x", endpoint=gateway(client, mock), emit_tokens=True)
        assert next(iter(run)).text == "Gateways"
        run.cancel("user pressed stop")
        r = run.result()
        assert (r.text, r.finish_reason, r.usage) == ("Gateways", "cancelled", None)
        mock.wait_hangup()
    with MockUpstream([Reply.sse(STREAM[:1], stall=True)]) as mock:
        run = client.query("x", endpoint=gateway(client, mock), emit_tokens=True)
        next(iter(run))
        del run
        gc.collect()
        mock.wait_hangup()


def test_unreachable_gateway_is_a_transport_error(client: sipp.SippClient) -> None:
    with socket_port() as port:
        pass  # closed again: nothing listens there now
    ep = client.add("g", sipp.GatewayDescriptor("t", f"http://127.0.0.1:{port}"))
    with pytest.raises(sipp.TransportError, match="(?i)refused") as info:
        client.query("x", endpoint=ep).result()
    assert isinstance(info.value, ConnectionError)


def test_tokens_stay_out_of_repr_and_errors(client: sipp.SippClient) -> None:
    d = sipp.GatewayDescriptor("t", "http://127.0.0.1:9", authentication_kind="bearer", authentication_value=TOKEN,
                               headers={"x-tenant-key": "tenant-secret"})
    assert TOKEN not in repr(d) and "tenant-secret" not in repr(d) and "[redacted]" in repr(d)
    echo = {"error": {"code": "authentication", "message": f"token {TOKEN} is expired"}}
    with MockUpstream([Reply.json(echo, 401)]) as mock:
        with pytest.raises(sipp.AuthenticationError) as info:
            client.query("x", endpoint=gateway(client, mock)).result()
    assert TOKEN not in str(info.value) and "[redacted]" in str(info.value)


def test_requests_from_many_threads(client: sipp.SippClient) -> None:
    with MockUpstream([Reply.json(ANSWER)] * 8) as mock:
        ep = gateway(client, mock)
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(client.query("x", endpoint=ep).result().text)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [ANSWER["text"]] * 8 and len(mock.requests) == 8


class socket_port:
    """A loopback port that was free a moment ago."""

    def __enter__(self) -> int:
        import socket

        self._s = socket.socket()
        self._s.bind(("127.0.0.1", 0))
        return int(self._s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._s.close()


def test_hybrid_example_runs_against_the_mocks(tmp_path: Path, model_path: Path) -> None:
    openai_answer = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris (provider)."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23},
    }
    gateway_answer = {**ANSWER, "text": "Paris (gateway)."}
    with MockUpstream([Reply.json(gateway_answer)]) as gw, MockUpstream([Reply.json(openai_answer)]) as provider:
        env = {
            **os.environ,
            "SIPP_GATEWAY_TARGET": "local",
            "SIPP_GATEWAY_URL": gw.url,
            "SIPP_GATEWAY_TOKEN": TOKEN,
            "OPENAI_BASE_URL": f"{provider.url}/v1",
            "OPENAI_MODEL": "served-model",
        }
        env.pop("OPENAI_API_KEY", None)
        proc = subprocess.run(
            [sys.executable, str(HERE.parents[1] / "examples" / "python" / "hybrid.py"), str(model_path)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        gw_req, provider_req = gw.only_request(), provider.only_request()
    # The local answer is sampled (the example keeps each endpoint's default sampling).
    assert len(lines) == 3 and lines[0].startswith("[local] ") and len(lines[0]) > len("[local] ")
    assert lines[1:] == ["[gateway] Paris (gateway).", "[provider] Paris (provider)."]
    messages = [{"role": "system", "content": "Answer concisely."}, {"role": "user", "content": "What is the capital of France?"}]
    assert gw_req.json() == {"model": "local", "messages": messages, "max_tokens": 48}
    assert provider_req.json() == {"model": "served-model", "messages": messages, "max_tokens": 48}
