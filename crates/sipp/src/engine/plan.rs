//! Turns a `NativeRuntimeConfig` into the concrete numbers the engine runs with, and
//! refuses fields whose behaviour is not built yet instead of silently ignoring them.

use super::memory::{available_host_memory, ContextCost, ModelShape};
use crate::error::{Result, SippError};
use crate::types::options::{check_temperature, check_top_p};
use crate::types::Backend;
use crate::types::{
    FlashAttention, KvReuseMode, LogitBias, NativeRuntimeConfig, PoolingType, SamplingRuntimeConfig, SchedulerPolicy,
};

fn cores() -> usize {
    std::thread::available_parallelism().map_or(4, std::num::NonZero::get)
}

/// Defaults chosen for small CPU hosts; every one can be overridden in the config.
/// The window of one request when `context.n_ctx` is unset (capped by the model's
/// trained context).
const DEFAULT_N_CTX: u32 = 4096;
const DEFAULT_N_BATCH: u32 = 512;
const DEFAULT_SEQUENCES: u32 = 8;
/// With per-request KV windows and no explicit `max_running_requests`, the number of
/// windows is chosen so their KV stays within this budget (at least one window).
const DEFAULT_KV_BUDGET: u64 = 1 << 30;
/// `cache.mode = snapshot` limits when unset: a 677-token prefix of the default model is
/// ~15 MiB. Bytes: an eighth of the memory available at load, between 256 MiB and
/// llama-server's 8 GiB `--cache-ram` default (1 GiB when the figure is unknown).
const DEFAULT_SNAPSHOT_ENTRIES: u32 = 64;
const SNAPSHOT_BYTES_UNKNOWN: u64 = 1 << 30;
const SNAPSHOT_BYTES_RANGE: (u64, u64) = (256 << 20, 8 << 30);

fn default_snapshot_bytes(available: Option<u64>) -> u64 {
    available.map_or(SNAPSHOT_BYTES_UNKNOWN, |a| (a / 8).clamp(SNAPSHOT_BYTES_RANGE.0, SNAPSHOT_BYTES_RANGE.1))
}
/// ggml's own ceiling on threads (`GGML_MAX_N_THREADS`).
const MAX_THREADS: i32 = 512;

/// Concrete engine settings after validation and defaulting.
#[derive(Debug, Clone)]
pub(crate) struct EnginePlan {
    /// Most tokens (prompt + generated) one request may hold: `context.n_ctx`.
    pub n_ctx_seq: u32,
    /// KV cells llama.cpp allocates: one window per sequence, or one shared pool.
    pub kv_cells: u32,
    pub kv_bytes: u64,
    pub kv_unified: bool,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_seq_max: u32,
    pub n_threads: i32,
    pub n_threads_batch: i32,
    pub flash_attention: Option<FlashAttention>,
    /// `context.deterministic`, resolved: one computation shape per sequence (f16 keys,
    /// bf16 values, flash attention on), so no cache or batch path changes an answer.
    pub deterministic: bool,
    pub offload_kqv: bool,
    pub embeddings: bool,
    pub pooling: PoolingType,
    pub prefill_chunk: u32,
    pub policy: SchedulerPolicy,
    pub reuse: KvReuseMode,
    pub retained_prefix_tokens: Option<u32>,
    /// `snapshot` mode: most entries and bytes of host-RAM snapshots.
    pub snapshots: Option<(usize, u64)>,
    pub snapshot_dir: Option<std::path::PathBuf>,
    /// `cache.snapshot_interval_tokens`: also snapshot running sequences at the end of
    /// their prompt and every this many cells.
    pub snapshot_interval: Option<usize>,
    pub runtime_metrics: bool,
    pub backend_profiling: bool,
    pub sampling: SamplingRuntimeConfig,
}

fn unsupported_if<T>(value: &Option<T>, field: &str, detail: &str) -> Result<()> {
    match value {
        Some(_) => Err(SippError::not_supported(field, detail)),
        None => Ok(()),
    }
}

