"""Fixtures for the Python tests: the default model (cached by `cargo xtask test`) and a
client with one text endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import sipp

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
