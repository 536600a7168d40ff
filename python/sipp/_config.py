"""Load-time runtime configuration of local endpoints (``NativeRuntimeConfig``).

Field names and groups follow the spec's "Native Runtime Config" table. ``None`` means
"use the runtime default". The Rust core validates every value: unknown or not yet
supported settings raise instead of being ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._literals import FlashAttention, KvReuseMode, PoolingType, SamplerStage, SchedulerPolicy, SplitMode, WeightFormat

__all__ = [
    "CacheRuntimeConfig",
    "ContextRuntimeConfig",
    "LogitBias",
    "MirostatConfig",
    "MultimodalRuntimeConfig",
    "NativeRuntimeConfig",
    "ObservabilityRuntimeConfig",
    "PlacementRuntimeConfig",
    "ResidencyRuntimeConfig",
    "SamplingRuntimeConfig",
    "SchedulerRuntimeConfig",
]



@dataclass
class PlacementRuntimeConfig:
    """Model placement and memory mapping.

    ``transcode_weights="q8_0"`` (a Sipp extension) loads a Q4_0/Q4_1/Q5_0/Q5_1 model with
    its weights re-encoded as Q8_0, made once into ``transcode_dir`` (default
    ``$XDG_CACHE_HOME/sipp/weights`` or ``~/.cache/sipp/weights``): CPUs have batched
    kernels for Q8_0 and not for those formats, so prompts and concurrent streams run
    much faster, at up to ~1.7x the file size. Near-lossless, not bit-exact: greedy text can
    differ from the original file's. Other formats load as they are."""

    devices: list[int] | None = None
    gpu_layers: int | None = None
    split_mode: SplitMode | None = None
    main_gpu: int | None = None
    tensor_split: list[float] | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    fit_params: bool | None = None
    transcode_weights: WeightFormat | None = None
    transcode_dir: str | None = None


@dataclass
class ContextRuntimeConfig:
    """Context window, batch sizes, CPU threads, attention and KV behaviour.

    ``n_ctx`` is the window of every request (prompt + generated tokens), however many run
    at once (default 4096, capped by the model's trained context). With ``kv_unified``
    unset or False each running request has its own window (batch-invariant greedy
    output, ``n_ctx × n_parallel`` KV cells); True shares one pool of ``n_ctx`` cells, and
    requests wait for room. ``SippClient.endpoint_info`` reports what was allocated.

    ``deterministic`` (default: on for text endpoints on the CPU backend) makes greedy and
    seeded answers bit-identical whatever path a prompt took: cold, a reused or restored
    prefix, chunked prefill, alone or batched. It keeps KV values in bf16 (same memory
    as f16) and flash attention on; ``kv_unified=True`` or ``flash_attention="off"``
    turn the default off, and ``deterministic=True`` refuses them.
    """

    n_ctx: int | None = None
    n_batch: int | None = None
    n_ubatch: int | None = None
    n_parallel: int | None = None
    n_threads: int | None = None
    n_threads_batch: int | None = None
    flash_attention: FlashAttention | None = None
    offload_kqv: bool | None = None
    kv_unified: bool | None = None
    deterministic: bool | None = None
    embeddings: bool | None = None
    pooling: PoolingType | None = None


@dataclass
class MirostatConfig:
    """Mirostat sampling (version 1 or 2)."""

    version: int
    tau: float = 5.0
    eta: float = 0.1


@dataclass
class LogitBias:
    """Additive bias on one token's logit (``-inf`` bans the token)."""

    _infinite_fields = ("bias",)

    token: int
    bias: float


@dataclass
class SamplingRuntimeConfig:
    """Default sampling of a local endpoint; also usable as per-request overrides."""

    samplers: list[SamplerStage] | None = None
    seed: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    repeat_last_n: int | None = None
    mirostat: MirostatConfig | None = None
    logit_bias: list[LogitBias] | None = None


@dataclass
class SchedulerRuntimeConfig:
    """Request scheduling, batching and queue limits. ``policy="decode_first"`` keeps a
    running stream's inter-token latency within about twice its quiet value while a long
    prompt arrives (that prompt's prefill is slower while others decode)."""

    continuous_batching: bool = True
    policy: SchedulerPolicy = "fcfs"
    prefill_chunk_size: int = 0
    max_running_requests: int | None = None
    max_queued_requests: int | None = None


@dataclass
class CacheRuntimeConfig:
    """Prefix KV reuse and snapshots. ``"snapshot"`` (default): live slot reuse, plus
    host-RAM copies of slot states other prompts displace (``max_snapshot_entries``,
    default 64; ``max_snapshot_bytes``, default an eighth of available memory, 256 MiB to
    8 GiB), restored when their prefix comes back;
    ``snapshot_dir`` also keeps them on disk, so they survive a restart (files for another
    model, context shape or with damaged bytes are skipped, never loaded)."""

    mode: KvReuseMode = "snapshot"
    retained_prefix_tokens: int | None = None
    snapshot_interval_tokens: int | None = None
    max_snapshot_entries: int | None = None
    max_snapshot_bytes: int | None = None
    snapshot_dir: str | None = None


@dataclass
class MultimodalRuntimeConfig:
    """Vision projector settings (not supported yet: setting any field raises)."""

    projector_path: str | None = None
    use_gpu: bool | None = None
    image_min_tokens: int | None = None
    image_max_tokens: int | None = None


@dataclass
class ResidencyRuntimeConfig:
    """GPU residency, checked when a model loads, across the process: at most
    ``max_gpu_models_per_device`` models on one GPU; ``allow_cpu_models_while_gpu_loaded=False``
    keeps CPU and GPU models apart; ``require_gpu_lease=True`` refuses a load that would run
    on the CPU (``BackendUnavailableError``). Refusals for capacity raise ``OverloadedError``."""

    max_gpu_models_per_device: int | None = None
    allow_cpu_models_while_gpu_loaded: bool | None = None
    require_gpu_lease: bool | None = None


@dataclass
class ObservabilityRuntimeConfig:
    """Runtime metrics (``local_stats``) and llama.cpp profiling."""

    runtime_metrics: bool = True
    backend_profiling: bool = False


@dataclass
class NativeRuntimeConfig:
    """Every load-time setting of a local endpoint, grouped by responsibility."""

    placement: PlacementRuntimeConfig = field(default_factory=PlacementRuntimeConfig)
    context: ContextRuntimeConfig = field(default_factory=ContextRuntimeConfig)
    sampling: SamplingRuntimeConfig = field(default_factory=SamplingRuntimeConfig)
    scheduler: SchedulerRuntimeConfig = field(default_factory=SchedulerRuntimeConfig)
    cache: CacheRuntimeConfig = field(default_factory=CacheRuntimeConfig)
    multimodal: MultimodalRuntimeConfig = field(default_factory=MultimodalRuntimeConfig)
    residency: ResidencyRuntimeConfig = field(default_factory=ResidencyRuntimeConfig)
    observability: ObservabilityRuntimeConfig = field(default_factory=ObservabilityRuntimeConfig)