/// Checks that need no model: unbuilt features and contradictory values. Returns the
/// number of requests that run at once.
pub(crate) fn validate(config: &NativeRuntimeConfig) -> Result<u32> {
    let mm = &config.multimodal;
    let mm_detail = "vision projectors arrive with the multimodal issue";
    unsupported_if(&mm.projector_path, "multimodal.projector_path", mm_detail)?;
    unsupported_if(&mm.use_gpu, "multimodal.use_gpu", mm_detail)?;
    unsupported_if(&mm.image_min_tokens, "multimodal.image_min_tokens", mm_detail)?;
    unsupported_if(&mm.image_max_tokens, "multimodal.image_max_tokens", mm_detail)?;

    if config.residency.max_gpu_models_per_device == Some(0) {
        return Err(SippError::InvalidConfig("residency.max_gpu_models_per_device must be at least 1".into()));
    }

    let cache = &config.cache;
    if let Some(every) = cache.snapshot_interval_tokens {
        let min = crate::kv_cache::MIN_SNAPSHOT_TOKENS;
        if (every as usize) < min {
            return Err(SippError::InvalidConfig(format!(
                "cache.snapshot_interval_tokens = {every}: at least {min} (shorter prefixes are cheaper to prefill again)"
            )));
        }
    }
    if cache.mode != KvReuseMode::Snapshot {
        for (name, set) in [
            ("snapshot_interval_tokens", cache.snapshot_interval_tokens.is_some()),
            ("max_snapshot_entries", cache.max_snapshot_entries.is_some()),
            ("max_snapshot_bytes", cache.max_snapshot_bytes.is_some()),
            ("snapshot_dir", cache.snapshot_dir.is_some()),
        ] {
            if set {
                return Err(SippError::InvalidConfig(format!("cache.{name} needs cache.mode = snapshot")));
            }
        }
    }
    if cache.mode == KvReuseMode::None && cache.retained_prefix_tokens.is_some() {
        return Err(SippError::InvalidConfig(
            "cache.retained_prefix_tokens needs cache.mode = live_slot_prefix".into(),
        ));
    }

    let placement = &config.placement;
    unsupported_if(&placement.tensor_split, "placement.tensor_split", "llama-cpp-2 does not expose tensor splits yet")?;
    if placement.fit_params == Some(true) {
        return Err(SippError::not_supported("placement.fit_params", "automatic GPU memory fitting is not built yet"));
    }

    let ctx = &config.context;
    for (name, value) in [("n_ctx", ctx.n_ctx), ("n_batch", ctx.n_batch), ("n_ubatch", ctx.n_ubatch)] {
        if value == Some(0) {
            return Err(SippError::InvalidConfig(format!("context.{name} must be greater than 0")));
        }
    }
    if let (Some(ub), Some(b)) = (ctx.n_ubatch, ctx.n_batch) {
        if ub > b {
            return Err(SippError::InvalidConfig(format!(
                "context.n_ubatch ({ub}) must not exceed context.n_batch ({b})"
            )));
        }
    }
    for (name, value) in [("n_threads", ctx.n_threads), ("n_threads_batch", ctx.n_threads_batch)] {
        match value {
            Some(v) if v <= 0 => {
                return Err(SippError::InvalidConfig(format!("context.{name} must be greater than 0")))
            }
            // Past ggml's ceiling a thread pool of that size is spawned per graph and the
            // process crawls; refuse rather than clamp so the typo is seen.
            Some(v) if v > MAX_THREADS => {
                return Err(SippError::InvalidConfig(format!(
                    "context.{name} = {v} is more than ggml supports ({MAX_THREADS}); this host has {} \
                     logical cores",
                    cores()
                )))
            }
            _ => {}
        }
    }
    if ctx.pooling.is_some() && ctx.embeddings != Some(true) {
        return Err(SippError::InvalidConfig("context.pooling only applies with context.embeddings = true".into()));
    }
    if ctx.pooling == Some(PoolingType::None) {
        return Err(SippError::not_supported(
            "context.pooling = none",
            "embed returns one vector per input; per-token vectors have no response shape yet. \
             Use mean, cls or last",
        ));
    }
    // Model-free half of the check (`sipp-gateway check` runs this): the backend is
    // known only at load.
    if ctx.deterministic == Some(true) && ctx.embeddings != Some(true) {
        if let Some(why) = deterministic_obstacle(config, false, ctx.kv_unified == Some(true)) {
            return Err(SippError::InvalidConfig(format!("context.deterministic = true: {why}")));
        }
    }
    validate_sampling(&config.sampling)?;
    sequences(config)
}

