"""Where the examples find a model: the first argument, else the cached default model
(fetched by `cargo xtask models`)."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / ".build" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_path() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT_MODEL)
