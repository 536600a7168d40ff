"""``CacheRuntimeConfig(mode="snapshot")`` from Python: a long shared prefix that other
prompts displaced from every slot comes back from host RAM, with the same greedy answer
and the endpoint's snapshot counters showing it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sipp
from conftest import greedy

SYSTEM = "<|im_start|>system\nYou are a support agent. " + " ".join(
    f"Rule {i}: answer in plain English, cite the policy section {i}, and never guess." for i in range(1, 25)
) + "<|im_end|>\n"
PROMPT = SYSTEM + "<|im_start|>user\nHow do I reset my password?<|im_end|>\n<|im_start|>assistant\n"


def config(mode: str, **cache: int) -> sipp.NativeRuntimeConfig:
    return sipp.NativeRuntimeConfig(
        scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=2),
        cache=sipp.CacheRuntimeConfig(mode=mode, **cache),  # type: ignore[arg-type]
    )


def test_a_displaced_prefix_comes_back_from_host_ram(client: sipp.SippClient, model_path: Path) -> None:
    ep = client.add("snap", sipp.LocalModelDescriptor(model_path, config("snapshot", max_snapshot_entries=4)))
    cold = client.query(PROMPT, endpoint=ep, options=greedy(12)).result()
    for word in ("Oceans", "Mountains", "Rivers"):
        client.query(f"{word} are the subject of this short poem:", endpoint=ep, options=greedy(4)).result()
    warm = client.query(PROMPT, endpoint=ep, options=greedy(12)).result()
    assert warm.text == cold.text
    assert cold.local_stats is not None and warm.local_stats is not None
    assert warm.local_stats.cached_prompt_tokens + 1 == cold.local_stats.prefill_tokens
    stats = client.endpoint_stats(ep)
    assert stats["snapshot_restores"] == 1 and stats["snapshots_taken"] >= 1 and stats["snapshot_bytes"] > 0
    # The runtime metrics saw the same five requests.
    assert stats["ttft"]["count"] == 5 and sum(stats["ttft"]["buckets"]) <= 5
    assert stats["ttft"]["count"] + stats["inter_token"]["count"] == stats["generated_tokens"]
    assert 0 < stats["kv_cells_used"] <= stats["kv_cells_total"] and stats["running_requests"] == 0


def test_snapshot_limits_need_snapshot_mode(client: sipp.SippClient, model_path: Path) -> None:
    with pytest.raises(sipp.InvalidConfigError, match="cache.mode = snapshot"):
        client.add("bad", sipp.LocalModelDescriptor(model_path, config("live_slot_prefix", max_snapshot_bytes=1 << 20)))


RESTART = """
import json, sys
import sipp
config = sipp.NativeRuntimeConfig(
    scheduler=sipp.SchedulerRuntimeConfig(max_running_requests=2),
    cache=sipp.CacheRuntimeConfig(mode="snapshot", snapshot_dir=sys.argv[2]),
)
with sipp.SippClient() as client:
    ep = client.add("agent", sipp.LocalModelDescriptor(sys.argv[1], config))
    loaded = client.endpoint_stats(ep)["snapshot_entries"]
    r = client.query(sys.argv[3], endpoint=ep, options=sipp.SippTextOptions(max_tokens=12, temperature=0.0)).result()
    for word in ("Oceans", "Mountains", "Rivers"):
        client.query(f"{word} are the subject of this short poem:", endpoint=ep,
                     options=sipp.SippTextOptions(max_tokens=4, temperature=0.0)).result()
    print(json.dumps({"loaded": loaded, "text": r.text, "cached": r.local_stats.cached_prompt_tokens}))
"""


def test_persisted_snapshots_warm_a_new_process(model_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(RESTART)

    def run() -> dict[str, object]:
        out = subprocess.run([sys.executable, str(script), str(model_path), str(tmp_path / "kv"), PROMPT],
                             capture_output=True, text=True, timeout=300, check=True)
        result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    first, second = run(), run()
    assert (first["loaded"], first["cached"]) == (0, 0)
    assert second["loaded"] >= 1 and second["cached"] > 300 and second["text"] == first["text"], second  # type: ignore[operator]


def answer_while_busy(client: sipp.SippClient, ep: sipp.EndpointRef) -> sipp.SippTextResponse:
    """PROMPT's answer while a 160-token story runs in the other slot."""
    story = SYSTEM + "<|im_start|>user\nTell me a long story.<|im_end|>\n<|im_start|>assistant\n"
    running = client.query(story, endpoint=ep, options=greedy(160), emit_tokens=True)
    next(iter(running))
    answer = client.query(PROMPT, endpoint=ep, options=greedy(12)).result()
    running.cancel()
    return answer


def test_interval_snapshots_share_a_busy_slots_prefix(client: sipp.SippClient, model_path: Path) -> None:
    """``snapshot_interval_tokens``: a running request's prefilled prompt is snapshotted,
    so another request with the same system prompt restores it while the first still
    holds its slot, and answers exactly as a lone cold prefill does (its remainder is
    prefilled beside a running decode; ``deterministic`` makes that the same arithmetic)."""
    ep = client.add("interval", sipp.LocalModelDescriptor(model_path, config("snapshot", snapshot_interval_tokens=64)))
    r = answer_while_busy(client, ep)
    assert r.local_stats is not None and r.local_stats.cached_prompt_tokens > 300, r.local_stats
    assert client.endpoint_stats(ep)["snapshots_taken"] >= 1
    again = client.add("again", sipp.LocalModelDescriptor(model_path, config("snapshot", snapshot_interval_tokens=64)))
    r2 = answer_while_busy(client, again)
    assert r2.local_stats is not None and r2.local_stats.cached_prompt_tokens == r.local_stats.cached_prompt_tokens
    assert r2.text == r.text and r.text
    cold = client.add("cold", sipp.LocalModelDescriptor(model_path, config("none")))
    assert client.query(PROMPT, endpoint=cold, options=greedy(12)).result().text == r.text


def test_snapshot_interval_is_checked(client: sipp.SippClient, model_path: Path) -> None:
    with pytest.raises(sipp.InvalidConfigError, match="at least 32"):
        client.add("tiny", sipp.LocalModelDescriptor(model_path, config("snapshot", snapshot_interval_tokens=8)))
    with pytest.raises(sipp.InvalidConfigError, match="cache.mode = snapshot"):
        client.add("mode", sipp.LocalModelDescriptor(model_path, config("none", snapshot_interval_tokens=64)))
