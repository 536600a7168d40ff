"""Client lifecycle, embeddings and output constraints from Python."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sipp
from conftest import chatml, greedy


def test_with_closes_the_client(model_path: Path) -> None:
    with sipp.SippClient() as client:
        ep = client.add("t", sipp.LocalModelDescriptor(model_path))
        assert client.endpoints() == [ep]
    try:
        client.query("hi", endpoint=ep).result()
    except sipp.UnknownEndpointError:
        pass
    else:
        raise AssertionError("endpoint survived close()")


def test_async_with_closes_the_client(model_path: Path) -> None:
    async def main() -> sipp.SippClient:
        async with sipp.SippClient() as client:
            ep = client.add("t", sipp.LocalModelDescriptor(model_path))
            assert (await client.query("Hi", endpoint=ep, options=greedy(2))).usage.output_tokens >= 1
        return client

    assert asyncio.run(main()).endpoints() == []


def test_close_fails_in_flight_runs_cleanly(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    run = client.query(chatml("Write a long story."), endpoint=text_ep, options=greedy(400), emit_tokens=True)
    next(iter(run))
    client.close()
    try:
        response = run.result()
        assert response.finish_reason != "length"
    except sipp.EndpointClosedError as e:
        assert e.code == "endpoint_closed"


def test_embeddings_normalized_and_ranked(client: sipp.SippClient, model_path: Path) -> None:
    config = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(embeddings=True, pooling="mean"))
    ep = client.add("embed", sipp.LocalModelDescriptor(model_path, config))
    opts = sipp.LocalEmbedOptions(normalize=True)
    a, b, c = (
        client.embed(t, endpoint=ep, local=opts).result()
        for t in ("The cat is sleeping on the sofa.", "A cat naps on the couch.", "Quarterly taxes are due in April.")
    )
    assert a.normalized and a.pooling == "mean" and len(a.values) == 576
    assert math.isclose(math.fsum(v * v for v in a.values), 1.0, rel_tol=1e-4)

    def cos(x: list[float], y: list[float]) -> float:
        return math.fsum(p * q for p, q in zip(x, y))

    assert cos(a.values, b.values) > cos(a.values, c.values)
    assert a["values"] == a.values


def test_json_schema_and_stop(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 16}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    r = client.query(
        chatml("Describe a person as JSON."),
        endpoint=text_ep,
        options=greedy(96),
        local=sipp.LocalTextOptions(json_schema=schema),
    ).result()
    parsed = json.loads(r.text)
    assert isinstance(parsed["name"], str) and isinstance(parsed["age"], int)
    r = client.query(chatml("Hi"), endpoint=text_ep, options=sipp.SippTextOptions(max_tokens=3, temperature=0))
    assert r.result().finish_reason == "length"


def test_min_p_reaches_the_local_sampler(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    """``min_p`` exists once, in ``SippTextOptions``: at 1.0 only the likeliest token
    survives, so a hot seeded sample is the greedy answer; outside [0, 1] it is refused."""
    prompt = chatml("Name three colours.")
    want = client.query(prompt, endpoint=text_ep, options=greedy(12)).result().text
    hot = sipp.SippTextOptions(max_tokens=12, temperature=1.5, seed=11, min_p=1.0)
    assert client.query(prompt, endpoint=text_ep, options=hot).result().text == want
    with pytest.raises(sipp.InvalidRequestError, match=r"min_p must be within \[0, 1\]"):
        client.query(prompt, endpoint=text_ep, options=sipp.SippTextOptions(min_p=1.5)).result()


def test_bad_messages_say_what_is_wrong(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    with pytest.raises(sipp.InvalidRequestError, match="unknown variant `tool`"):
        client.chat([{"role": "tool", "content": "x"}], endpoint=text_ep)
    with pytest.raises(sipp.InvalidRequestError, match="need role and content"):
        client.chat([{"content": "x"}], endpoint=text_ep)
    with pytest.raises(sipp.InvalidRequestError, match="query takes a prompt string"):
        client.query(["not", "a", "prompt"], endpoint=text_ep)  # type: ignore[arg-type]


def test_endpoint_info_and_local_stats(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    info = client.endpoint_info(text_ep)
    assert info["has_chat_template"] and info["backend"] == "cpu" and info["n_seq_max"] == 8
    r = client.query(chatml("Hi"), endpoint=text_ep, options=greedy(8)).result()
    assert r.local_stats is not None and r.local_stats.ttft_ms > 0


def test_json_schema_nulls_survive_serialization(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    r = client.query(
        chatml("Say anything."),
        endpoint=text_ep,
        options=greedy(8),
        local=sipp.LocalTextOptions(json_schema={"const": None}),
    ).result()
    assert r.text == "null"


def test_banning_tokens_with_infinite_logit_bias(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    banned = sipp.SamplingRuntimeConfig(logit_bias=[sipp.LogitBias(t, float("-inf")) for t in (0, 1, 2)])
    r = client.query(
        chatml("Hi"), endpoint=text_ep, options=greedy(40), local=sipp.LocalTextOptions(sampling=banned)
    ).result()
    # End-of-generation is banned, so only the token limit ends the run.
    assert r.finish_reason == "length" and r.usage.output_tokens == 40
    try:
        sipp.SamplingRuntimeConfig(temperature=float("nan"))
        client.query("x", endpoint=text_ep, local=sipp.LocalTextOptions(sampling=sipp.SamplingRuntimeConfig(top_p=float("nan")))).result()
    except sipp.InvalidRequestError:
        pass
    else:
        raise AssertionError("NaN was accepted")


def test_default_model_is_cached_outside_the_working_directory(model_path: Path, tmp_path: Path) -> None:
    """Run from a directory that is not a Sipp checkout: the platform cache is used and
    nothing is written where the script runs."""
    cache = tmp_path / "xdg-cache"
    (cache / "sipp" / "models").mkdir(parents=True)
    for name in (model_path.name, model_path.name + ".sha256"):
        shutil.copy(model_path.parent / name, cache / "sipp" / "models" / name)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SIPP_MODELS_DIR"} | {"XDG_CACHE_HOME": str(cache)}
    script = "import sipp; print(sipp.default_model())"
    out = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == cache / "sipp" / "models" / model_path.name
    assert list(workdir.iterdir()) == []
    env["SIPP_MODELS_DIR"] = str(cache / "sipp" / "models")
    out = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
    assert Path(out.stdout.strip()) == cache / "sipp" / "models" / model_path.name