/// `context.deterministic`: `None` is on wherever it can hold, an explicit `true` refuses
/// what rules it out. Embedding endpoints have no cache or decode path to be invariant
/// across (each input is computed whole), so the switch is about text generation.
fn deterministic(
    config: &NativeRuntimeConfig,
    gpu: bool,
    kv_unified: bool,
    embeddings: bool,
    mla: bool,
) -> Result<bool> {
    let wanted = config.context.deterministic;
    if wanted == Some(false) || embeddings {
        return Ok(false);
    }
    let obstacle = if mla {
        Some("this model's latent attention (MLA) keeps keys and values in one cache type, which takes the batch-dependent kernels")
    } else {
        deterministic_obstacle(config, gpu, kv_unified)
    };
    match (obstacle, wanted) {
        (None, _) => Ok(true),
        (Some(_), None) => Ok(false),
        (Some(why), Some(_)) => Err(SippError::InvalidConfig(format!("context.deterministic = true: {why}"))),
    }
}

/// What rules `context.deterministic` out, if anything.
fn deterministic_obstacle(config: &NativeRuntimeConfig, gpu: bool, kv_unified: bool) -> Option<&'static str> {
    let ctx = &config.context;
    if gpu {
        Some("GPU backends choose attention and matmul kernels by batch size; it is offered on the cpu backend")
    } else if ctx.flash_attention == Some(FlashAttention::Off) {
        Some("it needs flash attention (the per-query-row kernel); unset context.flash_attention or set it to on")
    } else if kv_unified {
        Some(
            "a shared KV pool (context.kv_unified = true) interleaves requests' cells, so a request's attention \
             sums in an order other requests decide",
        )
    } else {
        None
    }
}

/// `context.n_parallel` and `scheduler.max_running_requests` name one knob.
fn sequences(config: &NativeRuntimeConfig) -> Result<u32> {
    let sched = &config.scheduler;
    let n = match (config.context.n_parallel, sched.max_running_requests) {
        (Some(a), Some(b)) if a != b => {
            return Err(SippError::InvalidConfig(format!(
                "context.n_parallel ({a}) and scheduler.max_running_requests ({b}) disagree; set one"
            )))
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) if !sched.continuous_batching => 1,
        (None, None) => DEFAULT_SEQUENCES,
    };
    if n == 0 {
        return Err(SippError::InvalidConfig("max_running_requests must be at least 1".into()));
    }
    if !sched.continuous_batching && n > 1 {
        return Err(SippError::InvalidConfig(format!(
            "scheduler.continuous_batching = false runs one request at a time, \
             but {n} running requests were asked for"
        )));
    }
    Ok(n)
}

pub(crate) fn validate_sampling(s: &SamplingRuntimeConfig) -> Result<()> {
    check_temperature(s.temperature)?;
    check_top_p(s.top_p)?;
    if matches!(s.min_p, Some(p) if !(0.0..=1.0).contains(&p)) {
        return Err(SippError::InvalidConfig("sampling.min_p must be within [0, 1]".into()));
    }
    if matches!(s.repeat_penalty, Some(p) if p <= 0.0 || !p.is_finite()) {
        return Err(SippError::InvalidConfig("sampling.repeat_penalty must be > 0".into()));
    }
    if let Some(m) = s.mirostat {
        if m.version != 1 && m.version != 2 {
            return Err(SippError::InvalidConfig(format!(
                "sampling.mirostat.version must be 1 or 2, got {}",
                m.version
            )));
        }
    }
    Ok(())
}

/// Token ids must name tokens of this model: llama.cpp skips unknown ids silently, which
/// would turn a typo into a bias that does nothing.
pub(crate) fn check_logit_bias(biases: Option<&[LogitBias]>, n_vocab: u32) -> std::result::Result<(), String> {
    for b in biases.unwrap_or_default() {
        if u32::try_from(b.token).map_or(true, |t| t >= n_vocab) {
            return Err(format!(
                "logit_bias token {} is not in the model's vocabulary (ids 0..{})",
                b.token,
                n_vocab.saturating_sub(1)
            ));
        }
        if b.bias.is_nan() {
            return Err(format!("logit_bias for token {} is NaN", b.token));
        }
    }
    Ok(())
}

