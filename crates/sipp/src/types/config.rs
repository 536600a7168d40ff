//! `NativeRuntimeConfig`: the load-time settings of a local endpoint, grouped as in the
//! spec's "Native Runtime Config" table. The same serde shapes back the gateway TOML
//! `runtime` table and the Python descriptors, so unknown keys are rejected rather than
//! silently dropped. Validation lives in `engine/plan.rs` (`validate`), which turns a config
//! into the engine's load plan; the JSON Schema of these types is `schema/sipp.schema.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Every load-time setting of a local endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NativeRuntimeConfig {
    pub placement: PlacementRuntimeConfig,
    pub context: ContextRuntimeConfig,
    pub sampling: SamplingRuntimeConfig,
    pub scheduler: SchedulerRuntimeConfig,
    pub cache: CacheRuntimeConfig,
    pub multimodal: MultimodalRuntimeConfig,
    pub residency: ResidencyRuntimeConfig,
    pub observability: ObservabilityRuntimeConfig,
}

/// Model placement and memory mapping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PlacementRuntimeConfig {
    /// ggml device indices to place the model on.
    pub devices: Option<Vec<usize>>,
    /// Layers to offload to the GPU (`None`: all layers when a GPU backend is chosen).
    pub gpu_layers: Option<u32>,
    pub split_mode: Option<SplitMode>,
    pub main_gpu: Option<i32>,
    pub tensor_split: Option<Vec<f32>>,
    pub use_mmap: Option<bool>,
    pub use_mlock: Option<bool>,
    pub fit_params: Option<bool>,
    /// Sipp extension: load Q4_0/Q4_1/Q5_0/Q5_1 weights re-encoded in this format (made
    /// once into `transcode_dir`). Q8_0 has batched CPU kernels those formats lack:
    /// faster prompts and batched decode, up to ~1.7x the file size, near-lossless (greedy text
    /// can differ from the original file's). Other formats load as they are.
    pub transcode_weights: Option<WeightFormat>,
    /// Where transcoded files are kept (default `$XDG_CACHE_HOME/sipp/weights`, else
    /// `~/.cache/sipp/weights`).
    pub transcode_dir: Option<PathBuf>,
}

/// A weight format `placement.transcode_weights` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WeightFormat {
    #[serde(rename = "q8_0")]
    Q8_0,
}

/// How a model is split across several GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SplitMode {
    None,
    Layer,
    Row,
}

/// Context window, batch sizes, threads, attention and KV behaviour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ContextRuntimeConfig {
    /// Most tokens (prompt + generated) one request may hold, however many run at once.
    /// Default: 4096, or the model's trained context if smaller.
    pub n_ctx: Option<u32>,
    /// Most tokens one `decode` call carries.
    pub n_batch: Option<u32>,
    pub n_ubatch: Option<u32>,
    /// Sequences held by the context; the same knob as `scheduler.max_running_requests`.
    pub n_parallel: Option<u32>,
    pub n_threads: Option<i32>,
    pub n_threads_batch: Option<i32>,
    pub flash_attention: Option<FlashAttention>,
    pub offload_kqv: Option<bool>,
    /// One pool of `n_ctx` KV cells shared by running requests (`true`), or a window of
    /// `n_ctx` cells for each of them (`false`, default). Per-request windows keep each
    /// request's arithmetic independent of what it is batched with, so greedy output is
    /// the same alone or batched, at `n_parallel` times the KV memory; in a shared pool a
    /// request reserves prompt + `max_tokens` cells and waits until they are free.
    pub kv_unified: Option<bool>,
    /// The same greedy (or seeded) output whatever path a prompt took: cold prefill,
    /// a reused or restored prefix, chunked prefill, any batch mates, any slot. Each
    /// sequence gets one computation shape: llama.cpp's per-query-row flash attention
    /// (keys f16, values bf16 in the KV cache, which rules out its batch-size-dependent
    /// tiled and split-KV kernels) over its own KV window. `None` (default): on for text
    /// endpoints on the CPU backend, unless `flash_attention = off` or `kv_unified = true`
    /// (a shared pool interleaves requests' cells) rule it out; `true` refuses those.
    /// `false`: llama.cpp's fastest kernel for each shape, and answers may change with
    /// the cache and the batch on long prompts. GPU backends: not offered.
    pub deterministic: Option<bool>,
    /// Load the endpoint for `embed` instead of text generation.
    pub embeddings: Option<bool>,
    pub pooling: Option<PoolingType>,
}

/// Flash attention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttention {
    Auto,
    On,
    Off,
}

/// How token embeddings are pooled into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoolingType {
    None,
    Mean,
    Cls,
    Last,
    Rank,
}

impl PoolingType {
    /// Name used in responses and wire formats.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Mean => "mean",
            Self::Cls => "cls",
            Self::Last => "last",
            Self::Rank => "rank",
        }
    }
}

