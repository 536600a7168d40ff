//! Sipp: one client for local GGUF inference, Sipp gateways and provider APIs.
//! Register an endpoint with [`SippClient::add`], keep the returned [`EndpointRef`],
//! pass it to [`SippClient::query`], [`SippClient::chat`] or [`SippClient::embed`];
//! the call code is the same for every kind.

pub mod client;
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
pub mod types;

pub use client::{SippClient, SippEmbeddingRun, SippTextRun};
pub use error::{status_of_code, RemoteFailure, Result, SippError};
pub use types::{
    AuthenticationKind, Backend, CancelToken, ChatMessage, ChatRole, EndpointDescriptor, EndpointKind, EndpointRef,
    EngineStats, FinishReason, GatewayAuthentication, GatewayDescriptor, GatewayRoutes, LatencyHistogram,
    LocalEmbedOptions, LocalModelDescriptor, LocalStats, LocalTextOptions, NativeRuntimeConfig, ProviderDescriptor,
    ProviderKind, RetryPolicy, Secret, SippChatRequest, SippEmbedRequest, SippEmbeddingResponse, SippQueryRequest,
    SippTextOptions, SippTextResponse, StaticHeader, TimeoutPolicy, TokenBatch, Usage, ValueProvider,
};
