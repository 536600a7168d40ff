//! What a context will cost before llama.cpp allocates it. llama.cpp zero-fills its KV
//! buffer at creation, so an absurd `n_ctx` does not fail: it grows the process until
//! the kernel kills it. The estimate lets `add` refuse such a config with the figure and
//! the setting to change instead.

use crate::error::{Result, SippError};
use llama_cpp_2::model::LlamaModel;

/// The model facts the estimate needs, read once after loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelShape {
    pub n_ctx_train: u32,
    pub n_layer: u32,
    pub n_head: u32,
    pub n_head_kv: u32,
    /// Per-head widths of keys and values.
    pub head_dim_k: u32,
    pub head_dim_v: u32,
    pub n_vocab: u32,
    /// Recurrent (Mamba, RWKV) and hybrid models keep a fixed-size state per sequence,
    /// not a cell per token.
    pub recurrent: bool,
    /// Multi-head latent attention (DeepSeek): llama.cpp keeps its keys and values in
    /// one cache type.
    pub mla: bool,
}

impl ModelShape {
    pub(crate) fn of(model: &LlamaModel) -> Self {
        let arch = model.meta_val_str("general.architecture").unwrap_or_default();
        let meta_u32 =
            |key: &str| model.meta_val_str(&format!("{arch}.{key}")).ok().and_then(|v| v.parse::<u32>().ok());
        let n_head = model.n_head().max(1);
        let head_dim = u32::try_from(model.n_embd()).unwrap_or(0) / n_head;
        Self {
            n_ctx_train: model.n_ctx_train(),
            n_layer: model.n_layer(),
            n_head,
            n_head_kv: model.n_head_kv(),
            head_dim_k: meta_u32("attention.key_length").unwrap_or(head_dim),
            head_dim_v: meta_u32("attention.value_length").unwrap_or(head_dim),
            n_vocab: u32::try_from(model.n_vocab()).unwrap_or(0),
            recurrent: model.is_recurrent() || model.is_hybrid(),
            mla: meta_u32("attention.key_length_mla").is_some_and(|n| n > 0) || arch == "deepseek4",
        }
    }

    /// Bytes of one KV cell (one token of one sequence) over all layers, K and V in f16.
    pub(crate) fn kv_bytes_per_cell(&self) -> u64 {
        if self.recurrent {
            return 0;
        }
        let per_layer = u64::from(self.n_head_kv) * u64::from(self.head_dim_k + self.head_dim_v);
        u64::from(self.n_layer) * per_layer * 2
    }
}

/// Memory a context of this shape allocates up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContextCost {
    pub kv_bytes: u64,
    /// Rough size of the largest compute buffer: the attention scores of one micro-batch
    /// against a full window, plus the logits of one micro-batch.
    pub compute_bytes: u64,
}

impl ContextCost {
    pub(crate) fn estimate(shape: &ModelShape, kv_cells: u64, window: u64, n_ubatch: u64) -> Self {
        let scores = window.saturating_mul(n_ubatch).saturating_mul(u64::from(shape.n_head)).saturating_mul(4);
        let logits = n_ubatch.saturating_mul(u64::from(shape.n_vocab)).saturating_mul(4);
        Self {
            kv_bytes: kv_cells.saturating_mul(shape.kv_bytes_per_cell()),
            compute_bytes: scores.saturating_add(logits),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.kv_bytes.saturating_add(self.compute_bytes)
    }

    /// Refuse a context that cannot fit in `available` bytes of host memory.
    pub(crate) fn check_fits(&self, available: Option<u64>, settings: &str) -> Result<()> {
        let Some(available) = available else {
            return Ok(());
        };
        if self.total() <= available {
            return Ok(());
        }
        Err(SippError::InvalidConfig(format!(
            "the context needs about {} ({} of KV cache + {} of compute buffers) but this host has {} \
             available; lower {settings}",
            human(self.total()),
            human(self.kv_bytes),
            human(self.compute_bytes),
            human(available)
        )))
    }
}

/// Host memory a new allocation can take without swapping or the OOM killer: Linux's
/// `MemAvailable`. `None` where the platform does not say (no check then).
pub(crate) fn available_host_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// SmolLM2-135M-Instruct (the default model): 30 layers, 3 KV heads of 64.
#[cfg(test)]
pub(crate) const SMOLLM2: ModelShape = ModelShape {
    n_ctx_train: 8192,
    n_layer: 30,
    n_head: 9,
    n_head_kv: 3,
    head_dim_k: 64,
    head_dim_v: 64,
    n_vocab: 49152,
    recurrent: false,
    mla: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_cell_size_matches_llama_cpp() {
        // llama.cpp reports 22.5 KiB per cell for this model (f16 K and V).
        assert_eq!(SMOLLM2.kv_bytes_per_cell(), 23_040);
        let cost = ContextCost::estimate(&SMOLLM2, 8192, 1024, 512);
        assert_eq!(cost.kv_bytes, 180 * 1024 * 1024);
    }

    #[test]
    fn absurd_contexts_are_refused_with_the_figure() {
        let cost = ContextCost::estimate(&SMOLLM2, 1 << 31, 1 << 31, 512);
        let e = cost.check_fits(Some(24 << 30), "context.n_ctx").unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        let text = e.to_string();
        assert!(text.contains("TiB") && text.contains("24.0 GiB") && text.contains("context.n_ctx"), "{text}");
        assert!(ContextCost::estimate(&SMOLLM2, 8192, 1024, 512).check_fits(Some(24 << 30), "x").is_ok());
        assert!(cost.check_fits(None, "x").is_ok(), "no figure, no refusal");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
