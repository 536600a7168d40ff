"""Python's gateway endpoint against the real ``sipp-gateway`` binary (built by the Rust
test step; ``cargo xtask test`` passes its path) serving the default model: the spec's
Gateway Chat example verbatim, streaming, and typed errors across the boundary."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import sipp
from servers import free_port, http_ok, running

HERE = Path(__file__).parent
TOKEN = "py-gateway-token-0123456789"


@pytest.fixture(scope="module")
def gateway_url(model_path: Path) -> Iterator[str]:
    binary = os.environ.get("SIPP_GATEWAY_BIN")
    if not binary or not Path(binary).is_file():
        pytest.fail("sipp-gateway binary missing; `cargo xtask test` builds it and sets SIPP_GATEWAY_BIN")
    public, management = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        config.write_text(
            f"""
public_bind = "127.0.0.1:{public}"
management_bind = "127.0.0.1:{management}"
max_request_bytes = 65536
admin_password_env = "PY_ADMIN_PASSWORD"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "PY_GATEWAY_TOKEN"
caller = "python-tests"
targets = ["local"]
[[targets]]
name = "local"
type = "local"
model = "{model_path}"
[targets.runtime.context]
n_ctx = 1024
"""
        )
        env = {**os.environ, "PY_GATEWAY_TOKEN": TOKEN, "PY_ADMIN_PASSWORD": "py-admin-password"}
        ready = http_ok(f"http://127.0.0.1:{management}/readyz", b"ready")
        with running([binary, "serve", "--config", str(config)], ready, env=env, timeout=60) as log:
            yield f"http://127.0.0.1:{public}"
            assert TOKEN not in log(), "the token reached the gateway's logs"


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
