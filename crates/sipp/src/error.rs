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

    /// A gateway or provider refused or failed the request: an HTTP error status, or an
    /// `error` event in its stream. `upstream_code` is the code the remote side gave.
    #[error("endpoint `{endpoint}`: {}{message}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
    Remote {
        endpoint: String,
        failure: RemoteFailure,
        status: Option<u16>,
        upstream_code: Option<String>,
        message: String,
        /// Seconds the server asked to wait (`Retry-After`).
        retry_after_secs: Option<u64>,
    },

    /// The remote endpoint could not be reached (refused, reset, DNS, TLS).
    #[error("endpoint `{endpoint}`: {message}")]
    Transport { endpoint: String, message: String },

    /// A remote request ran past one of its deadlines (`timeouts.connect_ms`, …).
    #[error("endpoint `{endpoint}`: {what} timed out after {after_ms} ms ({setting})")]
    Timeout { endpoint: String, what: &'static str, after_ms: u64, setting: &'static str },

    /// The remote side answered something that is not its API: bad JSON, a stream that
    /// ended before its final event.
    #[error("endpoint `{endpoint}`: unexpected answer: {message}")]
    Protocol { endpoint: String, message: String },
}

/// Every error code, and what each one means for HTTP and for retrying: the one table
/// every front end reads (the gateway's answers, Python's exception classes; a test checks
/// each side against it). Codes are snake_case on every wire.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    ModelNotFound,
    NotGguf,
    ModelLoad,
    InvalidConfig,
    NotSupported,
    BackendUnavailable,
    InvalidRequest,
    UnsupportedOperation,
    ChatTemplateMissing,
    ChatTemplate,
    Grammar,
    UnknownEndpoint,
    EndpointRequired,
    Overloaded,
    ContextOverflow,
    Cancelled,
    EndpointClosed,
    Execution,
    Authentication,
    Authorization,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    Transport,
    Timeout,
    Protocol,
}

impl ErrorCode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A code by its name; `None` for codes that are not Sipp's (a provider's own).
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        code.parse().ok()
    }

    /// Every code.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// The HTTP status a server answers with.
    #[must_use]
    pub fn http_status(self) -> u16 {
        use ErrorCode as C;
        match self {
            C::InvalidRequest
            | C::ContextOverflow
            | C::Grammar
            | C::ChatTemplateMissing
            | C::ChatTemplate
            | C::UnsupportedOperation
            | C::EndpointRequired => 400,
            C::Authentication => 401,
            C::Authorization => 403,
            C::UnknownEndpoint | C::NotFound => 404,
            C::PayloadTooLarge => 413,
            C::Overloaded => 429,
            C::Transport | C::Protocol => 502,
            C::Unavailable => 503,
            C::Timeout => 504,
            _ => 500,
        }
    }

    /// Whether the same request may succeed later without changes.
    #[must_use]
    pub fn retryable(self) -> bool {
        matches!(self, Self::Overloaded | Self::Unavailable | Self::Transport | Self::Timeout)
    }

    /// The `Retry-After` seconds to answer with when nothing better is known: queues
    /// drain and targets finish loading on the scale of a second.
    #[must_use]
    pub fn retry_after_default(self) -> Option<u64> {
        matches!(self, Self::Overloaded | Self::Unavailable).then_some(1)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP status of an error code (for front ends that hold only the code string).
#[must_use]
pub fn status_of_code(code: &str) -> u16 {
    ErrorCode::parse(code).map_or(500, ErrorCode::http_status)
}

/// What kind of refusal a remote error is; decides its code (and Python class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteFailure {
    InvalidRequest,
    Authentication,
    Authorization,
    NotFound,
    PayloadTooLarge,
    Overloaded,
    Unavailable,
    Execution,
}

