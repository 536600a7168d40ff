"""Fixtures for the Python tests: the default model (cached by `cargo xtask test`), a
client with one text endpoint, and a running ``sipp-gateway`` binary."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import sipp
from servers import free_port, gateway_toml, http_ok, running

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("SIPP_TEST_MODEL", ROOT / ".build" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))


@pytest.fixture(scope="session")
def model_path() -> Path:
    if not MODEL.is_file():
        pytest.fail(f"default model missing at {MODEL}; run `cargo xtask models`")
    return MODEL


@pytest.fixture
def client() -> Iterator[sipp.SippClient]:
    with sipp.SippClient() as c:
        yield c


@pytest.fixture
def text_ep(client: sipp.SippClient, model_path: Path) -> sipp.EndpointRef:
    return client.add("text", sipp.LocalModelDescriptor(model_path))


def chatml(user: str) -> str:
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def greedy(max_tokens: int) -> sipp.SippTextOptions:
    return sipp.SippTextOptions(max_tokens=max_tokens, temperature=0.0)


GATEWAY_TOKEN = "py-gateway-token-0123456789"
MINILM = MODEL.parent / "all-MiniLM-L6-v2.F16.gguf"


@pytest.fixture(scope="session")
def gateway_urls(model_path: Path) -> Iterator[tuple[str, str]]:
    """The real ``sipp-gateway`` binary (``cargo xtask test`` builds it and sets
    SIPP_GATEWAY_BIN) serving the default model as ``local`` and MiniLM as ``minilm``."""
    binary = os.environ.get("SIPP_GATEWAY_BIN")
    if not binary or not Path(binary).is_file():
        pytest.fail("sipp-gateway binary missing; `cargo xtask test` builds it and sets SIPP_GATEWAY_BIN")
    public, management = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        targets = f"""
[[targets]]
name = "local"
type = "local"
model = "{model_path}"
[targets.runtime.context]
n_ctx = 1024
[[targets]]
name = "minilm"
type = "local"
model = "{MINILM}"
[targets.runtime.context]
embeddings = true
pooling = "mean"
"""
        config.write_text(
            gateway_toml(
                public, management, admin_env="PY_ADMIN_PASSWORD", token_env="PY_GATEWAY_GATEWAY_TOKEN",
                caller="python-tests", targets=targets,
            )
        )
        env = {**os.environ, "PY_GATEWAY_GATEWAY_TOKEN": GATEWAY_TOKEN, "PY_ADMIN_PASSWORD": "py-admin-password"}
        ready = http_ok(f"http://127.0.0.1:{management}/readyz", b"ready")
        with running([binary, "serve", "--config", str(config)], ready, env=env, timeout=60) as log:
            yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{management}"
            assert GATEWAY_TOKEN not in log(), "the token reached the gateway's logs"


@pytest.fixture(scope="session")
def gateway_url(gateway_urls: tuple[str, str]) -> str:
    """The running gateway's public listener."""
    return gateway_urls[0]
