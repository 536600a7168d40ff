//! How remote failures become `SippError`s: HTTP statuses, error bodies (OpenAI,
//! Anthropic and the Sipp gateway all nest `{"error": {...}}`), stream `error` events and
//! transport errors. Every message is scrubbed of the endpoint's secrets first, and only
//! then cut to a short excerpt: a cut made first could split a key and let its first
//! part through unmasked.

use crate::error::{RemoteFailure, SippError};
use serde_json::Value;

/// What an adapter found wrong in an answer, before the endpoint's name is attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fault {
    /// The remote side reported an error (status and/or its own code).
    Remote { status: Option<u16>, upstream_code: Option<String>, message: String },
    /// The answer is not what the API promises.
    Protocol(String),
}

impl Fault {
    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::Protocol(message.into())
    }

    /// `{"error": {"code"|"type", "message"}}` (or Anthropic's top-level `type: error`).
    pub(crate) fn from_error_object(status: Option<u16>, body: &Value) -> Self {
        let error = body.get("error").unwrap_or(body);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let upstream_code = text(error.get("code")).or_else(|| text(error.get("type")));
        let message = text(error.get("message"))
            .or_else(|| error.as_str().map(str::to_string))
            .unwrap_or_else(|| prefix(&body.to_string()));
        Self::Remote { status, upstream_code, message }
    }

    /// An error status with whatever body came with it.
    pub(crate) fn from_status(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.get("error").is_some() => Self::from_error_object(Some(status), &v),
            _ => {
                let text = String::from_utf8_lossy(body);
                let message = if text.trim().is_empty() { "(empty body)".to_string() } else { prefix(text.trim()) };
                Self::Remote { status: Some(status), upstream_code: None, message }
            }
        }
    }

    pub(crate) fn into_error(self, endpoint: &str, retry_after_secs: Option<u64>, secrets: &[&str]) -> SippError {
        match self {
            Self::Remote { status, upstream_code, message } => {
                let failure = status
                    .map(RemoteFailure::from_status)
                    .or_else(|| upstream_code.as_deref().and_then(failure_of_code))
                    .unwrap_or(RemoteFailure::Execution);
                SippError::Remote {
                    endpoint: endpoint.to_string(),
                    failure,
                    status,
                    upstream_code: upstream_code.map(|c| clip(&crate::types::scrub(&c, secrets.iter().copied()), 64)),
                    message: masked_excerpt(&message, secrets),
                    retry_after_secs,
                }
            }
            Self::Protocol(message) => {
                SippError::Protocol { endpoint: endpoint.to_string(), message: masked_excerpt(&message, secrets) }
            }
        }
    }
}

/// Failure kind of an error code seen without a status (stream `error` events): the
/// gateway's own codes, and OpenAI's / Anthropic's error types.
fn failure_of_code(code: &str) -> Option<RemoteFailure> {
    Some(match code {
        "invalid_request"
        | "invalid_request_error"
        | "context_overflow"
        | "grammar"
        | "chat_template_missing"
        | "chat_template"
        | "unsupported_operation" => RemoteFailure::InvalidRequest,
        "authentication" | "authentication_error" | "invalid_api_key" => RemoteFailure::Authentication,
        "authorization" | "permission_error" => RemoteFailure::Authorization,
        "not_found" | "not_found_error" | "model_not_found" => RemoteFailure::NotFound,
        "payload_too_large" | "request_too_large" => RemoteFailure::PayloadTooLarge,
        "overloaded" | "rate_limit_error" | "rate_limit_exceeded" => RemoteFailure::Overloaded,
        "unavailable" | "overloaded_error" => RemoteFailure::Unavailable,
        "execution" | "api_error" | "server_error" => RemoteFailure::Execution,
        _ => return None,
    })
}

/// What an error message may quote of an upstream's text, in characters.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// Upstream text kept before masking: far more than [`EXCERPT_CHARS`] plus the longest
/// key, so every secret that could reach the excerpt is whole when it is masked.
const PREFIX_BYTES: usize = 8 * 1024;

