//! Sipp: one client for local GGUF inference (and, in later releases, gateway and
//! provider endpoints). Register an endpoint with [`SippClient::add`], keep the
//! returned [`EndpointRef`], pass it to [`SippClient::query`], [`SippClient::chat`] or
//! [`SippClient::embed`].

pub mod client;
pub mod engine;
pub mod error;
mod kv_cache;
mod scheduler;
pub mod types;

pub use client::{SippClient, SippEmbeddingRun, SippTextRun};
pub use types::{
    Backend, ChatMessage, ChatRole, EndpointDescriptor, EndpointKind, EndpointRef, EngineStats, FinishReason,
    LocalEmbedOptions, LocalModelDescriptor, LocalStats, LocalTextOptions, NativeRuntimeConfig, SippChatRequest,
    SippEmbedRequest, SippEmbeddingResponse, SippQueryRequest, SippTextOptions, SippTextResponse, TokenBatch, Usage,
};
pub use error::{Result, SippError};
