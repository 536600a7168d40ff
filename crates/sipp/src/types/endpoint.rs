//! The one seam between the client and an endpoint kind. `SippClient` is a registry of
//! `Arc<dyn Endpoint>` plus the rules every kind shares; each kind (the local engine,
//! the gateway client, the provider adapters) turns a typed request into an event
//! stream that the run handle consumes without knowing where it came from.

use super::descriptor::EndpointKind;
use super::events::{SippEmbeddingResponse, TextEvent};
use super::info::{EngineStats, ModelInfo};
use super::request::{SippEmbedRequest, SippTextRequest, TextPrompt};
use super::CancelToken;
use crate::error::Result;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What an endpoint is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `query` or `chat`.
    Text,
    Embed,
}

impl Operation {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Text => "query/chat",
            Self::Embed => "embed",
        }
    }
}

/// A started text request: its events (token batches, then exactly one `Done` or
/// `Failed`) and the token that cancels it.
#[derive(Debug)]
pub(crate) struct TextStream {
    pub events: mpsc::UnboundedReceiver<TextEvent>,
    pub cancel: Arc<CancelToken>,
    /// Read-ahead credits of a producer that can wait (a remote stream): the reader
    /// returns one per token batch it takes. `None`: the producer never waits.
    pub credits: Option<Arc<tokio::sync::Semaphore>>,
}

/// A started embedding request.
#[derive(Debug)]
pub(crate) struct EmbedReply {
    pub reply: oneshot::Receiver<Result<SippEmbeddingResponse>>,
    pub cancel: Arc<CancelToken>,
}

/// One registered endpoint, whatever its kind. Submission is synchronous and cheap
/// (validate, tokenize or encode, hand off); the work runs elsewhere and reports on the
/// returned stream. Dropping the endpoint shuts it down; requests in flight then end
/// with `endpoint_closed`.
pub(crate) trait Endpoint: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> EndpointKind;
    /// Whether `op` can be served (a local endpoint is loaded for text or for embeddings).
    fn supports(&self, op: Operation) -> bool;
    /// `request` has passed the client's shared checks (which option buckets the kind
    /// accepts); the endpoint validates and uses the rest.
    fn text(&self, request: &SippTextRequest) -> Result<TextStream>;
    fn embed(&self, request: &SippEmbedRequest) -> Result<EmbedReply>;
    /// What a local endpoint loaded; `None` for remote kinds.
    fn model_info(&self) -> Option<ModelInfo> {
        None
    }
    /// Engine counters of a local endpoint; `None` for remote kinds.
    fn stats(&self) -> Option<EngineStats> {
        None
    }
    /// How many tokens `prompt` is, where the endpoint can tell before running it (a
    /// local model's own tokenizer and chat template); `None` otherwise.
    fn prompt_tokens(&self, _prompt: &TextPrompt) -> Option<Result<usize>> {
        None
    }
}