/// `text`'s secrets masked, then cut to [`EXCERPT_CHARS`] (in that order).
pub(crate) fn masked_excerpt(text: &str, secrets: &[&str]) -> String {
    clip(&crate::types::scrub(text, secrets.iter().copied()), EXCERPT_CHARS)
}

/// The start of an upstream text that error messages are built from (a server may
/// answer with a whole HTML page, or megabytes of anything).
pub(crate) fn prefix(text: &str) -> String {
    let mut end = text.len().min(PREFIX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// [`prefix`] of anything printable: an answer quoted in a protocol error.
pub(crate) fn quote(value: &impl std::fmt::Display) -> String {
    prefix(&value.to_string())
}

/// At most `max` characters of `text`, with `…` when something was cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A reqwest error as one line: its own text and every cause (`connection refused` is
/// three levels down).
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_of_each_api() {
        let openai = json!({"error": {"message": "Incorrect API key provided: sk-abc", "type": "invalid_request_error", "code": "invalid_api_key"}});
        let anthropic = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}});
        let gateway = json!({"error": {"code": "authorization", "message": "token is not allowed to access target"}});
        let e = Fault::from_status(401, openai.to_string().as_bytes()).into_error("p", None, &["sk-abc"]);
        assert_eq!(e.code(), "authentication");
        assert_eq!(e.to_string(), "endpoint `p`: HTTP 401: Incorrect API key provided: [redacted]");
        let e = Fault::from_status(429, anthropic.to_string().as_bytes()).into_error("p", Some(3), &[]);
        assert!(
            matches!(e, SippError::Remote { retry_after_secs: Some(3), ref upstream_code, .. } if upstream_code.as_deref() == Some("rate_limit_error"))
        );
        assert_eq!(e.code(), "overloaded");
        let e = Fault::from_status(403, gateway.to_string().as_bytes()).into_error("g", None, &[]);
        assert_eq!((e.code(), e.http_status()), ("authorization", 403));
    }

    #[test]
    fn stream_errors_without_status_use_the_code() {
        let e = Fault::from_error_object(None, &json!({"error": {"code": "overloaded", "message": "busy"}}));
        assert_eq!(e.into_error("g", None, &[]).code(), "overloaded");
        let e = Fault::from_error_object(
            None,
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}),
        );
        assert_eq!(e.into_error("a", None, &[]).code(), "unavailable");
        let e = Fault::from_error_object(None, &json!({"error": {"code": "weird", "message": "x"}}));
        assert_eq!(e.into_error("a", None, &[]).code(), "execution");
    }

    #[test]
    fn non_json_bodies_are_clipped() {
        let page = "<html>".repeat(200);
        let e = Fault::from_status(502, page.as_bytes()).into_error("p", None, &[]);
        let SippError::Remote { message, .. } = e else { panic!() };
        assert!(message.chars().count() == EXCERPT_CHARS + 1 && message.ends_with('…'), "{message}");
        let Fault::Remote { message, .. } = Fault::from_status(500, b"") else { panic!() };
        assert_eq!(message, "(empty body)");
    }

    /// A key that straddles the excerpt's end is masked whole: masking comes first.
    #[test]
    fn a_key_across_the_cut_is_masked_whole() {
        let key = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz";
        for at in [EXCERPT_CHARS - 30, EXCERPT_CHARS - 1, EXCERPT_CHARS, 490, 499] {
            let body = format!("{}{key} trailing text", "x".repeat(at));
            for fault in [
                Fault::from_status(500, body.as_bytes()),
                Fault::from_status(400, json!({"error": {"message": body}}).to_string().as_bytes()),
                Fault::protocol(format!("response is not JSON: {body}")),
            ] {
                let shown = fault.into_error("p", None, &[key]).to_string();
                assert!(!shown.contains(&key[..12]), "{at}: {shown}");
                assert!(shown.chars().count() < EXCERPT_CHARS + 80, "{at}: {shown}");
            }
        }
    }
}
