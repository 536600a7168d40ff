//! What a running request sends back: token batches while it runs, then exactly one
//! final response or error. The gateway streams these same events over SSE
//! (`token`, `usage`, `done`, `error`).

use super::config::PoolingType;
use crate::error::SippError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
    /// `cancel()` was called or the run handle was dropped.
    Cancelled,
}

impl FinishReason {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub total_tokens: u32,
}

impl Usage {
    pub(crate) fn new(input: usize, output: usize) -> Self {
        let input = u32::try_from(input).unwrap_or(u32::MAX);
        let output = u32::try_from(output).unwrap_or(u32::MAX);
        Self { input_tokens: input, output_tokens: output, total_tokens: input.saturating_add(output) }
    }
}

/// Local runtime timings of one request (`observability.runtime_metrics`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocalStats {
    /// Submission to first generated token.
    pub ttft_ms: f64,
    /// Submission until a sequence slot was free.
    pub queue_ms: f64,
    /// Wall time spent on this request's prompt steps.
    pub prefill_ms: f64,
    /// Prompt tokens actually computed (excludes the reused prefix).
    pub prefill_tokens: u32,
    pub prefill_tokens_per_second: f64,
    /// Wall time from first token to the end.
    pub decode_ms: f64,
    pub decode_tokens_per_second: f64,
    /// Prompt tokens whose KV was reused from an earlier request.
    pub cached_prompt_tokens: u32,
    /// Most sequences that shared one decode call with this request.
    pub max_batch_sequences: u32,
    /// llama.cpp's own counters for the whole context (`backend_profiling`).
    pub backend: Option<BackendProfile>,
}

/// llama.cpp perf counters (cumulative for the endpoint's context).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackendProfile {
    pub prompt_eval_ms: f64,
    pub prompt_eval_tokens: i32,
    pub eval_ms: f64,
    pub eval_tokens: i32,
}

/// A group of generated tokens, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenBatch {
    /// Text released by these tokens (stop strings and partial characters held back).
    pub text: String,
    pub token_ids: Vec<i32>,
    /// 0-based index of this batch within the run.
    pub sequence: u64,
}

/// The final result of `query` or `chat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SippTextResponse {
    /// All generated text (also when it was streamed).
    pub text: String,
    pub finish_reason: FinishReason,
    /// Token counts; local endpoints always report them, a remote one when its server
    /// does (a cancelled remote stream has none).
    pub usage: Option<Usage>,
    pub local_stats: Option<LocalStats>,
}

/// The final result of `embed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SippEmbeddingResponse {
    pub values: Vec<f32>,
    pub usage: Option<Usage>,
    /// How token vectors were pooled; `None` when a remote API does not say.
    pub pooling: Option<PoolingType>,
    /// Unit length (for remote vectors: measured).
    pub normalized: bool,
}

/// One event on a text request's stream.
#[derive(Debug, Clone)]
pub enum TextEvent {
    Tokens(TokenBatch),
    Done(SippTextResponse),
    Failed(SippError),
}
