//! The first-party JSON profile (spec: Gateway Testing) as a codec: request bodies into
//! typed Sipp requests plus their target, finite answers into JSON bodies. The wire
//! structs are `sipp::gateway_profile`'s, the ones Sipp's gateway endpoint sends.

use crate::error::GatewayHttpError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sipp::gateway_profile::{EmbedRequestBody, EmbedResponseBody, TextRequestBody, TextResponseBody};
use sipp::{SippEmbedRequest, SippEmbeddingResponse, SippTextRequest, SippTextResponse, TextPrompt};
use std::sync::LazyLock;

/// A decoded request and the public target it names (`model`).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<R> {
    pub target: String,
    /// `endpoint` is left unset: resolving the target is the application's policy. Body
    /// fields the profile does not define are in `endpoint_options`.
    pub request: R,
}

/// Request, response and error wire formats of one HTTP profile.
pub trait ProtocolCodec: Send + Sync {
    /// A `query` body: its request's prompt is raw text.
    fn decode_query(&self, body: &[u8]) -> Result<Decoded<SippTextRequest>, GatewayHttpError>;
    /// A `chat` body: its request's prompt is messages.
    fn decode_chat(&self, body: &[u8]) -> Result<Decoded<SippTextRequest>, GatewayHttpError>;
    fn decode_embed(&self, body: &[u8]) -> Result<Decoded<SippEmbedRequest>, GatewayHttpError>;
    fn encode_text(&self, target: &str, response: &SippTextResponse) -> Result<Vec<u8>, GatewayHttpError>;
    fn encode_embedding(&self, target: &str, response: &SippEmbeddingResponse) -> Result<Vec<u8>, GatewayHttpError>;
    fn encode_error(&self, error: &GatewayHttpError) -> Vec<u8> {
        error.body()
    }
}

/// Fields only an in-process engine understands (every local bucket's, also spelled as
/// the spec's JS packages spell them, plus the bucket itself and `media`, which no remote
/// kind takes): a gateway request carrying one is a 400, never silently dropped.
fn local_only() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut names: Vec<String> = Vec::new();
        for name in sipp::local_only_fields() {
            names.push(name.to_string());
            let camel = camel_case(name);
            if camel != name {
                names.push(camel);
            }
        }
        names.extend(["media".to_string(), "local".to_string()]);
        names
    });
    &NAMES
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The first-party Sipp JSON/SSE profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct GatewayCodec;

impl GatewayCodec {
    /// `/v1/query` and `/v1/chat` share one body; each route takes its own prompt field.
    fn decode_text(body: &[u8], chat: bool) -> Result<Decoded<SippTextRequest>, GatewayHttpError> {
        let b: TextRequestBody = parse(body)?;
        let prompt = match (chat, b.prompt, b.messages) {
            (false, _, Some(_)) => {
                return Err(GatewayHttpError::invalid_request(
                    "query takes `prompt`, not `messages`; use the chat route",
                ))
            }
            (false, Some(prompt), None) => TextPrompt::Raw(prompt),
            (false, None, None) => return Err(GatewayHttpError::invalid_request("query needs `prompt`")),
            (true, Some(_), _) => {
                return Err(GatewayHttpError::invalid_request(
                    "chat takes `messages`, not `prompt`; use the query route",
                ))
            }
            (true, None, None) => return Err(GatewayHttpError::invalid_request("chat needs `messages`")),
            (true, None, Some(m)) if m.is_empty() => {
                return Err(GatewayHttpError::invalid_request("chat needs at least one message"))
            }
            (true, None, Some(messages)) => TextPrompt::Messages(messages),
        };
        let target = check_target(b.model)?;
        b.options.validate().map_err(|e| GatewayHttpError::invalid_request(e.to_string()))?;
        let request = SippTextRequest {
            prompt,
            options: b.options,
            endpoint_options: check_extra(b.extra)?,
            emit_tokens: b.stream,
            ..Default::default()
        };
        Ok(Decoded { target, request })
    }
}

