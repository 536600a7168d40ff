//! Sipp: one client for local GGUF inference (and, in later releases, gateway and
//! provider endpoints). Register an endpoint with [`SippClient::add`], keep the
//! returned [`EndpointRef`], pass it to [`SippClient::query`], [`SippClient::chat`] or
//! [`SippClient::embed`].

pub mod client;
pub mod engine;
pub mod error;
mod kv_cache;
mod scheduler;

pub use client::{
    EndpointDescriptor, EndpointKind, EndpointRef, LocalEmbedOptions, LocalModelDescriptor, LocalTextOptions,
    SippChatRequest, SippClient, SippEmbedRequest, SippEmbeddingRun, SippQueryRequest, SippTextOptions, SippTextRun,
};
pub use engine::{
    Backend, ChatMessage, ChatRole, EngineStats, FinishReason, LocalStats, NativeRuntimeConfig, SippEmbeddingResponse,
    SippTextResponse, TokenBatch, Usage,
};
pub use error::{Result, SippError};