/// Default local sampling behaviour; request options override per call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingRuntimeConfig {
    /// Sampler order; `None` uses penalties, top_k, top_p, min_p, temperature.
    pub samplers: Option<Vec<SamplerStage>>,
    pub seed: Option<u32>,
    pub top_k: Option<i32>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub temperature: Option<f32>,
    pub repeat_penalty: Option<f32>,
    /// Repeat-penalty window in tokens (default 64).
    pub repeat_last_n: Option<i32>,
    pub mirostat: Option<MirostatConfig>,
    pub logit_bias: Option<Vec<LogitBias>>,
}

/// One stage of the sampler chain, in the order given by `samplers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SamplerStage {
    Penalties,
    TopK,
    TopP,
    MinP,
    Temperature,
}

/// Mirostat replaces top-k/top-p/min-p with a target-surprise controller.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MirostatConfig {
    /// 1 or 2.
    pub version: u8,
    #[serde(default = "MirostatConfig::default_tau")]
    pub tau: f32,
    #[serde(default = "MirostatConfig::default_eta")]
    pub eta: f32,
}

impl MirostatConfig {
    fn default_tau() -> f32 {
        5.0
    }
    fn default_eta() -> f32 {
        0.1
    }
}

/// An additive bias on one token's logit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogitBias {
    pub token: i32,
    pub bias: f32,
}

/// Request scheduling, batching and queue limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerRuntimeConfig {
    /// Run many requests in shared decode batches; `false` runs one at a time.
    pub continuous_batching: bool,
    pub policy: SchedulerPolicy,
    /// Most prompt tokens one sequence prefills per step; 0 means up to `n_batch`.
    pub prefill_chunk_size: u32,
    /// Sequences decoded together; the same knob as `context.n_parallel`.
    pub max_running_requests: Option<u32>,
    /// Requests that may wait for a slot before new ones are refused as overloaded.
    pub max_queued_requests: Option<u32>,
}

impl Default for SchedulerRuntimeConfig {
    fn default() -> Self {
        Self {
            continuous_batching: true,
            policy: SchedulerPolicy::Fcfs,
            prefill_chunk_size: 0,
            max_running_requests: None,
            max_queued_requests: None,
        }
    }
}

/// Order in which waiting requests get a slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerPolicy {
    /// First come, first served: each step fills its batch with running streams' next
    /// tokens, then waiting prompt tokens up to `n_batch` (or `prefill_chunk_size` each).
    #[default]
    Fcfs,
    /// Protect running streams' inter-token latency: while any stream decodes, prompt
    /// prefill gets only the tokens that keep a step within twice a decode-only step
    /// (measured as it runs); without running streams, prompts prefill at full speed.
    DecodeFirst,
}

/// Prefix KV reuse and snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CacheRuntimeConfig {
    pub mode: KvReuseMode,
    /// Most tokens an idle slot keeps for later prefix reuse (`None`: all).
    pub retained_prefix_tokens: Option<u32>,
    /// `snapshot` mode: also snapshot each running request when its prompt is prefilled
    /// and every this many tokens after (at least 32), so a later prompt sharing a long
    /// conversation's middle restores it even while the slot is still busy.
    pub snapshot_interval_tokens: Option<u32>,
    /// `snapshot` mode: most host-RAM snapshots kept (default 64).
    pub max_snapshot_entries: Option<u32>,
    /// `snapshot` mode: most bytes they may hold together (default: an eighth of the
    /// memory available when the endpoint loads, at most 8 GiB — llama-server's
    /// `--cache-ram` default — and at least 256 MiB).
    pub max_snapshot_bytes: Option<u64>,
    /// `snapshot` mode: also keep snapshots in this directory (one per endpoint), so
    /// they survive a restart; the same limits apply on disk.
    pub snapshot_dir: Option<std::path::PathBuf>,
}

/// Whether finished sequences leave their KV behind for the next request to reuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KvReuseMode {
    /// Every request prefills its whole prompt.
    None,
    /// Idle slots keep their KV; a new request takes the slot sharing its longest prefix.
    LiveSlotPrefix,
    /// `live_slot_prefix`, and a slot's state is copied to host RAM before another
    /// prompt displaces it; a later prompt with that prefix restores it into any slot.
    /// The default: a long system prompt stays warm after other traffic used every slot.
    #[default]
    Snapshot,
}

/// Vision projector and image-token settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MultimodalRuntimeConfig {
    pub projector_path: Option<PathBuf>,
    pub use_gpu: Option<bool>,
    pub image_min_tokens: Option<u32>,
    pub image_max_tokens: Option<u32>,
}

/// GPU model residency policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResidencyRuntimeConfig {
    pub max_gpu_models_per_device: Option<u32>,
    pub allow_cpu_models_while_gpu_loaded: Option<bool>,
    pub require_gpu_lease: Option<bool>,
}

/// Runtime metrics and backend diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ObservabilityRuntimeConfig {
    /// Attach `local_stats` (TTFT, throughput, queue time) to responses.
    pub runtime_metrics: bool,
    /// Collect llama.cpp's own perf counters and attach them to `local_stats`.
    pub backend_profiling: bool,
}

impl Default for ObservabilityRuntimeConfig {
    fn default() -> Self {
        Self { runtime_metrics: true, backend_profiling: false }
    }
}
