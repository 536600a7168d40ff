//! What a remote API adapter supplies: request bodies for each operation, and readers
//! for its JSON answers and stream events. The transport does the rest, the same way
//! for every API.

use super::failure::Fault;
use crate::error::{Result, SippError};
use crate::types::endpoint::Operation;
use crate::types::{EndpointKind, FinishReason, SippEmbeddingResponse, SippTextResponse, Usage};
use crate::types::{SippEmbedRequest, SippTextRequest};
use serde_json::{Map, Value};

/// One HTTP call an adapter wants made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// Appended to the endpoint's base URL.
    pub path: String,
    pub body: Value,
    /// Ask for server-sent events.
    pub stream: bool,
}

/// What one stream event said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StreamItem {
    Text(String),
    Usage(Usage),
    Finish(FinishReason),
    /// The API's final event: nothing follows.
    End,
}

/// Reads one API's stream events in order (some APIs spread usage across events).
pub(crate) trait StreamDecoder: Send {
    /// `event` is the SSE event name (`message` when the frame named none).
    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamItem>, Fault>;
}

/// One remote API.
pub(crate) trait Wire: Send + Sync + std::fmt::Debug + 'static {
    fn kind(&self) -> EndpointKind;
    fn supports(&self, op: Operation) -> bool;
    /// Why `op` is not supported, for the error.
    fn unsupported_reason(&self, op: Operation) -> String {
        format!("this {} endpoint does not offer {}", self.kind(), op.name())
    }
    /// Validate the request for this API and build its call (`stream` = `emit_tokens`).
    fn text_call(&self, request: &SippTextRequest) -> Result<Call>;
    fn embed_call(&self, request: &SippEmbedRequest) -> Result<Call>;
    fn text_response(&self, body: &Value) -> Result<SippTextResponse, Fault>;
    fn embed_response(&self, body: &Value) -> Result<SippEmbeddingResponse, Fault>;
    fn decoder(&self) -> Box<dyn StreamDecoder>;
}

/// Merge a free-form option bucket into `body`. Keys that Sipp sets from typed options
/// are refused, whether or not this request set them: a bucket must not silently win
/// over (or lose to) a typed field.
pub(crate) fn merge_options(
    body: &mut Map<String, Value>,
    extra: &Map<String, Value>,
    typed: &[&str],
    bucket: &str,
) -> Result<()> {
    if let Some(key) = extra.keys().find(|k| typed.contains(&k.as_str())) {
        return Err(SippError::InvalidRequest(format!(
            "{bucket} may not set `{key}`: Sipp sets it from the request itself (messages, prompt, input, \
             SippTextOptions); typed fields owned by Sipp: {}",
            typed.join(", ")
        )));
    }
    for (k, v) in extra {
        body.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// `normalized` of a remote vector: measured, since the API does not say.
pub(crate) fn is_unit_length(values: &[f32]) -> bool {
    let norm: f64 = values.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
    (norm - 1.0).abs() < 1e-3
}

/// The string at `pointer` in `v`: `None` when absent or null, a protocol fault when it
/// is anything else (`"content": 12345` is a broken answer, not an empty one).
pub(crate) fn text_at<'a>(v: &'a Value, pointer: &str) -> Result<Option<&'a str>, Fault> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Fault::protocol(format!(
            "`{}` is {} where text belongs: {}",
            pointer.trim_start_matches('/').replace('/', "."),
            kind_of(other),
            super::failure::quote(other)
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Read a JSON stream payload.
pub(crate) fn parse_data(data: &str) -> Result<Value, Fault> {
    serde_json::from_str(data)
        .map_err(|e| Fault::protocol(format!("stream event is not JSON ({e}): {}", super::failure::prefix(data))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_keys_cannot_be_overridden() {
        let mut body = Map::new();
        let extra = json!({"reasoning_effort": "low", "temperature": 2}).as_object().unwrap().clone();
        let e = merge_options(&mut body, &extra, &["model", "temperature"], "provider_options").unwrap_err();
        assert!(e.to_string().contains("provider_options may not set `temperature`"), "{e}");
        assert!(body.is_empty(), "nothing merged from a refused bucket");
        let extra = json!({"reasoning_effort": "low"}).as_object().unwrap().clone();
        merge_options(&mut body, &extra, &["model"], "provider_options").unwrap();
        assert_eq!(Value::Object(body), json!({"reasoning_effort": "low"}));
    }

    #[test]
    fn text_fields_of_the_wrong_type_are_faults() {
        let v = json!({"a": {"s": "x", "n": 12345, "z": null, "o": {}}});
        assert_eq!(text_at(&v, "/a/s").unwrap(), Some("x"));
        assert_eq!(text_at(&v, "/a/z").unwrap(), None);
        assert_eq!(text_at(&v, "/a/missing").unwrap(), None);
        let Fault::Protocol(m) = text_at(&v, "/a/n").unwrap_err() else { panic!() };
        assert_eq!(m, "`a.n` is a number where text belongs: 12345");
        assert!(text_at(&v, "/a/o").is_err());
    }

    #[test]
    fn unit_length() {
        assert!(is_unit_length(&[0.6, 0.8]));
        assert!(!is_unit_length(&[3.0, 4.0]));
    }
}
