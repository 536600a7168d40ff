//! HTTP answers for failures: status, the profile's `{"error": {"code", "message"}}`
//! body, and `Retry-After` where the caller should wait. `SippErrorTranslator` is the one
//! mapping from `SippError` (its `http_status()` and `code()`, decided in the core crate).

use http::StatusCode;
use sipp::gateway_profile::{ErrorBody, ErrorDetail};
use sipp::{ErrorCode, SippError};

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

    /// An answer with the code's own status and default `Retry-After`.
    pub fn of(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = Self::new(status, code.as_str(), message);
        e.retry_after_secs = code.retry_after_default();
        e
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

/// The first-party mapping: a remote target's failures as `upstream_*` answers (see
/// [`upstream`]); every other error with status from `SippError::http_status`, code from
/// `SippError::code`, and the code's default `Retry-After` (local overload: 1 s).
#[derive(Debug, Clone, Copy, Default)]
pub struct SippErrorTranslator;

/// Longest `Retry-After` passed on from an upstream.
pub const UPSTREAM_RETRY_AFTER_CAP_SECS: u64 = 60;

/// A remote target's failure as the gateway's own answer. 401, 403, 404 and 413 are the
/// caller's token, target and body here: an upstream refusing *the gateway's* key or
/// model is a bad gateway (502 `upstream_*`), never the caller's fault. Only a request
/// the upstream found invalid (400, 422, `context_overflow`) stays a 400 the caller can
/// fix; rate limits and outages upstream are 503 with a capped `Retry-After`.
fn upstream(error: &SippError) -> Option<GatewayHttpError> {
    use sipp::RemoteFailure as F;
    let (status, code, retry_after) = match error {
        SippError::Remote { failure, retry_after_secs, .. } => match failure {
            F::InvalidRequest => (StatusCode::BAD_REQUEST, error.code(), None),
            F::Authentication | F::Authorization => (StatusCode::BAD_GATEWAY, "upstream_authentication", None),
            F::NotFound => (StatusCode::BAD_GATEWAY, "upstream_not_found", None),
            F::PayloadTooLarge => (StatusCode::BAD_GATEWAY, "upstream_payload_too_large", None),
            F::Overloaded => {
                (StatusCode::SERVICE_UNAVAILABLE, "upstream_overloaded", retry_after_secs.or(failure.retry_after()))
            }
            F::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable", retry_after_secs.or(failure.retry_after()))
            }
            _ => (StatusCode::BAD_GATEWAY, "upstream_error", None),
        },
        SippError::Transport { .. } => (StatusCode::BAD_GATEWAY, "upstream_connection", None),
        SippError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", None),
        SippError::Protocol { .. } => (StatusCode::BAD_GATEWAY, "upstream_protocol", None),
        _ => return None,
    };
    let mut out = GatewayHttpError::new(status, code, error.to_string());
    out.retry_after_secs = retry_after.map(|s| s.clamp(1, UPSTREAM_RETRY_AFTER_CAP_SECS));
    Some(out)
}

impl ErrorTranslator for SippErrorTranslator {
    fn translate(&self, error: &SippError) -> GatewayHttpError {
        if let Some(e) = upstream(error) {
            return e;
        }
        GatewayHttpError::of(error.error_code(), error.to_string())
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

    fn remote(status: Option<u16>, code: Option<&str>, retry: Option<u64>) -> SippError {
        SippError::Remote {
            endpoint: "p".into(),
            failure: status.map_or(sipp::RemoteFailure::Execution, sipp::RemoteFailure::from_status),
            status,
            upstream_code: code.map(str::to_string),
            message: "m".into(),
            retry_after_secs: retry,
        }
    }

    /// The caller's 401/403/404/413 mean the caller's token, target and body: an
    /// upstream's never pass through as those.
    #[test]
    fn upstream_failures_are_the_gateways() {
        let t = SippErrorTranslator;
        let cases = [
            (remote(Some(401), Some("invalid_api_key"), None), 502, "upstream_authentication", None),
            (remote(Some(403), None, None), 502, "upstream_authentication", None),
            (remote(Some(404), Some("model_not_found"), None), 502, "upstream_not_found", None),
            (remote(Some(413), None, None), 502, "upstream_payload_too_large", None),
            (remote(Some(400), Some("context_overflow"), None), 400, "context_overflow", None),
            (remote(Some(422), None, None), 400, "invalid_request", None),
            (remote(Some(429), None, Some(999_999_999_999)), 503, "upstream_overloaded", Some(60)),
            (remote(Some(503), None, None), 503, "upstream_unavailable", Some(1)),
            (remote(Some(500), None, None), 502, "upstream_error", None),
            (remote(Some(502), None, None), 502, "upstream_error", None),
            (remote(Some(504), None, None), 502, "upstream_error", None),
            (
                // A stream's `error` event: no status, the failure read from its code.
                SippError::Remote {
                    endpoint: "p".into(),
                    failure: sipp::RemoteFailure::Overloaded,
                    status: None,
                    upstream_code: Some("rate_limit_error".into()),
                    message: "m".into(),
                    retry_after_secs: None,
                },
                503,
                "upstream_overloaded",
                Some(1),
            ),
            (SippError::Transport { endpoint: "p".into(), message: "reset".into() }, 502, "upstream_connection", None),
            (
                SippError::Timeout { endpoint: "p".into(), what: "request", after_ms: 5, setting: "s" },
                504,
                "upstream_timeout",
                None,
            ),
            (SippError::Protocol { endpoint: "p".into(), message: "x".into() }, 502, "upstream_protocol", None),
        ];
        for (error, status, code, retry) in cases {
            let e = t.translate(&error);
            assert_eq!((e.status.as_u16(), e.code.as_str(), e.retry_after_secs), (status, code, retry), "{error}");
        }
    }
}
