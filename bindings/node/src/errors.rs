//! The one mapping from `SippError` to what JavaScript receives. napi errors carry a
//! message only, so the error travels as a JSON document behind a fixed prefix; the
//! package's `errors.ts` turns it into the class of its code (`InvalidRequestError`, …)
//! with `.code`, `.status`, `.upstreamCode` and `.retryAfter`, as Python's classes do.

use sipp::SippError;

/// What `errors.ts` looks for at the start of a native error's message.
const PREFIX: &str = "sipp-error:";

pub(crate) fn to_js(error: &SippError) -> napi::Error {
    let (status, upstream_code, retry_after) = match error {
        SippError::Remote { status, upstream_code, retry_after_secs, .. } => {
            (*status, upstream_code.clone(), retry_after_secs.map(|s| s as f64))
        }
        _ => (None, None, None),
    };
    let document = serde_json::json!({
        "code": error.code(),
        "message": error.to_string(),
        "status": status,
        "upstreamCode": upstream_code,
        "retryAfter": retry_after,
    });
    napi::Error::from_reason(format!("{PREFIX}{document}"))
}

/// Convenience for `Result<T, SippError>`.
pub(crate) trait IntoJsResult<T> {
    fn js(self) -> napi::Result<T>;
}

impl<T> IntoJsResult<T> for Result<T, SippError> {
    fn js(self) -> napi::Result<T> {
        self.map_err(|e| to_js(&e))
    }
}

/// A caller's bad descriptor or request field.
pub(crate) fn invalid_request(message: String) -> napi::Error {
    to_js(&SippError::InvalidRequest(message))
}

pub(crate) fn invalid_config(message: String) -> napi::Error {
    to_js(&SippError::InvalidConfig(message))
}
