//! The local engine: one owner thread per loaded GGUF endpoint, continuous batching of
//! many sequences in one llama.cpp context, and the request/event protocol.

mod backend;
mod chat;
mod chat_template;
mod config;
mod detok;
mod embedder;
mod events;
mod gguf;
mod handle;
mod loader;
mod memory;
mod plan;
mod prompt;
mod request;
mod sampler;
mod sequence;
mod stats;
mod stop;
mod worker;

pub use backend::{compiled_backends, llama as llama_backend, resolve_backend, Backend};
pub use chat::{ChatMessage, ChatRole};
pub use config::{
    CacheRuntimeConfig, ContextRuntimeConfig, FlashAttention, KvReuseMode, LogitBias, MirostatConfig,
    MultimodalRuntimeConfig, NativeRuntimeConfig, ObservabilityRuntimeConfig, PlacementRuntimeConfig, PoolingType,
    ResidencyRuntimeConfig, SamplerStage, SamplingRuntimeConfig, SchedulerPolicy, SchedulerRuntimeConfig, SplitMode,
};
pub use events::{
    BackendProfile, FinishReason, LocalStats, SippEmbeddingResponse, SippTextResponse, TextEvent, TokenBatch, Usage,
};
pub use handle::{Engine, ModelInfo};
pub use request::CancelToken;
pub use stats::EngineStats;

pub(crate) use handle::PromptInput;
pub(crate) use plan::{check_temperature, check_top_p, validate_sampling};
pub(crate) use request::TextParams;
