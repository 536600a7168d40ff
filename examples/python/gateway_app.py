"""The Sipp gateway profile served from FastAPI: a local model behind ``/v1/query``,
``/v1/chat`` and ``/v1/embed`` with one bearer token. Any Sipp ``gateway`` endpoint
(Python, Rust, Node) or a curl call from the spec's Gateway Testing page talks to it.

    pip install fastapi uvicorn
    SIPP_GATEWAY_TOKEN=change-me uvicorn gateway_app:app --app-dir examples/python --port 8080

``SIPP_MODEL`` picks the GGUF (default: ``sipp.default_model()``); the public target
name is ``local``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from sipp import (
    AuthenticationError,
    EndpointRef,
    InvalidRequestError,
    LocalModelDescriptor,
    NotFoundError,
    SippClient,
    SippTextRun,
    default_model,
)
from sipp.gateway import (
    SSE_CONTENT_TYPE,
    decode_gateway_chat_body,
    decode_gateway_embed_body,
    decode_gateway_query_body,
    gateway_embedding_response_body,
    gateway_error_response,
    gateway_text_response_body,
    gateway_text_stream_response,
)

TOKEN = os.environ["SIPP_GATEWAY_TOKEN"]
client = SippClient()
targets: dict[str, EndpointRef] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    targets["local"] = client.add("local", LocalModelDescriptor(os.environ.get("SIPP_MODEL") or default_model()))
    yield
    client.close()


app = FastAPI(lifespan=lifespan)


def authorize(request: Request) -> None:
    # Constant-time: the comparison does not reveal how much of a guess was right.
    if not hmac.compare_digest(request.headers.get("authorization", "").encode(), f"Bearer {TOKEN}".encode()):
        raise AuthenticationError("missing or invalid bearer token", "authentication")


def endpoint(target: str, extra: dict[str, object]) -> EndpointRef:
    if extra:
        raise InvalidRequestError(f"unsupported fields: {', '.join(sorted(extra))}", "invalid_request")
    if target not in targets:
        raise NotFoundError(f"target `{target}` is not configured", "not_found")
    return targets[target]


async def answer(target: str, run: SippTextRun, stream: bool) -> Response:
    if stream:
        return StreamingResponse(gateway_text_stream_response(run), media_type=SSE_CONTENT_TYPE)
    return Response(gateway_text_response_body(target, await run), media_type="application/json")


def failure(error: Exception) -> Response:
    r = gateway_error_response(error)
    return Response(r.body, status_code=r.status, headers=r.headers)


@app.post("/v1/query")
async def query(request: Request) -> Response:
    try:
        authorize(request)
        q = decode_gateway_query_body(await request.body())
        run = client.query(q.request, endpoint=endpoint(q.target, q.endpoint_options))
        return await answer(q.target, run, q.stream)
    except Exception as e:  # every failure answers in the profile's error shape
        return failure(e)


@app.post("/v1/chat")
async def chat(request: Request) -> Response:
    try:
        authorize(request)
        c = decode_gateway_chat_body(await request.body())
        run = client.chat(c.request, endpoint=endpoint(c.target, c.endpoint_options))
        return await answer(c.target, run, c.stream)
    except Exception as e:
        return failure(e)


@app.post("/v1/embed")
async def embed(request: Request) -> Response:
    try:
        authorize(request)
        d = decode_gateway_embed_body(await request.body())
        response = await client.embed(d.request, endpoint=endpoint(d.target, d.endpoint_options))
        return Response(gateway_embedding_response_body(d.target, response), media_type="application/json")
    except Exception as e:
        return failure(e)