impl ProtocolCodec for GatewayCodec {
    fn decode_query(&self, body: &[u8]) -> Result<Decoded<SippTextRequest>, GatewayHttpError> {
        Self::decode_text(body, false)
    }

    fn decode_chat(&self, body: &[u8]) -> Result<Decoded<SippTextRequest>, GatewayHttpError> {
        Self::decode_text(body, true)
    }

    fn decode_embed(&self, body: &[u8]) -> Result<Decoded<SippEmbedRequest>, GatewayHttpError> {
        let b: EmbedRequestBody = parse(body)?;
        let target = check_target(b.model)?;
        let extra = check_extra(b.extra)?;
        if extra.contains_key("stream") {
            return Err(GatewayHttpError::invalid_request("embed answers one vector and does not stream"));
        }
        let request = SippEmbedRequest { input: b.input, endpoint_options: extra, ..Default::default() };
        Ok(Decoded { target, request })
    }

    fn encode_text(&self, target: &str, response: &SippTextResponse) -> Result<Vec<u8>, GatewayHttpError> {
        let body = TextResponseBody {
            id: "response".into(),
            model: target.into(),
            text: response.text.clone(),
            finish_reason: response.finish_reason,
            usage: response.usage,
        };
        encode(&body)
    }

    fn encode_embedding(&self, target: &str, response: &SippEmbeddingResponse) -> Result<Vec<u8>, GatewayHttpError> {
        let body = EmbedResponseBody {
            id: "response".into(),
            model: target.into(),
            embedding: response.values.clone(),
            usage: response.usage,
            pooling: response.pooling,
        };
        encode(&body)
    }
}

fn check_target(model: String) -> Result<String, GatewayHttpError> {
    if model.trim().is_empty() {
        return Err(GatewayHttpError::invalid_request("`model` must name a target"));
    }
    Ok(model)
}

fn check_extra(extra: Map<String, Value>) -> Result<Map<String, Value>, GatewayHttpError> {
    let local: Vec<&str> = extra.keys().map(String::as_str).filter(|k| local_only().iter().any(|n| n == k)).collect();
    if !local.is_empty() {
        return Err(GatewayHttpError::invalid_request(format!(
            "{} {} local-only and not accepted by a gateway",
            local.join(", "),
            if local.len() == 1 { "is" } else { "are" }
        )));
    }
    Ok(extra)
}

pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, GatewayHttpError> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() { "the body is not valid JSON" } else { "invalid request body" };
        GatewayHttpError::invalid_request(format!("{what}: {e}"))
    })
}

