//! The local engine: one owner thread per loaded GGUF endpoint, continuous batching of
//! many sequences in one llama.cpp context, and the request/event protocol.

mod backend;
mod chat_template;
mod commands;
mod context_params;
mod detok;
mod embedder;
mod endpoint;
mod gguf;
mod handle;
mod loader;
mod memory;
mod owner;
mod plan;
mod prompt;
mod request;
mod residency;
mod sampler;
mod sequence;
mod stats;
mod stop;
mod transcode;
mod worker;

pub use backend::{llama as llama_backend, resolve_backend};
pub use handle::Engine;
// The shared API types moved to `crate::types`; these paths stay for callers.
pub use crate::types::{
    compiled_backends, Backend, BackendProfile, CacheRuntimeConfig, CancelToken, ChatMessage, ChatRole,
    ContextRuntimeConfig, EngineStats, FinishReason, FlashAttention, KvReuseMode, LocalStats, LogitBias,
    MirostatConfig, ModelInfo, MultimodalRuntimeConfig, NativeRuntimeConfig, ObservabilityRuntimeConfig,
    PlacementRuntimeConfig, PoolingType, ResidencyRuntimeConfig, SamplerStage, SamplingRuntimeConfig, SchedulerPolicy,
    SchedulerRuntimeConfig, SippEmbeddingResponse, SippTextResponse, SplitMode, TextEvent, TokenBatch, Usage,
    WeightFormat,
};
