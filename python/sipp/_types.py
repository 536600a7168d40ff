"""Descriptors, request options and responses of the sipp client API."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._config import NativeRuntimeConfig, SamplingRuntimeConfig
from ._errors import InvalidRequestError

__all__ = [
    "BackendProfile",
    "ChatMessage",
    "EndpointRef",
    "LocalEmbedOptions",
    "LocalModelDescriptor",
    "LocalStats",
    "LocalTextOptions",
    "SippEmbeddingResponse",
    "SippTextOptions",
    "SippTextResponse",
    "TokenBatch",
    "Usage",
]

EndpointKind = Literal["local", "gateway", "provider"]
Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]


def to_json(value: Any) -> str:
    """Serialize a dataclass tree, leaving out unset (None) fields so defaults apply.

    Only dataclass fields are pruned: user data inside them (a JSON schema, provider
    options) keeps its nulls.
    """
    return json.dumps(_prune(value))


_F32_MAX = 3.4028234663852886e38


def _prune(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no infinities; the largest f32 has the same effect (a logit bias of
        # -inf bans a token, -3.4e38 does too).
        if math.isnan(value):
            raise InvalidRequestError("NaN is not a valid option value", "invalid_request")
        return math.copysign(_F32_MAX, value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: _prune(v) for name, v in fields if v is not None}
    if isinstance(value, Mapping):
        return {str(k): _prune(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prune(v) for v in value]
    return value


@dataclass(frozen=True)
class EndpointRef:
    """Handle returned by ``SippClient.add``; pass it to query, chat or embed."""

    kind: EndpointKind
    id: str


@dataclass
class LocalModelDescriptor:
    """A GGUF model run in this process.

    The backend comes from ``SIPP_PYTHON_BACKEND`` (cpu, vulkan, cuda, metal) when set,
    else the best one compiled in.
    """

    path: str | os.PathLike[str]
    config: NativeRuntimeConfig = field(default_factory=NativeRuntimeConfig)

    @property
    def kind(self) -> EndpointKind:
        return "local"


@dataclass
class ChatMessage:
    """One conversation turn."""

    role: Role
    content: str


@dataclass
class SippTextOptions:
    """Generation options every endpoint kind understands."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None


@dataclass
class LocalTextOptions:
    """Options only local endpoints accept."""

    context_key: str | None = None
    grammar: str | None = None
    json_schema: Mapping[str, Any] | None = None
    sampling: SamplingRuntimeConfig | None = None


@dataclass
class LocalEmbedOptions:
    """Embedding options only local endpoints accept."""

    context_key: str | None = None
    normalize: bool | None = None


class _DictView:
    """Mapping-style access (``response["text"]``) next to the typed attributes."""

    _raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self._raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._raw.get(key, default)

    def keys(self) -> list[str]:
        return list(self._raw)

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` copy (JSON-ready)."""
        return json.loads(json.dumps(self._raw))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Usage:
    """Token counts of one request."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class BackendProfile:
    """llama.cpp's own perf counters (cumulative for the endpoint)."""

    prompt_eval_ms: float
    prompt_eval_tokens: int
    eval_ms: float
    eval_tokens: int


@dataclass(frozen=True)
class LocalStats:
    """Local runtime timings of one request."""

    ttft_ms: float
    queue_ms: float
    prefill_ms: float
    prefill_tokens: int
    prefill_tokens_per_second: float
    decode_ms: float
    decode_tokens_per_second: float
    cached_prompt_tokens: int
    max_batch_sequences: int
    backend: BackendProfile | None = None


@dataclass(frozen=True)
class TokenBatch:
    """Generated tokens released together while streaming."""

    text: str
    token_ids: list[int]
    sequence: int


class SippTextResponse(_DictView):
    """Final result of query or chat."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    local_stats: LocalStats | None

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self.text = raw["text"]
        self.finish_reason = raw["finish_reason"]
        self.usage = Usage(**raw["usage"])
        stats = raw.get("local_stats")
        if stats is None:
            self.local_stats = None
        else:
            backend = stats.get("backend")
            fields = {k: v for k, v in stats.items() if k != "backend"}
            self.local_stats = LocalStats(**fields, backend=BackendProfile(**backend) if backend else None)

    def __repr__(self) -> str:
        return f"SippTextResponse(text={self.text!r}, finish_reason={self.finish_reason!r}, usage={self.usage!r})"


class SippEmbeddingResponse(_DictView):
    """Final result of embed."""

    values: list[float]
    usage: Usage | None
    pooling: str
    normalized: bool

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self.values = raw["values"]
        self.usage = Usage(**raw["usage"]) if raw.get("usage") else None
        self.pooling = raw["pooling"]
        self.normalized = raw["normalized"]

    def __repr__(self) -> str:
        return f"SippEmbeddingResponse(len={len(self.values)}, pooling={self.pooling!r}, normalized={self.normalized})"
