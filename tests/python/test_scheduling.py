"""Scheduler policy and residency from Python: ``policy="decode_first"`` keeps a running
stream receiving tokens while a long prompt is prefilled; residency rules refuse what
this CPU build cannot honour and let the rest load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import sipp
from conftest import greedy

LONG = "<|im_start|>user\n" + "The lighthouse keeper wrote in his log every night. " * 170 + "Summarize.<|im_end|>\n"


def tokens_while_prefilling(client: sipp.SippClient, model_path: Path, policy: str) -> tuple[int, int, str]:
    """Tokens a running stream received between the long prompt's submission and its first
    token; the prompt's length; its answer."""
    config = sipp.NativeRuntimeConfig(scheduler=sipp.SchedulerRuntimeConfig(policy=policy))  # type: ignore[arg-type]
    ep = client.add(policy, sipp.LocalModelDescriptor(model_path, config))
    running = client.query("<|im_start|>user\nTell a long story.<|im_end|>\n<|im_start|>assistant\n",
                           endpoint=ep, options=greedy(300), emit_tokens=True)
    arrivals: list[float] = []
    batches = iter(running)
    next(batches)

    def read() -> None:
        for _ in batches:
            arrivals.append(time.perf_counter())

    reader = threading.Thread(target=read)
    reader.start()
    submitted = time.perf_counter()
    long = client.query(LONG, endpoint=ep, options=greedy(4), emit_tokens=True)
    next(iter(long))
    first = time.perf_counter()
    answer = long.result()
    running.cancel()
    reader.join()
    return sum(submitted < t < first for t in arrivals), answer.usage.input_tokens, answer.text  # type: ignore[union-attr]


def test_decode_first_keeps_a_stream_going_during_a_long_prefill(client: sipp.SippClient, model_path: Path) -> None:
    fcfs, prompt, text = tokens_while_prefilling(client, model_path, "fcfs")
    protected, _, answer = tokens_while_prefilling(client, model_path, "decode_first")
    assert prompt > 1500 and text and answer
    # fcfs fills 512-token steps: about one stream token per step, a handful in all.
    assert fcfs <= prompt // 512 + 2, fcfs
    assert protected > 4 * fcfs, (protected, fcfs)


def test_residency_on_a_cpu_build(client: sipp.SippClient, model_path: Path) -> None:
    def desc(**residency: object) -> sipp.LocalModelDescriptor:
        return sipp.LocalModelDescriptor(model_path, sipp.NativeRuntimeConfig(
            residency=sipp.ResidencyRuntimeConfig(**residency)))  # type: ignore[arg-type]

    with pytest.raises(sipp.BackendUnavailableError, match="require_gpu_lease"):
        client.add("needs-gpu", desc(require_gpu_lease=True))
    with pytest.raises(sipp.InvalidConfigError, match="at least 1"):
        client.add("zero", desc(max_gpu_models_per_device=0))
    # Nothing holds a GPU here: these limits have nothing to refuse.
    a = client.add("a", desc(max_gpu_models_per_device=1, allow_cpu_models_while_gpu_loaded=False))
    b = client.add("b", desc(max_gpu_models_per_device=1))
    for ep in (a, b):
        assert client.query("Hello", endpoint=ep, options=greedy(2)).result().text
