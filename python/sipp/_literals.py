"""Literal types of the Rust enums Python names, generated from schema/sipp.schema.json by
`cargo xtask schema` (crates/sipp/tests/schema.rs). Do not edit."""

from typing import Literal

AuthenticationKind = Literal["none", "bearer", "header"]
EndpointKind = Literal["local", "gateway", "provider"]
ErrorCodeName = Literal[
    "model_not_found",
    "not_gguf",
    "model_load",
    "invalid_config",
    "not_supported",
    "backend_unavailable",
    "invalid_request",
    "unsupported_operation",
    "chat_template_missing",
    "chat_template",
    "grammar",
    "unknown_endpoint",
    "endpoint_required",
    "overloaded",
    "context_overflow",
    "cancelled",
    "endpoint_closed",
    "execution",
    "authentication",
    "authorization",
    "not_found",
    "payload_too_large",
    "unavailable",
    "transport",
    "timeout",
    "protocol",
]
FinishReason = Literal["stop", "length", "cancelled"]
FlashAttention = Literal["auto", "on", "off"]
KvReuseMode = Literal["none", "live_slot_prefix", "snapshot"]
PoolingType = Literal["none", "mean", "cls", "last", "rank"]
ProviderName = Literal["openai", "openai_compatible", "anthropic"]
Role = Literal["system", "user", "assistant"]
SamplerStage = Literal["penalties", "top_k", "top_p", "min_p", "temperature"]
SchedulerPolicy = Literal["fcfs", "decode_first"]
SplitMode = Literal["none", "layer", "row"]
WeightFormat = Literal["q8_0"]
