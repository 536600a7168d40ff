//! What every endpoint kind shares: descriptors, requests and options, chat messages,
//! events and responses, the runtime config descriptors carry, and the `Endpoint` trait
//! the client dispatches through. Depends on nothing else in the crate but `error`.

mod backend;
mod cancel;
mod chat;
mod config;
mod descriptor;
pub(crate) mod endpoint;
mod events;
mod info;
pub(crate) mod options;
mod remote;
mod secret;

pub use backend::{compiled_backends, Backend};
pub use cancel::CancelToken;
pub use chat::{ChatMessage, ChatRole};
pub use config::{
    CacheRuntimeConfig, ContextRuntimeConfig, FlashAttention, KvReuseMode, LogitBias, MirostatConfig,
    MultimodalRuntimeConfig, NativeRuntimeConfig, ObservabilityRuntimeConfig, PlacementRuntimeConfig, PoolingType,
    ResidencyRuntimeConfig, SamplerStage, SamplingRuntimeConfig, SchedulerPolicy, SchedulerRuntimeConfig, SplitMode,
    WeightFormat,
};
pub use descriptor::{EndpointDescriptor, EndpointKind, EndpointRef, LocalModelDescriptor};
pub use events::{
    BackendProfile, FinishReason, LocalStats, SippEmbeddingResponse, SippTextResponse, TextEvent, TokenBatch, Usage,
};
pub use info::{EngineStats, LatencyHistogram, ModelInfo};
pub use options::{
    LocalEmbedOptions, LocalTextOptions, SippChatRequest, SippEmbedRequest, SippQueryRequest, SippTextOptions,
};
pub use remote::{
    AuthenticationKind, GatewayAuthentication, GatewayDescriptor, GatewayRoutes, ProvidedValue, ProviderDescriptor,
    ProviderKind, RetryPolicy, StaticHeader, TimeoutPolicy, ValueProvider,
};
pub use secret::{scrub, Secret, REDACTED};
