"""Where the examples find a model: the first argument, else the default model (fetched
and cached on first use by ``sipp.default_model()``)."""

from __future__ import annotations

import sys

import sipp


def model_path() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else str(sipp.default_model())
