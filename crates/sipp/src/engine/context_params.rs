//! llama.cpp context parameters from an `EnginePlan`.

use super::plan::EnginePlan;
use crate::types::{FlashAttention, PoolingType};
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use std::num::NonZeroU32;

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
    if let Some(fa) = plan.flash_attention {
        p = p.with_flash_attention_policy(match fa {
            FlashAttention::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttention::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttention::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        });
    }
    p
}
