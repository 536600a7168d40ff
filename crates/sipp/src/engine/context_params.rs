//! llama.cpp context parameters from an `EnginePlan`.

use super::plan::EnginePlan;
use crate::types::{FlashAttention, PoolingType};
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams, LlamaPoolingType};
use std::num::NonZeroU32;

/// The K/V element types `context_params` asks for, as persisted snapshots record them.
pub(crate) fn kv_types(plan: &EnginePlan) -> &'static str {
    if plan.deterministic {
        "f16/bf16"
    } else {
        "f16/f16"
    }
}

pub(crate) fn context_params(plan: &EnginePlan) -> LlamaContextParams {
    let mut p = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(plan.kv_cells))
        .with_n_batch(plan.n_batch)
        .with_n_ubatch(plan.n_ubatch)
        .with_n_seq_max(plan.n_seq_max)
        .with_kv_unified(plan.kv_unified)
        .with_n_threads(plan.n_threads)
        .with_n_threads_batch(plan.n_threads_batch)
        .with_offload_kqv(plan.offload_kqv)
        .with_no_perf(!plan.backend_profiling)
        .with_embeddings(plan.embeddings);
    if plan.embeddings {
        p = p.with_pooling_type(match plan.pooling {
            PoolingType::None => LlamaPoolingType::None,
            PoolingType::Mean => LlamaPoolingType::Mean,
            PoolingType::Cls => LlamaPoolingType::Cls,
            PoolingType::Last => LlamaPoolingType::Last,
            PoolingType::Rank => LlamaPoolingType::Rank,
        });
    }
    if plan.deterministic {
        // ggml's CPU flash attention has three kernels: tiled (64+ query rows of a
        // sequence in the micro-batch), split-KV (one query row, one sequence, 512+
        // cells) and per-row. Each sums in its own order, so which one ran — decided by
        // what else was in the batch and how much of the prompt was cached — changed
        // greedy answers. The first two need K and V of one type, f16 or f32 (llama.cpp
        // casts an f32 cache to f16 first); f16 keys with bf16 values always take the
        // per-row kernel, whose result for a row depends only on that row and its
        // sequence's cells (kept in position order in the sequence's own window).
        // Same bytes per cell as f16; values are widened to f32 and accumulated in f32
        // (the f16 path accumulates in f16).
        return p
            .with_flash_attention_policy(llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED)
            .with_type_k(KvCacheType::F16)
            .with_type_v(KvCacheType::BF16);
    }
    if let Some(fa) = plan.flash_attention {
        p = p.with_flash_attention_policy(match fa {
            FlashAttention::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttention::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttention::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        });
    }
    p
}
