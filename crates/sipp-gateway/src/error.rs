//! HTTP answers for failures: status, the profile's `{"error": {"code", "message"}}`
//! body, and `Retry-After` where the caller should wait. `SippErrorTranslator` is the one
//! mapping from `SippError` (its `http_status()` and `code()`, decided in the core crate).

use http::StatusCode;
use sipp::gateway_profile::{ErrorBody, ErrorDetail};
use sipp::SippError;

/// A failure as an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct GatewayHttpError {
    pub status: StatusCode,
    /// Stable machine code (`invalid_request`, `authentication`, …).
    pub code: String,
    /// Safe to show the caller: never a secret or prompt text.
    pub message: String,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after_secs: Option<u64>,
    /// The request field at fault, for profiles that name it (OpenAI's `param`).
    pub param: Option<String>,
}

impl GatewayHttpError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), retry_after_secs: None, param: None }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    #[must_use]
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    #[must_use]
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// The JSON body (also the `data` of an SSE `error` event).
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        let body = ErrorBody { error: ErrorDetail { code: self.code.clone(), message: self.message.clone() } };
        // A struct of two strings always serializes.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// Maps execution errors to HTTP answers; applications may bring their own.
pub trait ErrorTranslator: Send + Sync {
    fn translate(&self, error: &SippError) -> GatewayHttpError;
}

/// The first-party mapping: status from `SippError::http_status`, code from
/// `SippError::code`, `Retry-After` from a remote 429/503 (or 1 s for local overload).
#[derive(Debug, Clone, Copy, Default)]
pub struct SippErrorTranslator;

impl ErrorTranslator for SippErrorTranslator {
    fn translate(&self, error: &SippError) -> GatewayHttpError {
        let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut out = GatewayHttpError::new(status, error.code(), error.to_string());
        out.retry_after_secs = match error {
            SippError::Remote { retry_after_secs, .. } => *retry_after_secs,
            // The queue drains as requests finish; a second is the natural retry grain.
            SippError::Overloaded(_) => Some(1),
            _ => None,
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_the_profile_error_object() {
        let e = GatewayHttpError::new(StatusCode::FORBIDDEN, "authorization", "token is not allowed to access target");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "authorization", "message": "token is not allowed to access target"}})
        );
    }

    #[test]
    fn sipp_errors_keep_their_code_and_status() {
        let t = SippErrorTranslator;
        let e = t.translate(&SippError::ContextOverflow { prompt_tokens: 10, limit: 4, setting: "context.n_ctx" });
        assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "context_overflow"));
        let e = t.translate(&SippError::Overloaded("queue full".into()));
        assert_eq!((e.status.as_u16(), e.retry_after_secs), (429, Some(1)));
        let e = t.translate(&SippError::UnknownEndpoint("x".into()));
        assert_eq!(e.status.as_u16(), 404);
        let e = t.translate(&SippError::Execution("boom".into()));
        assert_eq!(e.status.as_u16(), 500);
    }
}
