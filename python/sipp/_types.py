"""Descriptors, request options and responses of the sipp client API."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from ._config import NativeRuntimeConfig, SamplingRuntimeConfig
from ._literals import AuthenticationKind, EndpointKind, FinishReason, ProviderName, Role
from ._errors import InvalidRequestError

__all__ = [
    "BackendProfile",
    "ChatMessage",
    "EndpointRef",
    "GatewayDescriptor",
    "GatewayRoutes",
    "ProviderDescriptor",
    "RetryPolicy",
    "TimeoutPolicy",
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

ValueProvider = Callable[[], "str | Awaitable[str]"]
_REDACTED = "[redacted]"


def to_json(value: Any) -> str:
    """Serialize a dataclass tree, leaving out unset (None) fields so defaults apply.

    Only dataclass fields are pruned: user data inside them (a JSON schema, provider
    options) keeps its nulls.
    """
    return json.dumps(_prune(value))


_F32_MAX = 3.4028234663852886e38


def _prune(value: Any, name: str = "option", infinite_ok: bool = False) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            raise InvalidRequestError(f"{name} is NaN; it must be a number", "invalid_request")
        if not infinite_ok:
            # Sending the largest f32 instead would turn `temperature=inf` into a
            # finite 3.4e38 the engine accepts.
            raise InvalidRequestError(f"{name} must be a finite number, got {value}", "invalid_request")
        # JSON has no infinities; the largest f32 has the same effect (a logit bias of
        # -inf bans a token, -3.4e38 does too).
        return math.copysign(_F32_MAX, value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Fields where infinity means something (a logit bias of -inf bans a token).
        infinite = getattr(type(value), "_infinite_fields", ())
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {n: _prune(v, n, n in infinite) for n, v in fields if v is not None}
    if isinstance(value, Mapping):
        return {str(k): _prune(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prune(v, name, infinite_ok) for v in value]
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

    def _document(self) -> dict[str, Any]:
        """The Rust descriptor's shape (the backend is the client's to add)."""
        return {"kind": "local", "model_path": os.fspath(self.path), "config": self.config}


@dataclass
class TimeoutPolicy:
    """Deadlines of a remote request in milliseconds (unset: 10 s connect, 10 min
    whole request, 60 s of silence between stream events)."""

    connect_ms: int | None = None
    request_ms: int | None = None
    idle_ms: int | None = None


@dataclass
class GatewayRoutes:
    """Gateway routes appended to ``base_url`` (unset: ``/v1/query``, ``/v1/chat``, ``/v1/embed``)."""

    query: str | None = None
    chat: str | None = None
    embed: str | None = None


@dataclass
class RetryPolicy:
    """Retries of requests that provably did not run (connection refused, 503, 429 with
    Retry-After). Off by default; a started generation is never retried."""

    max_retries: int = 0
    backoff_ms: int | None = None


def _redacted_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if headers is None else {name: _REDACTED for name in headers}


@dataclass(repr=False)
class GatewayDescriptor:
    """A Sipp gateway over HTTP. The gateway owns models, provider keys and policy;
    this process needs only the public target name, the URL and a gateway credential.

    ``authentication_kind="bearer"`` sends ``Authorization: Bearer <value>``; ``"header"``
    sends ``<authentication_header>: <value>``. Instead of a fixed value, pass
    ``value_provider``: a callable (sync or async) asked before every request, for
    short-lived tokens. Async providers run on the event loop that made the request when
    it is free to, else on a private one. Credentials never appear in ``repr()``.
    """

    target: str
    base_url: str
    _: KW_ONLY
    authentication_kind: AuthenticationKind = "none"
    authentication_value: str | None = None
    authentication_header: str | None = None
    value_provider: ValueProvider | None = None
    headers: Mapping[str, str] | None = None
    routes: GatewayRoutes | None = None
    timeouts: TimeoutPolicy | None = None
    protocol_options: Mapping[str, Any] | None = None
    retry: RetryPolicy | None = None

    @property
    def kind(self) -> EndpointKind:
        return "gateway"

    def __repr__(self) -> str:
        value = None if self.authentication_value is None else _REDACTED
        return (
            f"GatewayDescriptor(target={self.target!r}, base_url={self.base_url!r}, "
            f"authentication_kind={self.authentication_kind!r}, authentication_value={value!r}, "
            f"authentication_header={self.authentication_header!r}, "
            f"value_provider={'set' if self.value_provider else None}, "
            f"headers={_redacted_headers(self.headers)!r}, routes={self.routes!r}, timeouts={self.timeouts!r}, "
            f"protocol_options={self.protocol_options!r}, retry={self.retry!r})"
        )

    def _document(self) -> dict[str, Any]:
        """The Rust descriptor's shape (the value provider travels separately)."""
        return _drop_none({
            "kind": "gateway",
            "target": self.target,
            "base_url": self.base_url,
            "authentication": _drop_none({
                "kind": self.authentication_kind,
                "value": self.authentication_value,
                "header_name": self.authentication_header,
            }),
            "static_headers": [{"name": n, "value": v} for n, v in (self.headers or {}).items()],
            "timeouts": self.timeouts,
            "routes": self.routes,
            "protocol_options": dict(self.protocol_options or {}),
            "retry": self.retry,
        })


