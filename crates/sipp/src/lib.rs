//! Sipp: one client for local GGUF inference, Sipp gateways and provider APIs.
//! Register an endpoint with [`SippClient::add`], keep the returned [`EndpointRef`],
//! pass it to [`SippClient::query`], [`SippClient::chat`] or [`SippClient::embed`];
//! the call code is the same for every kind.

mod client;
pub mod engine;
pub mod error;
mod gateway_client;
#[cfg(feature = "gateway")]
pub mod gateway_core;
pub mod gateway_profile;
mod kv_cache;
mod providers;
mod scheduler;
mod transport;
mod types;

// One path per type: the local engine's config and chat types under `sipp::engine` (as
// the spec imports them), everything else here.
pub use client::{SippClient, SippEmbeddingRun, SippTextRun};
pub use error::{status_of_code, ErrorCode, RemoteFailure, Result, SippError};
pub use providers::{provider_spec, ProviderKind, ProviderSpec};
pub use types::{
    boundary_schema, field_names, local_only_fields, scrub, AuthenticationKind, Backend, CancelToken,
    EndpointDescriptor, EndpointKind, EndpointRef, EngineStats, FinishReason, GatewayAuthentication, GatewayDescriptor,
    GatewayRoutes, LatencyHistogram, LocalEmbedOptions, LocalModelDescriptor, LocalStats, LocalTextOptions,
    ProvidedValue, ProviderDescriptor, RetryPolicy, Secret, SippChatRequest, SippEmbedRequest, SippEmbeddingResponse,
    SippQueryRequest, SippTextOptions, SippTextRequest, SippTextResponse, StaticHeader, TextPrompt, TimeoutPolicy,
    TokenBatch, Usage, ValueProvider, REDACTED,
};
