//! `sipp.gateway`'s native half: the first-party profile codec of `sipp-gateway`, so a
//! Python web app speaks exactly the bytes the Rust gateway and the gateway endpoint do.
//! Requests and responses cross as JSON documents of the core serde types.

use crate::errors::to_py;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::Serialize;
use sipp::{SippEmbeddingResponse, SippError, SippTextResponse, TokenBatch};
use sipp_gateway::{GatewayCodec, GatewayHttpError, ProtocolCodec, SseEncoder};

#[derive(Serialize)]
struct DecodedDoc<R> {
    target: String,
    request: R,
}

fn invalid(e: &GatewayHttpError) -> PyErr {
    to_py(&SippError::InvalidRequest(e.message.clone()))
}

fn doc<R: Serialize>(target: String, request: R) -> PyResult<String> {
    serde_json::to_string(&DecodedDoc { target, request }).map_err(|e| to_py(&SippError::InvalidRequest(e.to_string())))
}

fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| to_py(&SippError::InvalidRequest(format!("{what}: {e}"))))
}

/// Decode a profile request body (`operation`: query, chat or embed) into
/// `{"target", "request"}`; a bad body raises `InvalidRequestError` (HTTP 400).
#[pyfunction]
pub(crate) fn gateway_decode(operation: &str, body: &[u8]) -> PyResult<String> {
    let c = GatewayCodec;
    match operation {
        "query" => c.decode_query(body).map_err(|e| invalid(&e)).and_then(|d| doc(d.target, d.request)),
        "chat" => c.decode_chat(body).map_err(|e| invalid(&e)).and_then(|d| doc(d.target, d.request)),
        "embed" => c.decode_embed(body).map_err(|e| invalid(&e)).and_then(|d| doc(d.target, d.request)),
        other => Err(to_py(&SippError::InvalidRequest(format!("unknown operation `{other}`")))),
    }
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

/// An error as (status, body) for a JSON answer, plus the SSE `error` frame for a
/// stream that already started.
#[pyfunction]
pub(crate) fn gateway_error<'py>(
    py: Python<'py>,
    code: &str,
    message: &str,
) -> (u16, Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    let status = sipp::status_of_code(code);
    let e = GatewayHttpError::new(http_status(status), code, message);
    (status, PyBytes::new(py, &e.body()), PyBytes::new(py, &SseEncoder.error(&e)))
}

fn http_status(status: u16) -> sipp_gateway::StatusCode {
    sipp_gateway::StatusCode::from_u16(status).unwrap_or(sipp_gateway::StatusCode::INTERNAL_SERVER_ERROR)
}
