"""Python's gateway endpoint against the real ``sipp-gateway`` binary (built by the Rust
test step; ``cargo xtask test`` passes its path) serving the default model: the spec's
Gateway Chat example verbatim, streaming, and typed errors across the boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sipp
from conftest import GATEWAY_TOKEN as TOKEN

HERE = Path(__file__).parent


def test_spec_gateway_chat_example_against_the_real_gateway(gateway_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SIPP_GATEWAY_TARGET": "local", "SIPP_GATEWAY_URL": gateway_url, "SIPP_GATEWAY_TOKEN": TOKEN}
    proc = subprocess.run(
        [sys.executable, str(HERE / "spec_examples" / "gateway_chat.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip()) > 0


def test_streaming_and_typed_errors_through_the_gateway(client: sipp.SippClient, gateway_url: str) -> None:
    ep = client.add("gw", sipp.GatewayDescriptor("local", gateway_url, authentication_kind="bearer", authentication_value=TOKEN))
    messages = [sipp.ChatMessage("system", "Answer concisely."), sipp.ChatMessage("user", "What is the capital of France?")]
    options = sipp.SippTextOptions(max_tokens=16, temperature=0.0)
    run = client.chat(messages, endpoint=ep, options=options, emit_tokens=True)
    texts = [b.text for b in run]
    r = run.result()
    assert "".join(texts) == r.text and "Paris" in r.text
    assert r.usage is not None and r.usage.output_tokens <= 16
    with pytest.raises(sipp.ContextOverflowError) as info:
        client.query("word " * 3000, endpoint=ep).result()
    assert info.value.status == 400
    with pytest.raises(sipp.UnsupportedOperationError):
        client.embed("x", endpoint=ep).result()
    other = client.add("other", sipp.GatewayDescriptor("missing", gateway_url, authentication_kind="bearer", authentication_value=TOKEN))
    with pytest.raises(sipp.NotFoundError):
        client.query("x", endpoint=other).result()


def test_the_testing_page_curl_calls_verbatim(gateway_urls: tuple[str, str]) -> None:
    """The spec's Gateway Testing commands, run by bash and curl as printed there (probes,
    query, chat, embeddings on an embedding target, streaming)."""
    public, management = gateway_urls
    env = {**os.environ, "GATEWAY_URL": public, "GATEWAY_MANAGEMENT_URL": management,
           "SIPP_GATEWAY_TOKEN": TOKEN, "SIPP_GATEWAY_TARGET": "local"}
    query = """curl -sS "$GATEWAY_URL/v1/query" \\
  -H "Authorization: Bearer $SIPP_GATEWAY_TOKEN" \\
  -H "Content-Type: application/json" \\
  -H "x-request-id: curl-query-1" \\
  -d '{
    "model": "'"$SIPP_GATEWAY_TARGET"'",
    "prompt": "Explain gateway inference in one sentence.",
    "max_tokens": 64,
    "temperature": 0.2
  }'"""
    chat = """curl -sS "$GATEWAY_URL/v1/chat" \\
  -H "Authorization: Bearer $SIPP_GATEWAY_TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "'"$SIPP_GATEWAY_TARGET"'",
    "messages": [
      { "role": "system", "content": "Answer briefly." },
      { "role": "user", "content": "What does the gateway own?" }
    ],
    "max_tokens": 64
  }'"""
    embed = """curl -sS "$GATEWAY_URL/v1/embed" \\
  -H "Authorization: Bearer $SIPP_GATEWAY_TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "'"$SIPP_GATEWAY_TARGET"'",
    "input": "gateway inference"
  }'"""
    stream = """curl -N -sS "$GATEWAY_URL/v1/query" \\
  -H "Authorization: Bearer $SIPP_GATEWAY_TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "'"$SIPP_GATEWAY_TARGET"'",
    "prompt": "Write one short sentence about gateways.",
    "max_tokens": 64,
    "stream": true
  }'"""

    def sh(command: str, target: str = "local") -> str:
        out = subprocess.run(["bash", "-c", command], env={**env, "SIPP_GATEWAY_TARGET": target},
                             capture_output=True, text=True, timeout=120, check=True)
        return out.stdout

    for command in (query, chat):
        body = json.loads(sh(command))
        assert (body["id"], body["model"]) == ("response", "local") and body["finish_reason"] in ("stop", "length")
        assert body["text"] and body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    vector = json.loads(sh(embed, target="minilm"))
    assert vector["model"] == "minilm" and len(vector["embedding"]) == 384
    # A text-only target answers the documented error, not a vector.
    refused = json.loads(sh(embed))
    assert refused["error"]["code"] == "unsupported_operation", refused
    lines = sh(stream).splitlines()
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event: ")]
    datas = [json.loads(line.split(": ", 1)[1]) for line in lines if line.startswith("data: ")]
    assert events[-2:] == ["usage", "done"] and set(events[:-2]) <= {"token"}, events
    # (The default model may end a raw prompt at once; whatever it made is in the tokens.)
    assert datas[-2]["output_tokens"] >= len(events) - 2 and datas[-1]["finish_reason"] in ("stop", "length")
    probes = """curl --fail --silent "$GATEWAY_MANAGEMENT_URL/healthz"
curl --fail --silent "$GATEWAY_MANAGEMENT_URL/readyz"
curl --fail --silent "$GATEWAY_MANAGEMENT_URL/metrics"
"""
    said = sh(probes)
    assert said.startswith("okready# HELP ") and 'sipp_gateway_requests_total{operation="query",status="200"}' in said
