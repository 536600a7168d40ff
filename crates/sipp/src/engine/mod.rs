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
// The local engine's config and chat types live here for callers (the spec imports them
// from `sipp::engine`); the rest of the shared types are at the crate root.
pub use crate::types::{
    compiled_backends, BackendProfile, CacheRuntimeConfig, ChatMessage, ChatRole, ContextRuntimeConfig, FlashAttention,
    KvReuseMode, LogitBias, MirostatConfig, ModelInfo, MultimodalRuntimeConfig, NativeRuntimeConfig,
    ObservabilityRuntimeConfig, PlacementRuntimeConfig, PoolingType, ResidencyRuntimeConfig, SamplerStage,
    SamplingRuntimeConfig, SchedulerPolicy, SchedulerRuntimeConfig, SplitMode, TextEvent, WeightFormat,
};
