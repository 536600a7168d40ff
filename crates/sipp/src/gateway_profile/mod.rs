//! The first-party gateway profile on the wire (spec: Gateway Testing): JSON bodies of
//! `/v1/query`, `/v1/chat`, `/v1/embed`, their answers, and the SSE events of a stream.
//! The gateway client encodes these; the gateway server decodes the same structs.

use crate::types::{ChatMessage, FinishReason, PoolingType, SippTextOptions, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Body of `/v1/query` (with `prompt`) and `/v1/chat` (with `messages`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextRequestBody {
    /// The public target name.
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// The shared options under their own names: the profile adds none of its own.
    #[serde(flatten)]
    pub options: SippTextOptions,
    /// Answer with server-sent events.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// `protocol_options` and `endpoint_options`: the gateway decides what they mean.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Fields of [`TextRequestBody`] and [`EmbedRequestBody`] that option buckets may not set:
/// the profile's own and every shared option.
#[must_use]
pub fn typed_fields() -> &'static [&'static str] {
    static FIELDS: LazyLock<Vec<&'static str>> =
        LazyLock::new(|| crate::transport::body::reserved(&["model", "prompt", "messages", "input", "stream"]));
    &FIELDS
}

/// Body of `/v1/embed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequestBody {
    pub model: String,
    pub input: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A finished query or chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextResponseBody {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    pub text: String,
    pub finish_reason: FinishReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A finished embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponseBody {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    pub embedding: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<PoolingType>,
}

/// `event: token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEvent {
    pub text: String,
    #[serde(default)]
    pub sequence: u64,
}

/// `event: done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoneEvent {
    pub finish_reason: FinishReason,
}

/// `event: error`, and the body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// SSE event names of a profile stream.
pub mod event {
    pub const TOKEN: &str = "token";
    pub const USAGE: &str = "usage";
    pub const DONE: &str = "done";
    pub const ERROR: &str = "error";
}
