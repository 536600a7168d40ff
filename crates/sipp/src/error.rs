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

/// The HTTP status of an error code (the one table: `SippError::http_status` and front
/// ends that only hold the code, such as Python's exceptions, both read it).
#[must_use]
pub fn status_of_code(code: &str) -> u16 {
    match code {
        "invalid_request"
        | "context_overflow"
        | "grammar"
        | "chat_template_missing"
        | "chat_template"
        | "unsupported_operation"
        | "endpoint_required" => 400,
        "authentication" => 401,
        "authorization" => 403,
        "unknown_endpoint" | "not_found" => 404,
        "payload_too_large" => 413,
        "overloaded" => 429,
        "transport" | "protocol" => 502,
        "unavailable" => 503,
        "timeout" => 504,
        _ => 500,
    }
}

/// The codes `SippError::code` can return, as static strings.
const CODES: &[&str] = &[
    "model_not_found",
    "not_gguf",
    "model_load",
    "invalid_config",
    "not_supported",
    "backend_unavailable",
    "invalid_request",
    "unsupported_operation",
    "chat_template_missing",
    "chat_template",
    "grammar",
    "unknown_endpoint",
    "endpoint_required",
    "overloaded",
    "context_overflow",
    "cancelled",
    "endpoint_closed",
    "execution",
    "authentication",
    "authorization",
    "not_found",
    "payload_too_large",
    "unavailable",
    "transport",
    "timeout",
    "protocol",
];

fn sipp_code(code: &str) -> Option<&'static str> {
    CODES.iter().find(|c| **c == code).copied()
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
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Authentication => "authentication",
            Self::Authorization => "authorization",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Overloaded => "overloaded",
            Self::Unavailable => "unavailable",
            Self::Execution => "execution",
        }
    }

    /// The status a server answers with for this failure.
    #[must_use]
    pub fn http_status(self) -> u16 {
        status_of_code(self.code())
    }
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
            // A Sipp gateway's own code (consistent with its status) keeps its meaning
            // across the boundary: `context_overflow` stays catchable as such.
            Self::Remote { failure, status, upstream_code, .. } => upstream_code
                .as_deref()
                .and_then(sipp_code)
                .filter(|c| status.is_none_or(|s| status_of_code(c) == s))
                .unwrap_or(failure.code()),
            Self::Transport { .. } => "transport",
            Self::Timeout { .. } => "timeout",
            Self::Protocol { .. } => "protocol",
        }
    }

    /// The HTTP status this error is answered with, decided once for every server.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        status_of_code(self.code())
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
    fn every_code_is_listed() {
        let samples = [
            SippError::InvalidRequest(String::new()),
            SippError::Cancelled(String::new()),
            SippError::Transport { endpoint: String::new(), message: String::new() },
            SippError::Protocol { endpoint: String::new(), message: String::new() },
        ];
        for e in samples {
            assert_eq!(sipp_code(e.code()), Some(e.code()));
        }
        for failure in [RemoteFailure::Authentication, RemoteFailure::PayloadTooLarge, RemoteFailure::Unavailable] {
            assert!(sipp_code(failure.code()).is_some());
        }
    }
}