impl RemoteFailure {
    /// From an HTTP error status.
    #[must_use]
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Authentication,
            403 => Self::Authorization,
            404 => Self::NotFound,
            413 => Self::PayloadTooLarge,
            429 => Self::Overloaded,
            400..=499 => Self::InvalidRequest,
            // 529: Anthropic's "overloaded".
            503 | 529 => Self::Unavailable,
            _ => Self::Execution,
        }
    }

    #[must_use]
    pub fn code(self) -> &'static str {
        self.error_code().as_str()
    }

    #[must_use]
    pub fn error_code(self) -> ErrorCode {
        match self {
            Self::InvalidRequest => ErrorCode::InvalidRequest,
            Self::Authentication => ErrorCode::Authentication,
            Self::Authorization => ErrorCode::Authorization,
            Self::NotFound => ErrorCode::NotFound,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::Overloaded => ErrorCode::Overloaded,
            Self::Unavailable => ErrorCode::Unavailable,
            Self::Execution => ErrorCode::Execution,
        }
    }

    /// The code's default `Retry-After`, for a server that did not send one.
    #[must_use]
    pub fn retry_after(self) -> Option<u64> {
        self.error_code().retry_after_default()
    }

    /// The status a server answers with for this failure.
    #[must_use]
    pub fn http_status(self) -> u16 {
        self.error_code().http_status()
    }
}

impl SippError {
    /// Stable machine-readable code; front ends map errors on this, never on text.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    #[must_use]
    pub fn error_code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Self::ModelNotFound { .. } => C::ModelNotFound,
            Self::NotGguf { .. } => C::NotGguf,
            Self::ModelLoad { .. } => C::ModelLoad,
            Self::InvalidConfig(_) => C::InvalidConfig,
            Self::NotSupportedYet { .. } => C::NotSupported,
            Self::BackendUnavailable { .. } => C::BackendUnavailable,
            Self::InvalidRequest(_) => C::InvalidRequest,
            Self::UnsupportedOperation { .. } => C::UnsupportedOperation,
            Self::ChatTemplateMissing { .. } => C::ChatTemplateMissing,
            Self::ChatTemplate(_) => C::ChatTemplate,
            Self::Grammar(_) => C::Grammar,
            Self::UnknownEndpoint(_) => C::UnknownEndpoint,
            Self::EndpointRequired { .. } => C::EndpointRequired,
            Self::Overloaded(_) => C::Overloaded,
            Self::ContextOverflow { .. } => C::ContextOverflow,
            Self::Cancelled(_) => C::Cancelled,
            Self::EndpointClosed(_) => C::EndpointClosed,
            Self::Execution(_) => C::Execution,
            // A Sipp gateway's own code (consistent with its status) keeps its meaning
            // across the boundary: `context_overflow` stays catchable as such.
            Self::Remote { failure, status, upstream_code, .. } => upstream_code
                .as_deref()
                .and_then(ErrorCode::parse)
                .filter(|c| status.is_none_or(|s| c.http_status() == s))
                .unwrap_or(failure.error_code()),
            Self::Transport { .. } => C::Transport,
            Self::Timeout { .. } => C::Timeout,
            Self::Protocol { .. } => C::Protocol,
        }
    }

    /// The HTTP status this error is answered with, decided once for every server.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.error_code().http_status()
    }

    pub(crate) fn not_supported(field: &str, detail: &str) -> Self {
        Self::NotSupportedYet { field: field.to_string(), detail: detail.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(status: Option<u16>, upstream: &str) -> SippError {
        SippError::Remote {
            endpoint: "gw".into(),
            failure: status.map_or(RemoteFailure::Execution, RemoteFailure::from_status),
            status,
            upstream_code: Some(upstream.into()),
            message: "m".into(),
            retry_after_secs: None,
        }
    }

    #[test]
    fn a_gateways_own_codes_survive_the_boundary() {
        assert_eq!(remote(Some(400), "context_overflow").code(), "context_overflow");
        assert_eq!(remote(Some(400), "unsupported_operation").code(), "unsupported_operation");
        assert_eq!(remote(None, "overloaded").code(), "overloaded");
        // Foreign codes, and Sipp codes that contradict the status, fall back to the status.
        assert_eq!(remote(Some(401), "invalid_api_key").code(), "authentication");
        assert_eq!(remote(Some(500), "context_overflow").code(), "execution");
    }

    #[test]
    fn every_code_has_one_name_and_a_status() {
        for code in ErrorCode::all() {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert_eq!(status_of_code(code.as_str()), code.http_status());
        }
        assert_eq!(ErrorCode::NotSupported.as_str(), "not_supported");
        assert_eq!(status_of_code("no_such_code"), 500);
        assert_eq!(RemoteFailure::PayloadTooLarge.http_status(), 413);
    }
}
