"""Starting a server process for a test: its log goes to a file (a chatty server would
block on a full pipe), readiness is polled, a server that exits early fails the test with
the end of its log, and it is always stopped."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import pytest


def gateway_toml(public: int, management: int, *, admin_env: str, token_env: str, caller: str, targets: str) -> str:
    """A ``sipp-gateway`` config on loopback: one bearer token allowed every target, the
    admin password from ``admin_env``, and ``targets`` (``[[targets]]`` tables) as given."""
    return f"""
public_bind = "127.0.0.1:{public}"
management_bind = "127.0.0.1:{management}"
max_request_bytes = 65536
admin_password_env = "{admin_env}"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "{token_env}"
caller = "{caller}"
targets = []
{targets}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ok(url: str, expect: bytes | None = None) -> Callable[[], bool]:
    """Ready once ``url`` answers 200 (and, if given, exactly ``expect``)."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.status == 200 and (expect is None or r.read() == expect)
        except OSError:
            return False

    return check


def port_open(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    return check


@contextmanager
def running(
    cmd: list[str], ready: Callable[[], bool], *, env: Mapping[str, str] | None = None, timeout: float = 90
) -> Iterator[Callable[[], str]]:
    """Run ``cmd`` until the block ends; yields a function returning its log so far."""
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, env=dict(env) if env is not None else None, stdout=log, stderr=log)

    def read_log() -> str:
        log.seek(0)
        return log.read()

    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"{cmd[0]} exited with {proc.returncode}: {read_log()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{cmd[0]} was not ready within {timeout:.0f} s: {read_log()[-3000:]}")
            time.sleep(0.1)
        yield read_log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
