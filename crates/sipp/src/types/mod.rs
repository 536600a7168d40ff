//! What every endpoint kind shares: descriptors, requests and options, chat messages,
//! events and responses, the runtime config descriptors carry, and the `Endpoint` trait
//! the client dispatches through. Depends on nothing else in the crate but `error` and
//! `providers::ProviderKind` (which lives with the provider records it names).

mod backend;
mod cancel;
mod chat;
mod config;
mod descriptor;
pub(crate) mod endpoint;
mod events;
pub(crate) mod fields;
mod info;
pub(crate) mod options;
mod remote;
mod request;
mod schema;
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
pub use fields::field_names;
pub use info::{EngineStats, LatencyHistogram, ModelInfo};
pub use options::{local_only_fields, LocalEmbedOptions, LocalTextOptions, SippTextOptions};
pub use remote::{
    AuthenticationKind, GatewayAuthentication, GatewayDescriptor, GatewayRoutes, ProvidedValue, ProviderDescriptor,
    RetryPolicy, StaticHeader, TimeoutPolicy, ValueProvider,
};
pub use request::{SippChatRequest, SippEmbedRequest, SippQueryRequest, SippTextRequest, TextPrompt};
pub use schema::boundary_schema;
pub use secret::{scrub, Secret, REDACTED};
