"""The Python facade against ``schema/sipp.schema.json``, the schema the Rust serde types
derive (``cargo xtask schema``): every field, literal and error code that exists on one
side must exist on the other, so a Rust field is never silently unreachable from Python
and a Python field never silently dropped on its way in."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import pytest

import sipp
from sipp import _config, _errors, _literals, _types

ROOT = Path(__file__).resolve().parents[2]
DEFS: dict[str, Any] = json.loads((ROOT / "schema" / "sipp.schema.json").read_text())["$defs"]


def properties(name: str) -> set[str]:
    return set(DEFS[name]["properties"])


def literals(name: str) -> set[str]:
    d = DEFS[name]
    if "enum" in d:
        return set(d["enum"])
    # Variants with doc comments are `const` entries; undocumented ones plain enums.
    return {c for v in d["oneOf"] for c in ([v["const"]] if "const" in v else v["enum"])}


def fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


#: Dataclasses whose fields are the Rust struct's of the same name, one for one.
SAME_FIELDS = [
    _types.SippTextOptions,
    _types.LocalTextOptions,
    _types.LocalEmbedOptions,
    _types.ChatMessage,
    _types.TimeoutPolicy,
    _types.GatewayRoutes,
    _types.RetryPolicy,
    _types.Usage,
    _types.LocalStats,
    _types.BackendProfile,
    _types.TokenBatch,
    _types.EndpointRef,
    _config.NativeRuntimeConfig,
    _config.PlacementRuntimeConfig,
    _config.ContextRuntimeConfig,
    _config.SamplingRuntimeConfig,
    _config.MirostatConfig,
    _config.LogitBias,
    _config.SchedulerRuntimeConfig,
    _config.CacheRuntimeConfig,
    _config.MultimodalRuntimeConfig,
    _config.ResidencyRuntimeConfig,
    _config.ObservabilityRuntimeConfig,
]


@pytest.mark.parametrize("cls", SAME_FIELDS, ids=lambda c: c.__name__)
def test_dataclass_fields_are_the_rust_structs(cls: type) -> None:
    python, rust = fields(cls), properties(cls.__name__)
    assert python == rust, f"Python only: {sorted(python - rust)}; Rust only: {sorted(rust - python)}"


def test_every_config_group_of_the_schema_has_a_python_class() -> None:
    groups = {
        ref.split("/")[-1]
        for p in DEFS["NativeRuntimeConfig"]["properties"].values()
        for ref in [p.get("$ref", "")]
        if ref
    }
    assert groups and groups <= {c.__name__ for c in SAME_FIELDS}


def populated(cls: type, **required: Any) -> Any:
    """An instance with every optional field set to something truthy, so its document shows
    every key it can send."""
    values: dict[str, Any] = dict(required)
    for f in dataclasses.fields(cls):
        if f.name in values or f.name == "_":
            continue
        values[f.name] = {"x-name": "v"} if "headers" in f.name or "options" in f.name else "v"
    return cls(**values)


@pytest.mark.parametrize(
    ("descriptor", "rust"),
    [
        (populated(_types.LocalModelDescriptor, path="m.gguf"), "LocalModelDescriptor"),
        (populated(_types.GatewayDescriptor, value_provider=None), "GatewayDescriptor"),
        (populated(_types.ProviderDescriptor), "ProviderDescriptor"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_descriptor_documents_carry_every_rust_field(descriptor: Any, rust: str) -> None:
    sent = set(descriptor._document()) - {"kind"}
    if rust == "LocalModelDescriptor":
        sent.add("backend")  # the client adds it from SIPP_PYTHON_BACKEND
    assert sent == properties(rust), f"Python only: {sorted(sent - properties(rust))}; Rust only: {sorted(properties(rust) - sent)}"
    if rust == "GatewayDescriptor":
        assert set(descriptor._document()["authentication"]) == properties("GatewayAuthentication")


def test_responses_read_every_rust_field() -> None:
    for cls, rust in [(_types.SippTextResponse, "SippTextResponse"), (_types.SippEmbeddingResponse, "SippEmbeddingResponse")]:
        read = set(typing.get_type_hints(cls)) - {"_raw"}
        assert read == properties(rust), rust


@pytest.mark.parametrize(
    ("alias", "rust"),
    [
        (_types.FinishReason, "FinishReason"),
        (_types.Role, "ChatRole"),
        (_types.EndpointKind, "EndpointKind"),
        (_types.AuthenticationKind, "AuthenticationKind"),
        (_types.ProviderName, "ProviderKind"),
        (_config.PoolingType, "PoolingType"),
        (_config.SamplerStage, "SamplerStage"),
        (_literals.FlashAttention, "FlashAttention"),
        (_literals.KvReuseMode, "KvReuseMode"),
        (_literals.SchedulerPolicy, "SchedulerPolicy"),
        (_literals.SplitMode, "SplitMode"),
        (_literals.WeightFormat, "WeightFormat"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_literals_are_the_rust_enums(alias: Any, rust: str) -> None:
    # `_literals.py` is generated from the schema (crates/sipp/tests/schema.rs checks it is
    # current); this checks the facade uses it and it says what the schema says.
    assert set(typing.get_args(alias)) == literals(rust)


def test_every_error_code_has_one_python_class() -> None:
    assert set(_errors.CLASS_OF_CODE) == literals("ErrorCode") == set(typing.get_args(_literals.ErrorCodeName))
    for code, cls in _errors.CLASS_OF_CODE.items():
        assert issubclass(cls, sipp.SippError), code
        assert cls.__name__ in sipp.__all__, f"{cls.__name__} is not exported"
