"""Python's gateway endpoint against the real ``sipp-gateway`` binary (built by the Rust
test step; ``cargo xtask test`` passes its path) serving the default model: the spec's
Gateway Chat example verbatim, streaming, and typed errors across the boundary."""

from __future__ import annotations

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
