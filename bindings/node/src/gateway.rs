//! The gateway profile helpers' native half: the first-party codec of `sipp-gateway`, so a
//! Node route speaks exactly the bytes the Rust gateway and the gateway endpoint do.

use crate::errors::invalid_request;
use crate::shape::{inbound, outbound, parse};
use napi_derive::napi;
use serde_json::Value;
use sipp::{SippEmbeddingResponse, SippTextResponse, TokenBatch};
use sipp_gateway::{GatewayCodec, GatewayHttpError, ProtocolCodec, SseEncoder};

fn invalid(e: &GatewayHttpError) -> napi::Error {
    invalid_request(e.message.clone())
}

/// A decoded profile body: its `model`, whether it asked to stream, and the request as
/// `client.query`/`chat`/`embed` take it.
#[derive(Debug)]
#[napi(object)]
pub struct DecodedBody {
    pub target: String,
    pub stream: bool,
    pub request: Value,
}

/// Decode a body (`operation` query, chat or embed); a bad one throws
/// `InvalidRequestError` (HTTP 400).
#[napi]
pub fn gateway_decode(operation: String, body: String) -> napi::Result<DecodedBody> {
    let c = GatewayCodec;
    let bytes = body.as_bytes();
    let (target, stream, request) = match operation.as_str() {
        "query" | "chat" => {
            let d = if operation == "query" { c.decode_query(bytes) } else { c.decode_chat(bytes) };
            let d = d.map_err(|e| invalid(&e))?;
            let stream = d.request.emit_tokens;
            (d.target, stream, document(&d.request, "SippTextRequest")?)
        }
        "embed" => {
            let d = c.decode_embed(bytes).map_err(|e| invalid(&e))?;
            (d.target, false, document(&d.request, "SippEmbedRequest")?)
        }
        other => return Err(invalid_request(format!("unknown operation `{other}`"))),
    };
    Ok(DecodedBody { target, stream, request })
}

fn document<T: serde::Serialize>(value: &T, def: &str) -> napi::Result<Value> {
    let v = serde_json::to_value(value).map_err(|e| invalid_request(format!("cannot encode the request: {e}")))?;
    Ok(outbound(v, def))
}

fn response<T: serde::de::DeserializeOwned>(js: Value, def: &str) -> napi::Result<T> {
    let doc = inbound(js, def, "response").map_err(invalid_request)?;
    parse(doc, def, "response").map_err(invalid_request)
}

fn json_body(bytes: &[u8]) -> napi::Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| invalid_request(format!("the codec wrote no JSON: {e}")))
}

/// A finished query/chat as the profile's JSON body.
#[napi]
pub fn gateway_encode_text(target: String, response: Value) -> napi::Result<Value> {
    let r: SippTextResponse = self::response(response, "SippTextResponse")?;
    json_body(&GatewayCodec.encode_text(&target, &r).map_err(|e| invalid(&e))?)
}

/// A finished embed as the profile's JSON body.
#[napi]
pub fn gateway_encode_embedding(target: String, response: Value) -> napi::Result<Value> {
    let r: SippEmbeddingResponse = self::response(response, "SippEmbeddingResponse")?;
    json_body(&GatewayCodec.encode_embedding(&target, &r).map_err(|e| invalid(&e))?)
}

/// `event: token` for one batch.
#[napi]
pub fn gateway_sse_token(text: String, sequence: i64) -> String {
    let batch = TokenBatch { text, token_ids: Vec::new(), sequence: u64::try_from(sequence).unwrap_or(0) };
    String::from_utf8_lossy(&SseEncoder.token(&batch)).into_owned()
}

/// `event: usage` (if counted) and `event: done` for a finished run.
#[napi]
pub fn gateway_sse_finish(response: Value) -> napi::Result<String> {
    let r: SippTextResponse = self::response(response, "SippTextResponse")?;
    Ok(String::from_utf8_lossy(&SseEncoder.finish(&r)).into_owned())
}

/// An error as the profile answers it.
#[derive(Debug)]
#[napi(object)]
pub struct GatewayErrorParts {
    pub status: u16,
    pub body: Value,
    /// The same error as an `event: error` frame, for a stream that already started.
    pub sse_frame: String,
    /// The code's default `Retry-After` seconds.
    pub retry_after: Option<u32>,
}

#[napi]
pub fn gateway_error(code: String, message: String) -> napi::Result<GatewayErrorParts> {
    let e = match sipp::ErrorCode::parse(&code) {
        Some(c) => GatewayHttpError::of(c, &message),
        None => GatewayHttpError::new(sipp_gateway::StatusCode::INTERNAL_SERVER_ERROR, &code, &message),
    };
    Ok(GatewayErrorParts {
        status: e.status.as_u16(),
        body: json_body(&e.body())?,
        sse_frame: String::from_utf8_lossy(&SseEncoder.error(&e)).into_owned(),
        retry_after: e.retry_after_secs.map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
    })
}