impl EnginePlan {
    /// Fill in defaults once the model's trained context length is known.
    pub(crate) fn new(config: &NativeRuntimeConfig, backend: Backend, shape: &ModelShape) -> Result<Self> {
        let explicit_sequences = config.context.n_parallel.or(config.scheduler.max_running_requests).is_some()
            || !config.scheduler.continuous_batching;
        let n_seq_max = validate(config)?;
        check_logit_bias(config.sampling.logit_bias.as_deref(), shape.n_vocab)
            .map_err(|e| SippError::InvalidConfig(format!("sampling.{e}")))?;
        let ctx = &config.context;
        let gpu = backend != Backend::Cpu;
        if !gpu {
            let p = &config.placement;
            if p.gpu_layers.unwrap_or(0) > 0 || p.devices.is_some() || p.main_gpu.is_some() || p.split_mode.is_some() {
                return Err(SippError::InvalidConfig(
                    "placement GPU fields (gpu_layers, devices, main_gpu, split_mode) need a GPU backend; \
                     the endpoint runs on cpu"
                        .into(),
                ));
            }
        }
        let train = if shape.n_ctx_train == 0 { DEFAULT_N_CTX } else { shape.n_ctx_train };
        let embeddings = ctx.embeddings.unwrap_or(false);
        // Embedding inputs are packed several to a ubatch; one pool serves them.
        let kv_unified = embeddings || ctx.kv_unified.unwrap_or(false);
        let n_ctx_seq = ctx.n_ctx.unwrap_or(DEFAULT_N_CTX.min(train));
        if n_ctx_seq > train {
            tracing::warn!(n_ctx = n_ctx_seq, n_ctx_train = train, "context.n_ctx exceeds the model's trained context");
        }
        let deterministic = deterministic(config, gpu, kv_unified, embeddings, shape.mla)?;
        let cell_bytes = shape.kv_bytes_per_cell();
        // Per-request windows: as many as the KV budget holds, unless the config says.
        let n_seq_max = if kv_unified || explicit_sequences || cell_bytes == 0 {
            n_seq_max
        } else {
            let per_window = u64::from(n_ctx_seq) * cell_bytes;
            u32::try_from(DEFAULT_KV_BUDGET / per_window.max(1)).unwrap_or(u32::MAX).clamp(1, DEFAULT_SEQUENCES)
        };
        let kv_cells = if kv_unified { u64::from(n_ctx_seq) } else { u64::from(n_ctx_seq) * u64::from(n_seq_max) };
        let kv_cells = u32::try_from(kv_cells).map_err(|_| {
            SippError::InvalidConfig(format!(
                "context.n_ctx = {n_ctx_seq} for each of {n_seq_max} requests is {kv_cells} KV cells, more than \
                 llama.cpp addresses; lower context.n_ctx or scheduler.max_running_requests"
            ))
        })?;
        // Pooled embeddings need each input whole in one micro-batch.
        let default_batch = if embeddings { n_ctx_seq } else { DEFAULT_N_BATCH.min(n_ctx_seq) };
        let n_batch = ctx.n_batch.unwrap_or(default_batch);
        let n_ubatch = ctx.n_ubatch.unwrap_or(n_batch);
        let cost = ContextCost::estimate(shape, u64::from(kv_cells), u64::from(n_ctx_seq), u64::from(n_ubatch));
        // Offloaded KV lives on the GPU, whose memory llama.cpp checks itself.
        let offload_kqv = gpu && ctx.offload_kqv.unwrap_or(true);
        if !offload_kqv {
            let settings = if kv_unified {
                "context.n_ctx".to_string()
            } else {
                format!("context.n_ctx or scheduler.max_running_requests ({n_seq_max} × {n_ctx_seq}-cell windows)")
            };
            cost.check_fits(available_host_memory(), &settings)?;
        }
        let n_threads = ctx.n_threads.unwrap_or(i32::try_from(cores()).unwrap_or(4));
        Ok(Self {
            n_ctx_seq,
            kv_cells,
            kv_bytes: cost.kv_bytes,
            kv_unified,
            n_batch,
            n_ubatch,
            n_seq_max,
            n_threads,
            n_threads_batch: ctx.n_threads_batch.unwrap_or(n_threads),
            flash_attention: ctx.flash_attention,
            deterministic,
            offload_kqv,
            embeddings,
            pooling: ctx.pooling.unwrap_or(PoolingType::Mean),
            prefill_chunk: config.scheduler.prefill_chunk_size,
            policy: config.scheduler.policy,
            reuse: config.cache.mode,
            retained_prefix_tokens: config.cache.retained_prefix_tokens,
            snapshots: (config.cache.mode == KvReuseMode::Snapshot).then(|| {
                let entries = config.cache.max_snapshot_entries.unwrap_or(DEFAULT_SNAPSHOT_ENTRIES);
                let bytes =
                    config.cache.max_snapshot_bytes.unwrap_or_else(|| default_snapshot_bytes(available_host_memory()));
                (entries as usize, bytes)
            }),
            snapshot_dir: config.cache.snapshot_dir.clone(),
            snapshot_interval: config.cache.snapshot_interval_tokens.map(|n| n as usize),
            runtime_metrics: config.observability.runtime_metrics,
            backend_profiling: config.observability.backend_profiling,
            sampling: config.sampling.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::memory::SMOLLM2;
    use crate::types::*;

    fn plan(config: &NativeRuntimeConfig) -> Result<EnginePlan> {
        EnginePlan::new(config, Backend::Cpu, &SMOLLM2)
    }

    #[test]
    fn defaults_are_concrete() {
        let p = plan(&NativeRuntimeConfig::default()).unwrap();
        assert_eq!((p.n_ctx_seq, p.n_batch, p.n_seq_max, p.kv_unified), (4096, 512, 8, false));
        assert_eq!((p.kv_cells, p.kv_bytes), (8 * 4096, 8 * 4096 * 23_040));
        assert!(p.runtime_metrics);
        assert_eq!(p.reuse, KvReuseMode::Snapshot);
        assert!(p.deterministic, "deterministic on the cpu by default");
        let (entries, bytes) = p.snapshots.unwrap();
        assert!(entries == 64 && (256 << 20..=8 << 30).contains(&bytes), "{entries} {bytes}");
    }

    /// `n_ctx` is what one request may use, however many run at once.
    #[test]
    fn n_ctx_is_the_window_of_every_request() {
        let mut c = NativeRuntimeConfig::default();
        c.context.n_ctx = Some(2048);
        let p = plan(&c).unwrap();
        assert_eq!((p.n_ctx_seq, p.n_seq_max, p.kv_cells), (2048, 8, 8 * 2048));
        c.context.kv_unified = Some(true);
        let p = plan(&c).unwrap();
        assert_eq!((p.n_ctx_seq, p.n_seq_max, p.kv_cells), (2048, 8, 2048));
        c.context.kv_unified = None;
        c.scheduler.max_running_requests = Some(3);
        assert_eq!(plan(&c).unwrap().kv_cells, 3 * 2048);
    }

    /// A big model's default windows stay within the KV budget by running fewer at once.
    #[test]
    fn default_concurrency_fits_the_kv_budget() {
        // Llama-3-8B: 32 layers, 8 KV heads of 128 → 128 KiB per cell.
        let big = ModelShape { n_layer: 32, n_head: 32, n_head_kv: 8, head_dim_k: 128, head_dim_v: 128, ..SMOLLM2 };
        let p = EnginePlan::new(&NativeRuntimeConfig::default(), Backend::Cpu, &big).unwrap();
        assert_eq!((p.n_ctx_seq, p.n_seq_max), (4096, 2));
        assert!(p.kv_bytes <= DEFAULT_KV_BUDGET);
        let mut c = NativeRuntimeConfig::default();
        c.scheduler.max_running_requests = Some(8);
        assert_eq!(EnginePlan::new(&c, Backend::Cpu, &big).unwrap().n_seq_max, 8, "an explicit count is kept");
    }

    #[test]
    fn absurd_sizes_are_refused_before_allocating() {
        let mut c = NativeRuntimeConfig::default();
        c.context.n_ctx = Some(1 << 31);
        let e = plan(&c).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert!(e.to_string().contains("context.n_ctx"), "{e}");
        c.context.kv_unified = Some(true);
        let e = plan(&c).unwrap_err();
        assert!(e.to_string().contains("TiB") && e.to_string().contains("context.n_ctx"), "{e}");
    }

    #[test]
    fn logit_bias_outside_the_vocabulary_is_refused() {
        let mut c = NativeRuntimeConfig::default();
        for token in [1_000_000_000, -1, 49_152] {
            c.sampling.logit_bias = Some(vec![LogitBias { token, bias: 5.0 }]);
            let e = plan(&c).unwrap_err();
            assert_eq!(e.code(), "invalid_config");
            assert!(e.to_string().contains(&format!("token {token} is not in")), "{e}");
        }
        c.sampling.logit_bias = Some(vec![LogitBias { token: 49_151, bias: f32::NEG_INFINITY }]);
        assert!(plan(&c).is_ok());
        c.sampling.logit_bias = Some(vec![LogitBias { token: 3, bias: f32::NAN }]);
        assert!(plan(&c).is_err());
    }

    #[test]
    fn absurd_thread_counts_are_refused() {
        let mut c = NativeRuntimeConfig::default();
        c.context.n_threads = Some(10_000);
        let e = validate(&c).unwrap_err();
        assert!(e.to_string().contains("context.n_threads = 10000") && e.to_string().contains("512"), "{e}");
        c.context.n_threads = Some(4);
        c.context.n_threads_batch = Some(100_000);
        assert!(validate(&c).unwrap_err().to_string().contains("n_threads_batch"));
    }

    #[test]
    fn unbuilt_fields_are_refused_not_ignored() {
        let mut c = NativeRuntimeConfig::default();
        c.multimodal.projector_path = Some("mmproj.gguf".into());
        let e = validate(&c).unwrap_err();
        assert_eq!(e.code(), "not_supported");
        assert!(e.to_string().contains("multimodal.projector_path"), "{e}");

        // Periodic snapshots belong to snapshot mode (the default), at a useful interval.
        let mut c = NativeRuntimeConfig::default();
        c.cache.snapshot_interval_tokens = Some(256);
        assert_eq!(plan(&c).unwrap().snapshot_interval, Some(256));
        c.cache.mode = KvReuseMode::LiveSlotPrefix;
        assert!(validate(&c).unwrap_err().to_string().contains("cache.mode = snapshot"));
        c.cache.mode = KvReuseMode::Snapshot;
        c.cache.snapshot_interval_tokens = Some(8);
        assert_eq!(validate(&c).unwrap_err().code(), "invalid_config");
        // Snapshot limits belong to snapshot mode.
        let mut c = NativeRuntimeConfig::default();
        c.cache.max_snapshot_bytes = Some(1 << 20);
        assert_eq!(plan(&c).unwrap().snapshots, Some((64, 1 << 20)));
        c.cache.mode = KvReuseMode::LiveSlotPrefix;
        let e = validate(&c).unwrap_err();
        assert!(e.code() == "invalid_config" && e.to_string().contains("cache.mode = snapshot"), "{e}");
        c.cache.max_snapshot_bytes = None;
        assert_eq!(plan(&c).unwrap().snapshots, None);
        // An eighth of what is free, within [256 MiB, 8 GiB].
        assert_eq!(default_snapshot_bytes(Some(24 << 30)), 3 << 30);
        assert_eq!(default_snapshot_bytes(Some(1 << 30)), 256 << 20);
        assert_eq!(default_snapshot_bytes(Some(512 << 30)), 8 << 30);
        assert_eq!(default_snapshot_bytes(None), 1 << 30);

        let mut c = NativeRuntimeConfig::default();
        c.residency.max_gpu_models_per_device = Some(0);
        assert_eq!(validate(&c).unwrap_err().code(), "invalid_config");
    }

    #[test]
    fn deterministic_is_the_cpu_default_and_refuses_what_breaks_it() {
        assert!(plan(&NativeRuntimeConfig::default()).unwrap().deterministic);
        let mut c = NativeRuntimeConfig::default();
        c.context.deterministic = Some(false);
        assert!(!plan(&c).unwrap().deterministic);
        // What rules it out turns the default off, and an explicit `true` into an error.
        for (unified, fa) in [(Some(true), None), (None, Some(FlashAttention::Off))] {
            let mut c = NativeRuntimeConfig::default();
            (c.context.kv_unified, c.context.flash_attention) = (unified, fa);
            assert!(!plan(&c).unwrap().deterministic);
            c.context.deterministic = Some(true);
            assert_eq!(validate(&c).unwrap_err().code(), "invalid_config", "`sipp-gateway check` sees it too");
            let e = plan(&c).unwrap_err();
            assert!(e.code() == "invalid_config" && e.to_string().contains("context.deterministic = true"), "{e}");
        }
        let mut c = NativeRuntimeConfig::default();
        c.context.deterministic = Some(true);
        let gpu = EnginePlan::new(&c, Backend::Cuda, &SMOLLM2).unwrap_err();
        assert!(gpu.to_string().contains("GPU backends"), "{gpu}");
        c.context.deterministic = None;
        assert!(!EnginePlan::new(&c, Backend::Cuda, &SMOLLM2).unwrap().deterministic);
        let mla = ModelShape { mla: true, ..SMOLLM2 };
        assert!(!EnginePlan::new(&NativeRuntimeConfig::default(), Backend::Cpu, &mla).unwrap().deterministic);
        assert!(EnginePlan::new(&c, Backend::Cpu, &mla).is_ok());
        // Embedding endpoints compute each input whole: nothing to hold invariant.
        let mut c = NativeRuntimeConfig::default();
        c.context.embeddings = Some(true);
        assert!(!plan(&c).unwrap().deterministic);
    }

    #[test]
    fn parallel_knobs_must_agree() {
        let mut c = NativeRuntimeConfig::default();
        c.context.n_parallel = Some(4);
        c.scheduler.max_running_requests = Some(6);
        assert_eq!(validate(&c).unwrap_err().code(), "invalid_config");
        c.scheduler.max_running_requests = Some(4);
        assert_eq!(plan(&c).unwrap().n_seq_max, 4);
    }

    #[test]
    fn serial_scheduling_means_one_sequence() {
        let mut c = NativeRuntimeConfig::default();
        c.scheduler.continuous_batching = false;
        assert_eq!(plan(&c).unwrap().n_seq_max, 1);
        c.scheduler.max_running_requests = Some(2);
        assert!(validate(&c).is_err());
    }

    #[test]
    fn cpu_refuses_gpu_placement() {
        let mut c = NativeRuntimeConfig::default();
        c.placement.gpu_layers = Some(10);
        assert_eq!(plan(&c).unwrap_err().code(), "invalid_config");
    }

    #[test]
    fn per_token_pooling_is_refused_at_add() {
        let mut c = NativeRuntimeConfig::default();
        c.context.embeddings = Some(true);
        c.context.pooling = Some(PoolingType::None);
        let e = validate(&c).unwrap_err();
        assert_eq!(e.code(), "not_supported");
        assert!(e.to_string().contains("context.pooling = none"), "{e}");
    }

    #[test]
    fn embeddings_get_whole_input_batches() {
        let mut c = NativeRuntimeConfig::default();
        c.context.embeddings = Some(true);
        c.context.n_ctx = Some(1024);
        let p = plan(&c).unwrap();
        assert_eq!((p.n_batch, p.n_ubatch), (1024, 1024));
    }

    #[test]
    fn config_round_trips_through_toml_shapes() {
        let json = r#"{"context":{"n_ctx":2048,"embeddings":true,"pooling":"mean"},
                       "scheduler":{"continuous_batching":true,"prefill_chunk_size":0},
                       "cache":{"mode":"live_slot_prefix"},
                       "observability":{"runtime_metrics":true}}"#;
        let c: NativeRuntimeConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.context.pooling, Some(PoolingType::Mean));
        let bad = r#"{"context":{"n_ctxx":2048}}"#;
        assert!(serde_json::from_str::<NativeRuntimeConfig>(bad).is_err());
    }
}
