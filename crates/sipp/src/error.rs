//! The one error type of the core crate. Every front end (CLI, Python, HTTP) maps it
//! exactly once, keyed on [`SippError::code`], so the codes are a stable contract.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = SippError> = std::result::Result<T, E>;

/// Everything that can go wrong between `add` and a finished response.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SippError {
    /// The model path does not exist or cannot be read.
    #[error("model file not found: {path}")]
    ModelNotFound { path: PathBuf },

    /// The file exists but is not a GGUF model.
    #[error("not a GGUF model file: {path} ({reason})")]
    NotGguf { path: PathBuf, reason: String },

    /// llama.cpp refused the model or could not build a context for it.
    #[error("failed to load model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },

    /// A runtime config value is invalid.
    #[error("invalid runtime config: {0}")]
    InvalidConfig(String),

    /// A config field or option whose behaviour is not built yet.
    #[error("{field} is not supported yet: {detail}")]
    NotSupportedYet { field: String, detail: String },

    /// The requested backend was not compiled in or has no device on this host.
    #[error("backend `{requested}` is not available: {reason} (available: {})", available.join(", "))]
    BackendUnavailable { requested: String, reason: String, available: Vec<String> },

    /// A request field is invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The endpoint cannot perform this operation (e.g. embed on a text endpoint).
    #[error("endpoint `{endpoint}` does not support {operation}: {reason}")]
    UnsupportedOperation { endpoint: String, operation: String, reason: String },

    /// Chat on a model whose GGUF declares no `tokenizer.chat_template`.
    #[error(
        "endpoint `{endpoint}`: the model declares no tokenizer.chat_template, so chat cannot \
         render messages; use query with a prompt in the model's own format"
    )]
    ChatTemplateMissing { endpoint: String },

    /// The model's chat template failed to render.
    #[error("chat template failed to render: {0}")]
    ChatTemplate(String),

    /// A GBNF grammar or JSON schema could not be compiled.
    #[error("invalid grammar: {0}")]
    Grammar(String),

    /// No endpoint with this id is registered on the client.
    #[error("unknown endpoint `{0}`")]
    UnknownEndpoint(String),

    /// The request named no endpoint and the choice is not unique.
    #[error("no endpoint given for {operation} and {reason}; pass endpoint=<EndpointRef>")]
    EndpointRequired { operation: String, reason: String },

    /// Admission refused the request: the queue is full.
    #[error("endpoint overloaded: {0}")]
    Overloaded(String),

    /// The input does not fit the window of one request; `setting` is the knob to raise.
    #[error(
        "input of {prompt_tokens} tokens does not fit the window of {limit} tokens per request \
         ({setting} = {limit}); shorten the input or raise {setting}"
    )]
    ContextOverflow { prompt_tokens: usize, limit: u32, setting: &'static str },

    /// The operation was cancelled before it produced a result (embeddings).
    #[error("cancelled: {0}")]
    Cancelled(String),

    /// The endpoint was closed or replaced while the request was in flight.
    #[error("endpoint `{0}` was closed")]
    EndpointClosed(String),

    /// llama.cpp failed while running a request.
    #[error("execution failed: {0}")]
    Execution(String),
}

impl SippError {
    /// Stable machine-readable code; front ends map errors on this, never on text.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::ModelNotFound { .. } => "model_not_found",
            Self::NotGguf { .. } => "not_gguf",
            Self::ModelLoad { .. } => "model_load",
            Self::InvalidConfig(_) => "invalid_config",
            Self::NotSupportedYet { .. } => "not_supported",
            Self::BackendUnavailable { .. } => "backend_unavailable",
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnsupportedOperation { .. } => "unsupported_operation",
            Self::ChatTemplateMissing { .. } => "chat_template_missing",
            Self::ChatTemplate(_) => "chat_template",
            Self::Grammar(_) => "grammar",
            Self::UnknownEndpoint(_) => "unknown_endpoint",
            Self::EndpointRequired { .. } => "endpoint_required",
            Self::Overloaded(_) => "overloaded",
            Self::ContextOverflow { .. } => "context_overflow",
            Self::Cancelled(_) => "cancelled",
            Self::EndpointClosed(_) => "endpoint_closed",
            Self::Execution(_) => "execution",
        }
    }

    pub(crate) fn not_supported(field: &str, detail: &str) -> Self {
        Self::NotSupportedYet { field: field.to_string(), detail: detail.to_string() }
    }
}
