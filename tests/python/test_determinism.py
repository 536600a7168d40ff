"""The determinism matrix from Python: the 21 prompts of ``tests/data/determinism_prompts.json``
(5 to 1,500+ tokens, several sharing long prefixes) answer exactly as they do cold and
alone — submitted 16 at once, again from host-RAM snapshots, 4 threads at a time with a
live-slot cache, and in a new process that restores the persisted states. Greedy and
seeded sampling alike. The reference is always this machine's own cold answer: that is
what ``context.deterministic`` (on by default on the CPU) guarantees on every CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import sipp

PROMPTS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "determinism_prompts.json").read_text())[
    "prompts"
]


def options(i: int) -> sipp.SippTextOptions:
    """Greedy, except every third prompt samples with a fixed seed."""
    if i % 3 == 2:
        return sipp.SippTextOptions(max_tokens=10, temperature=0.8, seed=7 + i)
    return sipp.SippTextOptions(max_tokens=10, temperature=0.0)


def config(slots: int, mode: str, **extra: object) -> sipp.NativeRuntimeConfig:
    """Batched endpoints use ``decode_first`` and 64-token prefill chunks; the one-slot
    reference prefills each prompt whole."""
    policy = "fcfs" if slots == 1 else "decode_first"
    return sipp.NativeRuntimeConfig(
        context=sipp.ContextRuntimeConfig(n_ctx=2048),
        scheduler=sipp.SchedulerRuntimeConfig(
            max_running_requests=slots, policy=policy, prefill_chunk_size=0 if slots == 1 else 64
        ),
        cache=sipp.CacheRuntimeConfig(mode=mode, **extra),  # type: ignore[arg-type]
    )


def differences(path: str, reference: list[str], got: list[str]) -> list[str]:
    return [f"{path}: prompt {i}: cold {a!r}, got {b!r}" for i, (a, b) in enumerate(zip(reference, got)) if a != b]


RESTART = """
import json, sys
import sipp
sys.path.insert(0, sys.argv[3])
from test_determinism import PROMPTS, config, options
with sipp.SippClient() as client:
    ep = client.add("restarted", sipp.LocalModelDescriptor(sys.argv[1], config(16, "snapshot", snapshot_dir=sys.argv[2])))
    loaded = client.endpoint_stats(ep)["snapshot_entries"]
    runs = [client.query(p, endpoint=ep, options=options(i)) for i, p in enumerate(PROMPTS)]
    texts = [r.result().text for r in runs]
    print(json.dumps({"loaded": loaded, "restores": client.endpoint_stats(ep)["snapshot_restores"], "texts": texts}))
"""


@pytest.mark.timeout(1200)
def test_every_path_answers_as_the_cold_lone_prefill(model_path: Path, tmp_path: Path) -> None:
    assert len(PROMPTS) >= 20
    with sipp.SippClient() as client:
        cold = client.add("cold", sipp.LocalModelDescriptor(model_path, config(1, "none")))
        assert client.endpoint_info(cold)["deterministic"] is True
        answers = [client.query(p, endpoint=cold, options=options(i)).result() for i, p in enumerate(PROMPTS)]
        reference = [a.text for a in answers]
        lengths = [a.usage.input_tokens for a in answers if a.usage is not None]
        assert min(lengths) <= 6 and max(lengths) >= 1500, lengths
        client.remove(cold)

        # 16 at once (query returns at once; the engine batches them), with snapshots
        # kept on disk; then the same again, restored from host RAM.
        kv = tmp_path / "kv"
        ep = client.add("snap", sipp.LocalModelDescriptor(model_path, config(16, "snapshot", snapshot_dir=str(kv))))
        wrong: list[str] = []
        for round_ in ("16 at once", "16 at once again"):
            runs = [client.query(p, endpoint=ep, options=options(i)) for i, p in enumerate(PROMPTS)]
            wrong += differences(round_, reference, [r.result().text for r in runs])
        stats = client.endpoint_stats(ep)
        assert stats["max_batch_sequences"] > 8 and stats["reused_prompt_tokens"] > 5000, stats
        # Unrelated traffic takes every slot: each prompt's state is snapshotted to disk.
        fillers = [client.query(f"Filler {i} is about the weather:", endpoint=ep, options=options(0)) for i in range(16)]
        for f in fillers:
            f.result()
        assert client.endpoint_stats(ep)["snapshots_taken"] >= 16
        client.remove(ep)

        # 4 threads, live-slot reuse only, each prompt asked twice (the second time all
        # but its last token come from the slot).
        live = client.add("live", sipp.LocalModelDescriptor(model_path, config(4, "live_slot_prefix")))

        def twice(i: int) -> str:
            first = client.query(PROMPTS[i], endpoint=live, options=options(i)).result().text
            second = client.query(PROMPTS[i], endpoint=live, options=options(i)).result().text
            return first if first == second else f"{first!r} then {second!r}"

        with ThreadPoolExecutor(4) as pool:
            wrong += differences("4 threads, live slots", reference, list(pool.map(twice, range(len(PROMPTS)))))

    # A new process on the same snapshot directory (a restart).
    script = tmp_path / "restart.py"
    script.write_text(RESTART)
    out = subprocess.run(
        [sys.executable, str(script), str(model_path), str(kv), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=900, check=True,
    )
    restarted = json.loads(out.stdout.strip().splitlines()[-1])
    assert restarted["loaded"] >= 8 and restarted["restores"] >= 8, restarted
    wrong += differences("new process, persisted snapshots", reference, restarted["texts"])
    assert not wrong, "\n".join(wrong)
