//! Jobs as the engine thread receives them: already tokenized, with their own event
//! channel and cancel token.

use crate::error::{Result, SippError};
use crate::types::CancelToken;
use crate::types::SamplingRuntimeConfig;
use crate::types::{SippEmbeddingResponse, TextEvent};
use llama_cpp_2::token::LlamaToken;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Generation settings of one text request, resolved from its options.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextParams {
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
    /// Request sampling on top of the endpoint defaults.
    pub sampling: SamplingRuntimeConfig,
    /// GBNF source (json_schema is compiled to this before submission).
    pub grammar: Option<String>,
    pub context_key: Option<String>,
    pub emit_tokens: bool,
}

pub(crate) struct TextJob {
    pub prompt: Vec<LlamaToken>,
    pub params: TextParams,
    pub events: mpsc::UnboundedSender<TextEvent>,
    pub cancel: Arc<CancelToken>,
    pub submitted: Instant,
}

impl TextJob {
    /// The caller is gone or asked to stop.
    pub(crate) fn abandoned(&self) -> bool {
        self.cancel.is_cancelled() || self.events.is_closed()
    }

    pub(crate) fn fail(&self, error: SippError) {
        let _ = self.events.send(TextEvent::Failed(error));
    }
}

pub(crate) struct EmbedJob {
    pub tokens: Vec<LlamaToken>,
    pub normalize: bool,
    pub reply: oneshot::Sender<Result<SippEmbeddingResponse>>,
    pub cancel: Arc<CancelToken>,
}

// Moved once per request (see `Command`); a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    Text(TextJob),
    Embed(EmbedJob),
}
