//! Turns a `NativeRuntimeConfig` into the concrete numbers the engine runs with, and
//! refuses fields whose behaviour is not built yet instead of silently ignoring them.

use super::backend::Backend;
use super::config::{
    FlashAttention, KvReuseMode, NativeRuntimeConfig, PoolingType, SamplingRuntimeConfig,
};
use crate::error::{Result, SippError};

/// Defaults chosen for small CPU hosts; every one can be overridden in the config.
/// A shared KV pool (and an embedding context) defaults to this many cells...
const DEFAULT_N_CTX: u32 = 4096;
/// ...per-sequence windows to this many cells each (llama-server's 8192 / 8 slots).
const DEFAULT_SEQ_CTX: u32 = 1024;
const DEFAULT_N_BATCH: u32 = 512;
const DEFAULT_SEQUENCES: u32 = 8;

/// Concrete engine settings after validation and defaulting.
#[derive(Debug, Clone)]
pub(crate) struct EnginePlan {
    /// Total KV cells of the context.
    pub n_ctx: u32,
    pub kv_unified: bool,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_seq_max: u32,
    pub n_threads: i32,
    pub n_threads_batch: i32,
    pub flash_attention: Option<FlashAttention>,
    pub offload_kqv: bool,
    pub embeddings: bool,
    pub pooling: PoolingType,
    pub prefill_chunk: u32,
    pub reuse: KvReuseMode,
    pub retained_prefix_tokens: Option<u32>,
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

/// Checks that need no model: unbuilt features and contradictory values.
pub(crate) fn validate(config: &NativeRuntimeConfig) -> Result<()> {
    let mm = &config.multimodal;
    let mm_detail = "vision projectors arrive with the multimodal issue";
    unsupported_if(&mm.projector_path, "multimodal.projector_path", mm_detail)?;
    unsupported_if(&mm.use_gpu, "multimodal.use_gpu", mm_detail)?;
    unsupported_if(&mm.image_min_tokens, "multimodal.image_min_tokens", mm_detail)?;
    unsupported_if(&mm.image_max_tokens, "multimodal.image_max_tokens", mm_detail)?;

    let res = &config.residency;
    let res_detail = "GPU residency leasing is not built yet";
    unsupported_if(&res.max_gpu_models_per_device, "residency.max_gpu_models_per_device", res_detail)?;
    unsupported_if(
        &res.allow_cpu_models_while_gpu_loaded,
        "residency.allow_cpu_models_while_gpu_loaded",
        res_detail,
    )?;
    unsupported_if(&res.require_gpu_lease, "residency.require_gpu_lease", res_detail)?;

    let cache = &config.cache;
    let snap_detail = "KV snapshots are not built yet; live_slot_prefix reuse is";
    unsupported_if(&cache.snapshot_interval_tokens, "cache.snapshot_interval_tokens", snap_detail)?;
    unsupported_if(&cache.max_snapshot_entries, "cache.max_snapshot_entries", snap_detail)?;
    unsupported_if(&cache.max_snapshot_bytes, "cache.max_snapshot_bytes", snap_detail)?;
    if cache.mode == KvReuseMode::None && cache.retained_prefix_tokens.is_some() {
        return Err(SippError::InvalidConfig(
            "cache.retained_prefix_tokens needs cache.mode = live_slot_prefix".into(),
        ));
    }

    let placement = &config.placement;
    unsupported_if(
        &placement.tensor_split,
        "placement.tensor_split",
        "llama-cpp-2 does not expose tensor splits yet",
    )?;
    if placement.fit_params == Some(true) {
        return Err(SippError::not_supported(
            "placement.fit_params",
            "automatic GPU memory fitting is not built yet",
        ));
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
        if matches!(value, Some(v) if v <= 0) {
            return Err(SippError::InvalidConfig(format!("context.{name} must be greater than 0")));
        }
    }
    if ctx.pooling.is_some() && ctx.embeddings != Some(true) {
        return Err(SippError::InvalidConfig(
            "context.pooling only applies with context.embeddings = true".into(),
        ));
    }
    sequences(config)?;
    validate_sampling(&config.sampling)
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

pub(crate) fn check_temperature(t: Option<f32>) -> Result<()> {
    if matches!(t, Some(t) if t < 0.0 || !t.is_finite()) {
        return Err(SippError::InvalidRequest("temperature must be a finite number >= 0".into()));
    }
    Ok(())
}

pub(crate) fn check_top_p(p: Option<f32>) -> Result<()> {
    if matches!(p, Some(p) if !(p > 0.0 && p <= 1.0)) {
        return Err(SippError::InvalidRequest("top_p must be within (0, 1]".into()));
    }
    Ok(())
}

impl EnginePlan {
    /// Fill in defaults once the model's trained context length is known.
    pub(crate) fn new(config: &NativeRuntimeConfig, backend: Backend, n_ctx_train: u32) -> Result<Self> {
        validate(config)?;
        let ctx = &config.context;
        let n_seq_max = sequences(config)?;
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
        let train = if n_ctx_train == 0 { DEFAULT_N_CTX } else { n_ctx_train };
        let embeddings = ctx.embeddings.unwrap_or(false);
        // Embedding inputs are packed several to a ubatch with pooling; they share a pool.
        let kv_unified = embeddings || ctx.kv_unified.unwrap_or(false);
        let n_ctx = ctx.n_ctx.unwrap_or_else(|| {
            if kv_unified {
                DEFAULT_N_CTX.min(train)
            } else {
                DEFAULT_SEQ_CTX.min(train) * n_seq_max
            }
        });
        if !kv_unified && n_ctx / n_seq_max < 16 {
            return Err(SippError::InvalidConfig(format!(
                "context.n_ctx = {n_ctx} leaves {} cells for each of {n_seq_max} sequences; \
                 raise n_ctx or set context.kv_unified = true",
                n_ctx / n_seq_max
            )));
        }
        // Pooled embeddings need the whole input in one micro-batch.
        let default_batch = if embeddings { n_ctx } else { DEFAULT_N_BATCH.min(n_ctx) };
        let n_batch = ctx.n_batch.unwrap_or(default_batch);
        let n_ubatch = ctx.n_ubatch.unwrap_or(n_batch);
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let n_threads = ctx.n_threads.unwrap_or(i32::try_from(cores).unwrap_or(4));
        Ok(Self {
            n_ctx,
            kv_unified,
            n_batch,
            n_ubatch,
            n_seq_max,
            n_threads,
            n_threads_batch: ctx.n_threads_batch.unwrap_or(n_threads),
            flash_attention: ctx.flash_attention,
            offload_kqv: gpu && ctx.offload_kqv.unwrap_or(true),
            embeddings,
            pooling: ctx.pooling.unwrap_or(PoolingType::Mean),
            prefill_chunk: config.scheduler.prefill_chunk_size,
            reuse: config.cache.mode,
            retained_prefix_tokens: config.cache.retained_prefix_tokens,
            runtime_metrics: config.observability.runtime_metrics,
            backend_profiling: config.observability.backend_profiling,
            sampling: config.sampling.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::*;

    fn plan(config: &NativeRuntimeConfig) -> Result<EnginePlan> {
        EnginePlan::new(config, Backend::Cpu, 8192)
    }

    #[test]
    fn defaults_are_concrete() {
        let p = plan(&NativeRuntimeConfig::default()).unwrap();
        assert_eq!((p.n_ctx, p.n_batch, p.n_seq_max, p.kv_unified), (8192, 512, 8, false));
        let mut c = NativeRuntimeConfig::default();
        c.context.kv_unified = Some(true);
        assert_eq!(plan(&c).unwrap().n_ctx, 4096);
        c.context.kv_unified = Some(false);
        c.context.n_ctx = Some(64);
        assert_eq!(plan(&c).unwrap_err().code(), "invalid_config");
        assert!(p.runtime_metrics);
        assert_eq!(p.reuse, KvReuseMode::LiveSlotPrefix);
    }

    #[test]
    fn unbuilt_fields_are_refused_not_ignored() {
        let mut c = NativeRuntimeConfig::default();
        c.multimodal.projector_path = Some("mmproj.gguf".into());
        let e = validate(&c).unwrap_err();
        assert_eq!(e.code(), "not_supported");
        assert!(e.to_string().contains("multimodal.projector_path"), "{e}");

        let mut c = NativeRuntimeConfig::default();
        c.cache.max_snapshot_bytes = Some(1 << 20);
        assert_eq!(validate(&c).unwrap_err().code(), "not_supported");

        let mut c = NativeRuntimeConfig::default();
        c.residency.require_gpu_lease = Some(true);
        assert_eq!(validate(&c).unwrap_err().code(), "not_supported");
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
