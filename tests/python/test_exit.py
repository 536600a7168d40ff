"""Exiting the interpreter is clean however the client was used: scripts that stream
with asyncio and never call ``close()`` must not abort at exit (a native task once
reached for the GIL during finalization: exit code 134 or 139 in a few runs of 20)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from sipp import ChatMessage, LocalModelDescriptor, SippClient, SippTextOptions

    client = SippClient()
    ep = client.add("t", LocalModelDescriptor(sys.argv[1]))

    async def one(i):
        run = client.chat([ChatMessage("user", f"Count to {i}.")], endpoint=ep,
                          options=SippTextOptions(max_tokens=16), emit_tokens=True)
        return len([b async for b in run])

    async def main():
        counts = await asyncio.gather(*(one(i) for i in range(8)))
        # One run left unfinished, its handle still alive: exit must not wait for it.
        abandoned = client.chat([ChatMessage("user", "Tell a long story.")], endpoint=ep,
                                options=SippTextOptions(max_tokens=500), emit_tokens=True)
        await abandoned.__anext__()
        print(sum(counts) > 0, flush=True)
        return abandoned

    keep = asyncio.run(main())
    """
)

RUNS = 25


def test_asyncio_scripts_exit_cleanly_without_close(model_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "stream_and_exit.py"
    script.write_text(SCRIPT)
    failures = []
    for i in range(RUNS):
        done = subprocess.run(
            [sys.executable, str(script), str(model_path)], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0 or done.stdout.strip() != "True":
            failures.append(f"run {i}: exit {done.returncode}\n{done.stderr[-2000:]}")
    assert not failures, f"{len(failures)} of {RUNS} runs failed:\n" + "\n".join(failures[:3])
