"""Gateway-profile helpers for Python web apps (FastAPI, Starlette, anything ASGI).

Serve the first-party Sipp gateway profile from your own routes: decode a request body
into typed options, run it on any endpoint, and encode the answer — JSON, SSE, or an
error — with the same Rust codec the ``sipp-gateway`` server and Sipp's gateway endpoint
use. Routes, authentication and policy stay yours. See ``examples/python/gateway_app.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from . import _sipp
from ._errors import SippError
from ._run import SippTextRun
from ._client import EmbedRequest, TextRequest
from ._types import ChatMessage, SippEmbeddingResponse, SippTextOptions, SippTextResponse

__all__ = [
    "GatewayChat",
    "GatewayEmbed",
    "GatewayErrorResponse",
    "GatewayQuery",
    "SSE_CONTENT_TYPE",
    "decode_gateway_chat_body",
    "decode_gateway_embed_body",
    "decode_gateway_query_body",
    "gateway_embedding_response_body",
    "gateway_error_response",
    "gateway_text_response_body",
    "gateway_text_stream_response",
]

SSE_CONTENT_TYPE = "text/event-stream"


@dataclass(frozen=True)
class GatewayQuery:
    """A decoded ``/v1/query`` body; ``target`` is its ``model``. ``request`` is the native
    request: run it with ``client.query(q.request, endpoint=...)``; the other fields show
    what it holds."""

    target: str
    prompt: str
    options: SippTextOptions
    stream: bool
    request: TextRequest = field(repr=False, compare=False)
    #: Body fields the profile does not define (yours to accept or refuse).
    endpoint_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayChat:
    """A decoded ``/v1/chat`` body; run ``request`` with ``client.chat(c.request, endpoint=...)``."""

    target: str
    messages: list[ChatMessage]
    options: SippTextOptions
    stream: bool
    request: TextRequest = field(repr=False, compare=False)
    endpoint_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayEmbed:
    """A decoded ``/v1/embed`` body; run ``request`` with ``client.embed(e.request, endpoint=...)``."""

    target: str
    input: str
    request: EmbedRequest = field(repr=False, compare=False)
    endpoint_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayErrorResponse:
    """An error as an HTTP answer: status, headers (``Retry-After`` when the caller should
    wait) and the profile's ``{"error": {"code", "message"}}`` body. ``sse_frame`` is the
    same error as an ``event: error`` frame, for a stream that already started."""

    status: int
    headers: dict[str, str]
    body: bytes
    sse_frame: bytes


def _bytes(body: bytes | bytearray | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _decode(operation: str, body: bytes | bytearray | str) -> tuple[str, Any, dict[str, Any]]:
    """The target, the native request, and the request as a document (for the view)."""
    target, request = _sipp.gateway_decode(operation, _bytes(body))
    return target, request, json.loads(request.view())


def decode_gateway_query_body(body: bytes | bytearray | str) -> GatewayQuery:
    """Decode a query body; a bad one raises ``InvalidRequestError`` (answer 400)."""
    target, request, r = _decode("query", body)
    options = SippTextOptions(**r["options"])
    return GatewayQuery(target, r["prompt"], options, r["emit_tokens"], request, r["endpoint_options"])


def decode_gateway_chat_body(body: bytes | bytearray | str) -> GatewayChat:
    """Decode a chat body; roles are system, user and assistant."""
    target, request, r = _decode("chat", body)
    messages = [ChatMessage(m["role"], m["content"]) for m in r["prompt"]]
    options = SippTextOptions(**r["options"])
    return GatewayChat(target, messages, options, r["emit_tokens"], request, r["endpoint_options"])


def decode_gateway_embed_body(body: bytes | bytearray | str) -> GatewayEmbed:
    """Decode an embed body."""
    target, request, r = _decode("embed", body)
    return GatewayEmbed(target, r["input"], request, r["endpoint_options"])


def gateway_text_response_body(target: str, response: SippTextResponse) -> bytes:
    """The JSON body of a finished query or chat."""
    return _sipp.gateway_encode_text(target, json.dumps(response.to_dict()))


def gateway_embedding_response_body(target: str, response: SippEmbeddingResponse) -> bytes:
    """The JSON body of a finished embed."""
    return _sipp.gateway_encode_embedding(target, json.dumps(response.to_dict()))


async def gateway_text_stream_response(run: SippTextRun) -> AsyncIterator[bytes]:
    """SSE frames of a run started with ``emit_tokens=True``: ``token`` per batch, then
    ``usage`` and ``done``, or one ``error`` if it fails. If the client goes away (the
    server stops iterating) the run is cancelled, freeing the engine sequence."""
    finished = False
    try:
        async for batch in run:
            yield _sipp.gateway_sse_token(batch.text, batch.sequence)
        response = await run
        finished = True
        yield _sipp.gateway_sse_finish(json.dumps(response.to_dict()))
    except SippError as e:
        finished = True
        yield gateway_error_response(e).sse_frame
    finally:
        if not finished:
            run.cancel("client disconnected")


def gateway_error_response(error: BaseException) -> GatewayErrorResponse:
    """Map an exception to the profile's error answer. Sipp errors keep their code and
    status (and ``Retry-After``); anything else is a 500 that does not echo its text."""
    if isinstance(error, SippError):
        code, message = error.code, str(error)
    else:
        code, message = "execution", "internal error"
    status, body, frame, default_wait = _sipp.gateway_error(code, message)
    headers = {"content-type": "application/json"}
    retry_after = error.retry_after if isinstance(error, SippError) else None
    if retry_after is None:
        retry_after = default_wait
    if retry_after is not None:
        headers["retry-after"] = str(max(0, round(retry_after)))
    return GatewayErrorResponse(status, headers, body, frame)
