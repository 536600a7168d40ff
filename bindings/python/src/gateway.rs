//! `sipp.gateway`'s native half: the first-party profile codec of `sipp-gateway`, so a
//! Python web app speaks exactly the bytes the Rust gateway and the gateway endpoint do.
//! Requests and responses cross as JSON documents of the core serde types.

use crate::errors::to_py;
use crate::request::{NativeEmbedRequest, NativeTextRequest};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sipp::{SippEmbeddingResponse, SippError, SippTextResponse, TokenBatch};
use sipp_gateway::{GatewayCodec, GatewayHttpError, ProtocolCodec, SseEncoder};

fn invalid(e: &GatewayHttpError) -> PyErr {
    to_py(&SippError::InvalidRequest(e.message.clone()))
}

fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| to_py(&SippError::InvalidRequest(format!("{what}: {e}"))))
}

/// Decode a profile request body (`operation`: query, chat or embed) into its target and
/// a native request the client runs as it is; a bad body raises `InvalidRequestError`
/// (HTTP 400).
#[pyfunction]
pub(crate) fn gateway_decode(py: Python<'_>, operation: &str, body: &[u8]) -> PyResult<(String, Py<PyAny>)> {
    let c = GatewayCodec;
    let (target, request) = match operation {
        "query" | "chat" => {
            let d = if operation == "query" { c.decode_query(body) } else { c.decode_chat(body) };
            let d = d.map_err(|e| invalid(&e))?;
            (d.target, Py::new(py, NativeTextRequest { request: d.request })?.into_any())
        }
        "embed" => {
            let d = c.decode_embed(body).map_err(|e| invalid(&e))?;
            (d.target, Py::new(py, NativeEmbedRequest { request: d.request })?.into_any())
        }
        other => return Err(to_py(&SippError::InvalidRequest(format!("unknown operation `{other}`")))),
    };
    Ok((target, request))
}

/// A finished query/chat as the profile's JSON body.
#[pyfunction]
pub(crate) fn gateway_encode_text<'py>(
    py: Python<'py>,
    target: &str,
    response_json: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let response: SippTextResponse = parse(response_json, "text response")?;
    let body = GatewayCodec.encode_text(target, &response).map_err(|e| invalid(&e))?;
    Ok(PyBytes::new(py, &body))
}

/// A finished embed as the profile's JSON body.
#[pyfunction]
pub(crate) fn gateway_encode_embedding<'py>(
    py: Python<'py>,
    target: &str,
    response_json: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let response: SippEmbeddingResponse = parse(response_json, "embedding response")?;
    let body = GatewayCodec.encode_embedding(target, &response).map_err(|e| invalid(&e))?;
    Ok(PyBytes::new(py, &body))
}

/// `event: token` for one batch.
#[pyfunction]
pub(crate) fn gateway_sse_token<'py>(py: Python<'py>, text: String, sequence: u64) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &SseEncoder.token(&TokenBatch { text, token_ids: Vec::new(), sequence }))
}

/// `event: usage` (if counted) and `event: done` for a finished run.
#[pyfunction]
pub(crate) fn gateway_sse_finish<'py>(py: Python<'py>, response_json: &str) -> PyResult<Bound<'py, PyBytes>> {
    let response: SippTextResponse = parse(response_json, "text response")?;
    Ok(PyBytes::new(py, &SseEncoder.finish(&response)))
}

/// An error as (status, body) for a JSON answer, the SSE `error` frame for a stream that
/// already started, and the code's default `Retry-After` seconds.
#[pyfunction]
pub(crate) fn gateway_error<'py>(
    py: Python<'py>,
    code: &str,
    message: &str,
) -> (u16, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Option<u64>) {
    let e = match sipp::ErrorCode::parse(code) {
        Some(c) => GatewayHttpError::of(c, message),
        None => GatewayHttpError::new(sipp_gateway::StatusCode::INTERNAL_SERVER_ERROR, code, message),
    };
    (e.status.as_u16(), PyBytes::new(py, &e.body()), PyBytes::new(py, &SseEncoder.error(&e)), e.retry_after_secs)
}
