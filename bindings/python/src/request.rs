//! Requests as Python holds them: the core serde types, built once from the facade's JSON
//! or decoded straight from a gateway-profile body, and handed to the client as they are.

use crate::errors::{bad_json, IntoPyResult};
use pyo3::prelude::*;
use sipp::{EndpointKind, EndpointRef, SippEmbedRequest, SippError, SippTextRequest};

/// A text request (`query` or `chat`) in its native form.
#[derive(Debug, Clone)]
#[pyclass(frozen, module = "sipp._sipp")]
pub struct NativeTextRequest {
    pub(crate) request: SippTextRequest,
}

/// An embed request in its native form.
#[derive(Debug, Clone)]
#[pyclass(frozen, module = "sipp._sipp")]
pub struct NativeEmbedRequest {
    pub(crate) request: SippEmbedRequest,
}

#[pymethods]
impl NativeTextRequest {
    /// The request as a JSON document, for the facade's read-only view of it.
    fn view(&self) -> PyResult<String> {
        serde_json::to_string(&self.request).map_err(|e| bad_json("text request", &e))
    }
}

#[pymethods]
impl NativeEmbedRequest {
    fn view(&self) -> PyResult<String> {
        serde_json::to_string(&self.request).map_err(|e| bad_json("embed request", &e))
    }
}

/// What the facade passes: the JSON it built from keyword arguments, or a native request.
pub(crate) fn text(given: &Bound<'_, PyAny>) -> PyResult<SippTextRequest> {
    if let Ok(native) = given.cast::<NativeTextRequest>() {
        return Ok(native.get().request.clone());
    }
    serde_json::from_str(&given.extract::<String>()?).map_err(|e| bad_json("request options", &e))
}

pub(crate) fn embed(given: &Bound<'_, PyAny>) -> PyResult<SippEmbedRequest> {
    if let Ok(native) = given.cast::<NativeEmbedRequest>() {
        return Ok(native.get().request.clone());
    }
    serde_json::from_str(&given.extract::<String>()?).map_err(|e| bad_json("embed options", &e))
}

/// An `EndpointRef` from the facade's (kind, id) pair.
pub(crate) fn endpoint_ref((kind, id): (String, String)) -> PyResult<EndpointRef> {
    let kind: EndpointKind = serde_json::from_value(serde_json::Value::String(kind))
        .map_err(|e| SippError::InvalidRequest(format!("endpoint kind: {e}")))
        .py()?;
    Ok(EndpointRef { kind, id })
}
