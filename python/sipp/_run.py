"""Run handles returned by ``query``, ``chat`` and ``embed``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

from . import _sipp
from ._types import SippEmbeddingResponse, SippTextResponse, TokenBatch

__all__ = ["SippEmbeddingRun", "SippTextRun"]


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Called on the event loop by the native side with an awaitable's outcome."""
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class SippTextRun:
    """A running query or chat.

    ``result()`` blocks (without the GIL) and returns the response; ``await run`` does the
    same inside asyncio. With ``emit_tokens=True``, ``for batch in run`` or
    ``async for batch in run`` streams ``TokenBatch`` values first. ``cancel(reason)``
    stops generation (the response then has ``finish_reason == "cancelled"``); dropping an
    unfinished run cancels it too.
    """

    __slots__ = ("_native", "_response")

    def __init__(self, native: _sipp.NativeTextRun) -> None:
        self._native = native
        self._response: SippTextResponse | None = None

    def result(self) -> SippTextResponse:
        """Wait for the final response. Ctrl-C raises KeyboardInterrupt and cancels."""
        if self._response is None:
            self._response = SippTextResponse(json.loads(self._native.result()))
        return self._response

    async def response(self) -> SippTextResponse:
        """Await the final response without blocking the event loop."""
        if self._response is None:
            self._response = SippTextResponse(json.loads(await self._native.result_async()))
        return self._response

    def __await__(self) -> Generator[Any, None, SippTextResponse]:
        return self.response().__await__()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop generation; already streamed text stays in the response."""
        self._native.cancel(reason)

    def __iter__(self) -> Iterator[TokenBatch]:
        return self

    def __next__(self) -> TokenBatch:
        batch = self._native.next_batch()
        if batch is None:
            raise StopIteration
        return TokenBatch(*batch)

    def __aiter__(self) -> AsyncIterator[TokenBatch]:
        return self

    async def __anext__(self) -> TokenBatch:
        batch = await self._native.next_batch_async()
        if batch is None:
            raise StopAsyncIteration
        return TokenBatch(*batch)


class SippEmbeddingRun:
    """A running embed: ``result()``, ``await run``, ``cancel(reason)``."""

    __slots__ = ("_native", "_response")

    def __init__(self, native: _sipp.NativeEmbeddingRun) -> None:
        self._native = native
        self._response: SippEmbeddingResponse | None = None

    def result(self) -> SippEmbeddingResponse:
        if self._response is None:
            self._response = SippEmbeddingResponse(json.loads(self._native.result()))
        return self._response

    async def response(self) -> SippEmbeddingResponse:
        if self._response is None:
            self._response = SippEmbeddingResponse(json.loads(await self._native.result_async()))
        return self._response

    def __await__(self) -> Generator[Any, None, SippEmbeddingResponse]:
        return self.response().__await__()

    def cancel(self, reason: str = "cancelled") -> None:
        self._native.cancel(reason)
