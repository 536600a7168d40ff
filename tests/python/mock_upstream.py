"""A loopback HTTP/1.1 server for the remote-endpoint tests.

It records each request exactly as it arrived (method, path, headers, body bytes) and
answers with scripted replies: a JSON body, SSE frames written in separate TCP writes
(optionally cut at arbitrary byte offsets), a stalled stream, or a close. It notes when
a client hangs up on a stream.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    #: SSE bytes, each piece written separately; None for a plain body.
    pieces: list[bytes] | None = None
    pause: float = 0.005
    #: Keep the stream open after the pieces until the client hangs up.
    stall: bool = False

    @staticmethod
    def json(body: Any, status: int = 200, **headers: str) -> Reply:
        hdrs = {"content-type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}}
        return Reply(status=status, body=json.dumps(body), headers=hdrs)

    @staticmethod
    def sse(frames: list[str], split_every: int | None = None, stall: bool = False) -> Reply:
        if split_every is None:
            return Reply(pieces=[f.encode() for f in frames], stall=stall)
        data = "".join(frames).encode()
        # Cuts fall anywhere: inside lines, JSON and multi-byte characters.
        pieces = [data[i : i + split_every] for i in range(0, len(data), split_every)]
        return Reply(pieces=pieces, stall=stall, pause=0.003)


class MockUpstream:
    """``with MockUpstream([replies...]) as mock: ... mock.url ... mock.requests``"""

    def __init__(self, replies: list[Reply]) -> None:
        self._replies: deque[Reply] = deque(replies)
        self.requests: list[Recorded] = []
        self.hangups = 0
        self._hung_up = threading.Condition()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> MockUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._sock.close()

    def script(self, replies: list[Reply]) -> None:
        """Queue more replies (for a mock a long-running server was started against)."""
        self._replies.extend(replies)

    def only_request(self) -> Recorded:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]

    def wait_hangup(self, timeout: float = 2.0, after: int = 0) -> None:
        """Wait for a hang-up beyond the first ``after``."""
        with self._hung_up:
            assert self._hung_up.wait_for(lambda: self.hangups > after, timeout), "the client kept the connection open"

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            reply = self._replies.popleft() if self._replies else Reply.json({"error": {"code": "mock", "message": "no reply scripted"}}, 500)
            try:
                if reply.pieces is None:
                    head = f"HTTP/1.1 {reply.status} Mock\r\ncontent-length: {len(reply.body.encode())}\r\nconnection: close\r\n"
                    head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                    conn.sendall((head + "\r\n").encode() + reply.body.encode())
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
                for piece in reply.pieces:
                    time.sleep(reply.pause)
                    conn.sendall(piece)
                if reply.stall:
                    while conn.recv(64):
                        pass
                    self._hangup()
            except OSError:
                self._hangup()

    def _hangup(self) -> None:
        with self._hung_up:
            self.hangups += 1
            self._hung_up.notify_all()


def _read_request(conn: socket.socket) -> Recorded | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return Recorded(method, path, headers, body)