@dataclass(repr=False)
class ProviderDescriptor:
    """A provider API called directly, for trusted server-side code.

    ``provider`` is ``"openai"`` (default base ``https://api.openai.com/v1``),
    ``"openai_compatible"`` (``base_url`` required, key optional) or ``"anthropic"``
    (default base ``https://api.anthropic.com/v1``). Without ``api_key``, ``openai`` and
    ``anthropic`` read ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``. The key never appears
    in ``repr()``, errors or logs. ``correlation_header`` names the header that carries
    each request's ``request_id`` to the provider.
    """

    provider: ProviderName
    model: str
    _: KW_ONLY
    api_key: str | None = None
    base_url: str | None = None
    headers: Mapping[str, str] | None = None
    timeouts: TimeoutPolicy | None = None
    retry: RetryPolicy | None = None
    correlation_header: str | None = None

    @property
    def kind(self) -> EndpointKind:
        return "provider"

    def __repr__(self) -> str:
        key = None if self.api_key is None else _REDACTED
        return (
            f"ProviderDescriptor(provider={self.provider!r}, model={self.model!r}, api_key={key!r}, "
            f"base_url={self.base_url!r}, headers={_redacted_headers(self.headers)!r}, "
            f"timeouts={self.timeouts!r}, retry={self.retry!r}, correlation_header={self.correlation_header!r})"
        )

    def _document(self) -> dict[str, Any]:
        return _drop_none({
            "kind": "provider",
            "provider": self.provider,
            "model": self.model,
            "api_key": self.api_key,
            "base_url": self.base_url,
            "static_headers": [{"name": n, "value": v} for n, v in (self.headers or {}).items()],
            "timeouts": self.timeouts,
            "retry": self.retry,
            "correlation_header": self.correlation_header,
        })


def _drop_none(document: dict[str, Any]) -> dict[str, Any]:
    """Unset descriptor fields are left out so the native defaults apply."""
    return {k: v for k, v in document.items() if v is not None}


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
    min_p: float | None = None
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
    #: Always set by local endpoints; remote ones when their server counts (not after a cancel).
    usage: Usage | None
    local_stats: LocalStats | None

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self.text = raw["text"]
        self.finish_reason = raw["finish_reason"]
        self.usage = Usage(**raw["usage"]) if raw.get("usage") else None
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
    #: How token vectors were pooled; None when a remote API does not say.
    pooling: str | None
    #: Unit length (measured for remote vectors).
    normalized: bool

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self.values = raw["values"]
        self.usage = Usage(**raw["usage"]) if raw.get("usage") else None
        self.pooling = raw.get("pooling")
        self.normalized = raw["normalized"]

    def __repr__(self) -> str:
        return f"SippEmbeddingResponse(len={len(self.values)}, pooling={self.pooling!r}, normalized={self.normalized})"