fn encode<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, GatewayHttpError> {
    serde_json::to_vec(body).map_err(|e| {
        GatewayHttpError::new(http::StatusCode::INTERNAL_SERVER_ERROR, "execution", format!("encoding the answer: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sipp::engine::ChatRole;
    use sipp::{FinishReason, Usage};

    fn bytes(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    #[test]
    fn decodes_the_testing_page_bodies() {
        let c = GatewayCodec;
        let q = c
            .decode_query(&bytes(
                &json!({"model": "local", "prompt": "Explain.", "max_tokens": 64, "temperature": 0.2, "stream": true}),
            ))
            .unwrap();
        assert_eq!(q.target, "local");
        assert_eq!(
            (q.request.prompt.as_raw(), q.request.options.max_tokens, q.request.emit_tokens),
            (Some("Explain."), Some(64), true)
        );
        let chat = c
            .decode_chat(&bytes(&json!({"model": "local", "messages": [
                {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What does the gateway own?"}]})))
            .unwrap();
        assert_eq!(chat.request.prompt.messages().unwrap()[0].role, ChatRole::System);
        let e = c.decode_embed(&bytes(&json!({"model": "local", "input": "gateway inference"}))).unwrap();
        assert_eq!(e.request.input, "gateway inference");
    }

    #[test]
    fn bad_bodies_are_400_with_a_reason() {
        let c = GatewayCodec;
        let cases: [(&[u8], &str); 11] = [
            (b"{not json", "not valid JSON"),
            (br#"{"model": "local"}"#, "query needs `prompt`"),
            (br#"{"model": "", "prompt": "x"}"#, "`model` must name a target"),
            (br#"{"model": "l", "prompt": "x", "messages": []}"#, "use the chat route"),
            (br#"{"model": "l", "prompt": "x", "max_tokens": "64"}"#, "invalid type"),
            (br#"{"model": "l", "prompt": "x", "temperature": -1}"#, "temperature must be"),
            // 1e39 is past f32's range: it would arrive as infinity.
            (br#"{"model": "l", "prompt": "x", "temperature": 1e39}"#, "temperature must be a finite number"),
            (br#"{"model": "l", "prompt": "x", "stop": ["\n", ""]}"#, "stop[1] is empty"),
            (
                br#"{"model": "l", "prompt": "x", "context_key": "k", "grammar": "g"}"#,
                "context_key, grammar are local-only",
            ),
            (br#"{"model": "l", "prompt": "x", "max_tokens": 0}"#, "max_tokens must be at least 1"),
            (br#"{"prompt": "x"}"#, "missing field `model`"),
        ];
        for (body, says) in cases {
            let e = c.decode_query(body).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "invalid_request"));
            assert!(e.message.contains(says), "{}: {e}", String::from_utf8_lossy(body));
        }
        let e = c.decode_chat(br#"{"model": "l", "messages": [{"role": "tool", "content": "x"}]}"#).unwrap_err();
        assert!(e.message.contains("unknown variant `tool`"), "{e}");
        let e = c.decode_embed(br#"{"model": "l", "input": "x", "normalize": true}"#).unwrap_err();
        assert!(e.message.contains("normalize is local-only"), "{e}");
        let e = c.decode_embed(br#"{"model": "l", "input": "x", "stream": true}"#).unwrap_err();
        assert!(e.message.contains("does not stream"), "{e}");
    }

    /// A shared option exists once, in `SippTextOptions`: the profile body takes it under
    /// its own name and validates it there.
    #[test]
    fn shared_options_decode_from_the_flattened_body() {
        let q = GatewayCodec.decode_query(br#"{"model": "l", "prompt": "x", "min_p": 0.05, "seed": 3}"#).unwrap();
        assert_eq!((q.request.options.min_p, q.request.options.seed), (Some(0.05), Some(3)));
        assert!(q.request.endpoint_options.is_empty());
        let e = GatewayCodec.decode_query(br#"{"model": "l", "prompt": "x", "min_p": 2}"#).unwrap_err();
        assert!(e.message.contains("min_p must be within [0, 1]"), "{e}");
    }

    #[test]
    fn unknown_fields_become_endpoint_options() {
        let q = GatewayCodec.decode_query(br#"{"model": "l", "prompt": "x", "priority": "low"}"#).unwrap();
        assert_eq!(q.request.endpoint_options.get("priority"), Some(&json!("low")));
    }

    #[test]
    fn encodes_the_testing_page_answers() {
        let r = SippTextResponse {
            text: "A gateway centralizes inference.".into(),
            finish_reason: FinishReason::Stop,
            usage: Some(Usage { input_tokens: 8, output_tokens: 12, total_tokens: 20 }),
            local_stats: None,
        };
        let v: Value = serde_json::from_slice(&GatewayCodec.encode_text("local", &r).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"id": "response", "model": "local", "text": "A gateway centralizes inference.", "finish_reason": "stop",
                   "usage": {"input_tokens": 8, "output_tokens": 12, "total_tokens": 20}})
        );
        let e = SippEmbeddingResponse { values: vec![0.5, -0.25], usage: None, pooling: None, normalized: false };
        let v: Value = serde_json::from_slice(&GatewayCodec.encode_embedding("local", &e).unwrap()).unwrap();
        assert_eq!(v, json!({"id": "response", "model": "local", "embedding": [0.5, -0.25]}));
    }
}
