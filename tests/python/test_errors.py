"""Every bad input raises its typed exception; none is a bare RuntimeError."""

from __future__ import annotations

from pathlib import Path

import pytest

import sipp
from conftest import greedy


def test_missing_model_file(client: sipp.SippClient, tmp_path: Path) -> None:
    with pytest.raises(sipp.ModelNotFoundError) as err:
        client.add("m", sipp.LocalModelDescriptor(tmp_path / "missing.gguf"))
    assert isinstance(err.value, FileNotFoundError) and err.value.code == "model_not_found"
    assert "missing.gguf" in str(err.value)


def test_not_a_gguf_file(client: sipp.SippClient, tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_text("not a model")
    with pytest.raises(sipp.NotGgufError) as err:
        client.add("m", sipp.LocalModelDescriptor(fake))
    assert isinstance(err.value, sipp.ModelLoadError)


def test_chat_without_template(client: sipp.SippClient, model_path: Path, tmp_path: Path) -> None:
    data = bytearray(model_path.read_bytes())
    key = b"tokenizer.chat_template"
    at = data.find(key)
    data[at + len(key) - 1 : at + len(key)] = b"X"
    base = tmp_path / "base.gguf"
    base.write_bytes(bytes(data))
    ep = client.add("base", sipp.LocalModelDescriptor(base))
    with pytest.raises(sipp.ChatTemplateMissingError, match="use query"):
        client.chat([sipp.ChatMessage("user", "hi")], endpoint=ep).result()
    assert client.query("The sky is", endpoint=ep, options=greedy(2)).result().usage.output_tokens == 2


def test_embed_on_text_endpoint(client: sipp.SippClient, text_ep: sipp.EndpointRef) -> None:
    with pytest.raises(sipp.UnsupportedOperationError):
        client.embed("hello", endpoint=text_ep).result()


def test_unknown_and_ambiguous_endpoints(client: sipp.SippClient, model_path: Path) -> None:
    ghost = sipp.EndpointRef("local", "ghost")
    with pytest.raises(sipp.UnknownEndpointError):
        client.query("hi", endpoint=ghost).result()
    client.add("a", sipp.LocalModelDescriptor(model_path))
    assert client.query("hi", options=greedy(2)).result().usage.output_tokens >= 1
    client.add("b", sipp.LocalModelDescriptor(model_path))
    with pytest.raises(sipp.EndpointRequiredError, match="2 local endpoints"):
        client.query("hi", options=greedy(2)).result()


def test_invalid_options_and_config(client: sipp.SippClient, model_path: Path, text_ep: sipp.EndpointRef) -> None:
    with pytest.raises(sipp.InvalidRequestError):
        client.query("hi", endpoint=text_ep, options=sipp.SippTextOptions(temperature=-1)).result()
    for endless in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(sipp.InvalidRequestError, match="temperature"):
            client.query("hi", endpoint=text_ep, options=sipp.SippTextOptions(temperature=endless)).result()
    with pytest.raises(sipp.InvalidRequestError, match=r"stop\[1\] is empty"):
        client.query("hi", endpoint=text_ep, options=sipp.SippTextOptions(stop=["\n", ""])).result()
    with pytest.raises(ValueError):
        client.query("hi", endpoint=text_ep, options=sipp.SippTextOptions(top_p=2.0)).result()
    with pytest.raises(sipp.GrammarError):
        client.query("hi", endpoint=text_ep, local=sipp.LocalTextOptions(grammar="root ::= (")).result()
    with pytest.raises(sipp.ContextOverflowError):
        client.query("word " * 5000, endpoint=text_ep, options=greedy(2)).result()
    with pytest.raises(sipp.InvalidRequestError):
        client.query("hi", endpoint=text_ep, provider_options={"reasoning_effort": "low"}).result()
    with pytest.raises(sipp.InvalidRequestError):
        client.chat([{"role": "wizard", "content": "hi"}], endpoint=text_ep).result()
    bad = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_ubatch=1024, n_batch=512))
    with pytest.raises(sipp.InvalidConfigError):
        client.add("bad", sipp.LocalModelDescriptor(model_path, bad))
    # A shared KV pool cannot give the same answer on every path: refused when asked for.
    both = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(deterministic=True, kv_unified=True))
    with pytest.raises(sipp.InvalidConfigError, match="context.deterministic = true"):
        client.add("both", sipp.LocalModelDescriptor(model_path, both))
    later = sipp.NativeRuntimeConfig(multimodal=sipp.MultimodalRuntimeConfig(projector_path="mmproj.gguf"))
    with pytest.raises(sipp.NotSupportedYetError, match="not supported yet"):
        client.add("vision", sipp.LocalModelDescriptor(model_path, later))


def test_backend_env_var(client: sipp.SippClient, model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sipp.compiled_backends()[0] == "cpu"
    missing = next(b for b in ("vulkan", "cuda", "metal") if b not in sipp.compiled_backends())
    monkeypatch.setenv("SIPP_PYTHON_BACKEND", missing)
    with pytest.raises(sipp.BackendUnavailableError) as err:
        client.add("gpu", sipp.LocalModelDescriptor(model_path))
    assert "available: cpu" in str(err.value)
    monkeypatch.setenv("SIPP_PYTHON_BACKEND", "tpu")
    with pytest.raises(sipp.InvalidConfigError):
        client.add("gpu", sipp.LocalModelDescriptor(model_path))
    monkeypatch.setenv("SIPP_PYTHON_BACKEND", "cpu")
    assert client.add("cpu", sipp.LocalModelDescriptor(model_path)).kind == "local"


def test_every_error_is_a_sipp_error_with_a_code() -> None:
    for name in sipp.__all__:
        obj = getattr(sipp, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, sipp.SippError), name
            assert obj("message", "code").code == "code"


def test_absurd_settings_fail_at_add_without_taking_the_machine_down(client: sipp.SippClient, model_path: Path) -> None:
    huge = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_ctx=2**31))
    with pytest.raises(sipp.InvalidConfigError, match=r"context\.n_ctx"):
        client.add("huge", sipp.LocalModelDescriptor(model_path, huge))
    threads = sipp.NativeRuntimeConfig(context=sipp.ContextRuntimeConfig(n_threads=10000))
    with pytest.raises(sipp.InvalidConfigError, match="n_threads = 10000"):
        client.add("threads", sipp.LocalModelDescriptor(model_path, threads))
    for token in (10**9, -1):
        bias = sipp.NativeRuntimeConfig(sampling=sipp.SamplingRuntimeConfig(logit_bias=[sipp.LogitBias(token, 1.0)]))
        with pytest.raises(sipp.InvalidConfigError, match="not in the model's vocabulary"):
            client.add("bias", sipp.LocalModelDescriptor(model_path, bias))
    assert client.endpoints() == []


def test_truncated_model_files_say_so(client: sipp.SippClient, model_path: Path, tmp_path: Path) -> None:
    data = model_path.read_bytes()
    for cut in (1 << 20, 50 << 20):
        path = tmp_path / f"cut-{cut}.gguf"
        path.write_bytes(data[:cut])
        with pytest.raises(sipp.ModelLoadError, match="the file is truncated"):
            client.add("cut", sipp.LocalModelDescriptor(path))
