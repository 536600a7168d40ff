//! OpenAI's public API as a second codec (beyond the spec), so the official `openai` SDKs
//! and everything built on them can call a Sipp gateway: `/chat/completions`,
//! `/completions`, `/embeddings`, `/models`. Requests decode into the same typed Sipp
//! requests as the first-party profile. Fields with no Sipp meaning are refused with a
//! 400 naming them, unless their value is the one OpenAI itself defaults to (`n: 1`,
//! `presence_penalty: 0`, …): an answer that silently ignored `n: 3` or `tools` would be
//! a wrong answer.

use crate::error::GatewayHttpError;
use crate::stream::StreamEncoder;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sipp::engine::{ChatMessage, ChatRole};
use sipp::{
    FinishReason, SippEmbedRequest, SippEmbeddingResponse, SippTextOptions, SippTextRequest, SippTextResponse,
    TokenBatch, Usage,
};

/// A decoded text request (chat or legacy completion) and how to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiText<R> {
    /// `model`: the gateway target.
    pub target: String,
    /// `endpoint` is unset: resolving the target is the application's policy.
    pub request: R,
    /// `stream_options.include_usage`: one last chunk with `usage` and no choices.
    pub include_usage: bool,
}

/// A decoded `/embeddings` request: one Sipp embed per input string.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiEmbeddings {
    pub target: String,
    pub inputs: Vec<SippEmbedRequest>,
    /// `encoding_format: "base64"`: little-endian f32 bytes, base64-encoded.
    pub base64: bool,
}

/// Which object an answer is: `chat.completion` or `text_completion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiRoute {
    Chat,
    Completion,
}

/// What every answer object carries besides the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiAnswer {
    /// The response id (`chatcmpl-…` / `cmpl-…` is prefixed here).
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The target name, echoed as `model`.
    pub model: String,
    pub route: OpenAiRoute,
}

impl OpenAiAnswer {
    fn object_id(&self) -> String {
        match self.route {
            OpenAiRoute::Chat => format!("chatcmpl-{}", self.id),
            OpenAiRoute::Completion => format!("cmpl-{}", self.id),
        }
    }
}

/// Fields OpenAI defines that are accepted only at their default value, which is what
/// Sipp does anyway; `user` only labels the end user for OpenAI's abuse monitoring.
const DEFAULT_ONLY: &[(&str, &[&str])] = &[
    ("n", &["1"]),
    ("best_of", &["1"]),
    ("presence_penalty", &["0", "0.0"]),
    ("frequency_penalty", &["0", "0.0"]),
    ("logprobs", &["false", "null", "0"]),
    ("echo", &["false"]),
    ("suffix", &["null"]),
    ("response_format", &[r#"{"type":"text"}"#]),
    ("parallel_tool_calls", &["null"]),
    ("store", &["false", "null"]),
];
const IGNORED: &[&str] = &["user"];

#[derive(Deserialize)]
struct ChatBody {
    model: String,
    messages: Vec<InMessage>,
    #[serde(flatten)]
    text: TextFields,
}

#[derive(Deserialize)]
struct CompletionBody {
    model: String,
    prompt: Prompt,
    #[serde(flatten)]
    text: TextFields,
}

#[derive(Deserialize)]
struct TextFields {
    /// OpenAI's newer name for `max_tokens`; it wins when both are given.
    max_completion_tokens: Option<u32>,
    /// OpenAI also takes a single string here.
    stop: Option<Strings>,
    #[serde(default)]
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    /// Every other shared option under its own name (OpenAI's and Sipp's agree).
    #[serde(flatten)]
    options: SippTextOptions,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Strings {
    One(String),
    Many(Vec<String>),
}

impl Strings {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(Strings),
    /// Token ids: a Sipp target tokenizes for itself.
    Tokens(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InMessage {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct EmbeddingsBody {
    model: String,
    input: Prompt,
    encoding_format: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// The OpenAI-compatible codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiCodec;

impl OpenAiCodec {
    /// `POST /chat/completions`.
    pub fn decode_chat(&self, body: &[u8]) -> Result<OpenAiText<SippTextRequest>, GatewayHttpError> {
        let b: ChatBody = parse(body)?;
        let target = check_target(b.model)?;
        if b.messages.is_empty() {
            return Err(invalid("messages", "`messages` needs at least one message"));
        }
        let messages = b.messages.into_iter().map(message).collect::<Result<Vec<_>, _>>()?;
        let (options, stream, include_usage) = text_options(b.text)?;
        let request = SippTextRequest { prompt: messages.into(), options, emit_tokens: stream, ..Default::default() };
        Ok(OpenAiText { target, request, include_usage })
    }

    /// `POST /completions` (a raw prompt: Sipp's `query`).
    pub fn decode_completion(&self, body: &[u8]) -> Result<OpenAiText<SippTextRequest>, GatewayHttpError> {
        let b: CompletionBody = parse(body)?;
        let target = check_target(b.model)?;
        let mut prompts = prompt_strings(b.prompt, "prompt")?;
        if prompts.len() != 1 {
            return Err(invalid("prompt", "`prompt` must be one string (batches of prompts are not supported)"));
        }
        let prompt = prompts.remove(0);
        let (options, stream, include_usage) = text_options(b.text)?;
        let request = SippTextRequest { prompt: prompt.into(), options, emit_tokens: stream, ..Default::default() };
        Ok(OpenAiText { target, request, include_usage })
    }

    /// `POST /embeddings`: a string or an array of strings.
    pub fn decode_embeddings(&self, body: &[u8]) -> Result<OpenAiEmbeddings, GatewayHttpError> {
        let b: EmbeddingsBody = parse(body)?;
        let target = check_target(b.model)?;
        check_extra(&b.extra)?;
        let base64 = match b.encoding_format.as_deref() {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                return Err(invalid("encoding_format", format!("encoding_format must be float or base64, not {other}")))
            }
        };
        let inputs = prompt_strings(b.input, "input")?;
        if inputs.is_empty() {
            return Err(invalid("input", "`input` needs at least one string"));
        }
        let inputs = inputs.into_iter().map(|input| SippEmbedRequest { input, ..Default::default() }).collect();
        Ok(OpenAiEmbeddings { target, inputs, base64 })
    }

    /// The finished answer object.
    #[must_use]
    pub fn encode_text(&self, answer: &OpenAiAnswer, response: &SippTextResponse) -> Vec<u8> {
        let text = response.text.as_str();
        let (message, text) = match answer.route {
            OpenAiRoute::Chat => (Some(AnswerMessage { content: text, refusal: None, role: "assistant" }), None),
            OpenAiRoute::Completion => (None, Some(text)),
        };
        let body = TextAnswer {
            choices: [AnswerChoice {
                finish_reason: finish_reason(response.finish_reason),
                index: 0,
                logprobs: None,
                message,
                text,
            }],
            created: answer.created,
            id: answer.object_id(),
            model: &answer.model,
            object: object(answer.route, false),
            system_fingerprint: None,
            usage: response.usage.as_ref().map(AnswerUsage::from),
        };
        // Plain structs always serialize.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The `list` of embeddings, in input order.
    #[must_use]
    pub fn encode_embeddings(&self, model: &str, responses: &[SippEmbeddingResponse], base64: bool) -> Vec<u8> {
        let data: Vec<Value> = responses
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let embedding = if base64 {
                    let bytes: Vec<u8> = r.values.iter().flat_map(|v| v.to_le_bytes()).collect();
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes))
                } else {
                    json!(r.values)
                };
                json!({"object": "embedding", "index": index, "embedding": embedding})
            })
            .collect();
        let prompt_tokens: u32 = responses.iter().filter_map(|r| r.usage).map(|u| u.input_tokens).sum();
        to_vec(&json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }))
    }

    /// `GET /models`: the targets this caller may use.
    #[must_use]
    pub fn encode_models<'a>(&self, targets: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
        let data: Vec<Value> = targets.into_iter().map(model_object).collect();
        to_vec(&json!({"object": "list", "data": data}))
    }

    /// `GET /models/{id}`.
    #[must_use]
    pub fn encode_model(&self, target: &str) -> Vec<u8> {
        to_vec(&model_object(target))
    }

    /// OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`; `code`
    /// keeps Sipp's stable code.
    #[must_use]
    pub fn encode_error(&self, error: &GatewayHttpError) -> Vec<u8> {
        to_vec(&error_value(error))
    }

    /// Frames for one streamed answer (`data:` chunks, then `data: [DONE]`).
    #[must_use]
    pub fn stream_encoder(&self, answer: OpenAiAnswer, include_usage: bool) -> OpenAiStream {
        OpenAiStream { answer, include_usage, started: false }
    }
}

/// One OpenAI stream: a `role` delta first (chat), a chunk per token batch, a last chunk
/// with `finish_reason`, the usage chunk when asked for, and `[DONE]`.
#[derive(Debug, Clone)]
pub struct OpenAiStream {
    answer: OpenAiAnswer,
    include_usage: bool,
    started: bool,
}

impl OpenAiStream {
    fn chunk(&self, text: Option<&str>, reason: Option<&str>) -> Value {
        let choice = match self.answer.route {
            OpenAiRoute::Chat => {
                let delta = match text {
                    Some(t) if !self.started => json!({"role": "assistant", "content": t}),
                    Some(t) => json!({"content": t}),
                    None => json!({}),
                };
                json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": reason})
            }
            OpenAiRoute::Completion => {
                json!({"index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": reason})
            }
        };
        let mut body = head(&self.answer, object(self.answer.route, true));
        body.insert("choices".into(), json!([choice]));
        Value::Object(body)
    }
}

impl StreamEncoder for OpenAiStream {
    fn token(&mut self, batch: &TokenBatch) -> Bytes {
        let frame = data_frame(&self.chunk(Some(&batch.text), None));
        self.started = true;
        frame
    }

    fn finish(&mut self, response: &SippTextResponse) -> Bytes {
        let mut out = Vec::new();
        if !self.started && self.answer.route == OpenAiRoute::Chat {
            // A run with no text still opens the assistant message.
            out.extend_from_slice(&data_frame(&self.chunk(Some(""), None)));
            self.started = true;
        }
        out.extend_from_slice(&data_frame(&self.chunk(None, Some(finish_reason(response.finish_reason)))));
        if self.include_usage {
            let mut body = head(&self.answer, object(self.answer.route, true));
            body.insert("choices".into(), json!([]));
            body.insert("usage".into(), response.usage.as_ref().map_or(Value::Null, usage));
            out.extend_from_slice(&data_frame(&Value::Object(body)));
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Bytes::from(out)
    }

    fn error(&mut self, error: &GatewayHttpError) -> Bytes {
        // The SDKs raise on a `data` object carrying `error`; no `[DONE]` follows.
        data_frame(&error_value(error))
    }
}

fn error_value(error: &GatewayHttpError) -> Value {
    let kind = match error.status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    };
    json!({"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}})
}

fn head(answer: &OpenAiAnswer, object: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(answer.object_id()));
    m.insert("object".into(), json!(object));
    m.insert("created".into(), json!(answer.created));
    m.insert("model".into(), json!(answer.model));
    m.insert("system_fingerprint".into(), Value::Null);
    m
}

fn object(route: OpenAiRoute, chunk: bool) -> &'static str {
    match (route, chunk) {
        (OpenAiRoute::Chat, false) => "chat.completion",
        (OpenAiRoute::Chat, true) => "chat.completion.chunk",
        (OpenAiRoute::Completion, _) => "text_completion",
    }
}

fn model_object(target: &str) -> Value {
    json!({"id": target, "object": "model", "created": 0, "owned_by": "sipp"})
}

/// A whole text answer, typed: building it as a `Value` map was ~4% of a proxied
/// request's CPU time. Fields are in the order a `Value` map wrote them (sorted), so the
/// bytes are what they were.
#[derive(serde::Serialize)]
struct TextAnswer<'a> {
    choices: [AnswerChoice<'a>; 1],
    created: u64,
    id: String,
    model: &'a str,
    object: &'static str,
    system_fingerprint: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<AnswerUsage>,
}

#[derive(serde::Serialize)]
struct AnswerChoice<'a> {
    finish_reason: &'static str,
    index: u32,
    logprobs: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<AnswerMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct AnswerMessage<'a> {
    content: &'a str,
    refusal: Option<()>,
    role: &'static str,
}

#[derive(serde::Serialize)]
struct AnswerUsage {
    completion_tokens: u32,
    prompt_tokens: u32,
    total_tokens: u32,
}

impl From<&Usage> for AnswerUsage {
    fn from(u: &Usage) -> Self {
        Self { completion_tokens: u.output_tokens, prompt_tokens: u.input_tokens, total_tokens: u.total_tokens }
    }
}

fn usage(u: &Usage) -> Value {
    json!(AnswerUsage::from(u))
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        // A cancelled run has no client left to read this; `stop` is the closest word.
        FinishReason::Stop | FinishReason::Cancelled => "stop",
    }
}

fn message(m: InMessage) -> Result<ChatMessage, GatewayHttpError> {
    let role = match m.role.as_str() {
        "system" | "developer" => ChatRole::System,
        "user" => ChatRole::User,
        "assistant" => ChatRole::Assistant,
        other => return Err(invalid("messages", format!("message role `{other}` is not supported (tools are not)"))),
    };
    let content = match m.content {
        None => String::new(),
        Some(Content::Text(t)) => t,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for p in parts {
                match (p.kind.as_str(), p.text) {
                    ("text", Some(t)) => text.push_str(&t),
                    (kind, _) => {
                        return Err(invalid("messages", format!("content part `{kind}` is not supported, only text")))
                    }
                }
            }
            text
        }
    };
    Ok(ChatMessage::new(role, content))
}

fn prompt_strings(p: Prompt, field: &str) -> Result<Vec<String>, GatewayHttpError> {
    match p {
        Prompt::Text(s) => Ok(s.into_vec()),
        Prompt::Tokens(_) => Err(invalid(field, format!("`{field}` must be text; token-id arrays are not supported"))),
    }
}

fn text_options(t: TextFields) -> Result<(SippTextOptions, bool, bool), GatewayHttpError> {
    check_extra(&t.extra)?;
    let stream = t.stream.unwrap_or(false);
    let include_usage = t.stream_options.is_some_and(|o| o.include_usage);
    if include_usage && !stream {
        return Err(invalid("stream_options", "stream_options is only allowed with `stream: true`"));
    }
    let options = SippTextOptions {
        max_tokens: t.max_completion_tokens.or(t.options.max_tokens),
        stop: t.stop.map(Strings::into_vec).unwrap_or_default(),
        ..t.options
    };
    options.validate().map_err(|e| GatewayHttpError::invalid_request(e.to_string()))?;
    Ok((options, stream, include_usage))
}

/// Every field left over is refused unless OpenAI would have done the same as Sipp.
fn check_extra(extra: &Map<String, Value>) -> Result<(), GatewayHttpError> {
    let refused: Vec<&str> = extra
        .iter()
        .filter(|(k, v)| {
            if IGNORED.contains(&k.as_str()) {
                // Ignored, but only in the form OpenAI defines (`user` is a string).
                return !(v.is_string() || v.is_null());
            }
            let written = serde_json::to_string(v).unwrap_or_default();
            !DEFAULT_ONLY.iter().any(|(name, ok)| name == k && ok.contains(&written.as_str()))
        })
        .map(|(k, _)| k.as_str())
        .collect();
    match refused.first() {
        None => Ok(()),
        Some(first) => Err(invalid(first, format!("unsupported by this gateway: {}", refused.join(", ")))),
    }
}

fn check_target(model: String) -> Result<String, GatewayHttpError> {
    if model.trim().is_empty() {
        return Err(invalid("model", "`model` must name a target"));
    }
    Ok(model)
}

fn invalid(param: &str, message: impl Into<String>) -> GatewayHttpError {
    GatewayHttpError::invalid_request(message).with_param(param)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayHttpError> {
    crate::codec::parse(body)
}

fn data_frame(v: &Value) -> Bytes {
    let mut out = b"data: ".to_vec();
    out.extend_from_slice(&to_vec(v));
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn to_vec(v: &Value) -> Vec<u8> {
    // A `Value` always serializes.
    serde_json::to_vec(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed answer writes what the `Value` map did, field for field and byte for byte.
    #[test]
    fn text_answers_keep_their_fields_and_bytes() {
        let response = SippTextResponse {
            text: "Hi \"there\"".into(),
            finish_reason: FinishReason::Length,
            usage: Some(Usage { input_tokens: 3, output_tokens: 4, total_tokens: 7 }),
            local_stats: None,
        };
        let answer = |route| OpenAiAnswer { id: "r1".into(), created: 9, model: "m".into(), route };
        let chat = OpenAiCodec.encode_text(&answer(OpenAiRoute::Chat), &response);
        let expected = json!({"id": "chatcmpl-r1", "object": "chat.completion", "created": 9, "model": "m",
            "system_fingerprint": null, "choices": [{"index": 0, "message": {"role": "assistant",
            "content": "Hi \"there\"", "refusal": null}, "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
        assert_eq!(chat, serde_json::to_vec(&expected).unwrap(), "{}", String::from_utf8_lossy(&chat));
        let done = SippTextResponse { usage: None, finish_reason: FinishReason::Stop, ..response };
        let completion = OpenAiCodec.encode_text(&answer(OpenAiRoute::Completion), &done);
        let expected = json!({"id": "cmpl-r1", "object": "text_completion", "created": 9, "model": "m",
            "system_fingerprint": null, "choices": [{"index": 0, "text": "Hi \"there\"", "logprobs": null,
            "finish_reason": "stop"}]});
        assert_eq!(completion, serde_json::to_vec(&expected).unwrap(), "{}", String::from_utf8_lossy(&completion));
    }

    /// The OpenAI route reads the shared options from `SippTextOptions` (flattened), so
    /// one added there (`min_p`, which OpenAI-compatible servers take) needs nothing here;
    /// its own names (`max_completion_tokens`, a single `stop` string) still map.
    #[test]
    fn shared_options_come_from_the_one_options_struct() {
        let body = br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "min_p": 0.1,
                       "max_tokens": 9, "max_completion_tokens": 5, "stop": "\n", "temperature": 0.3}"#;
        let d = OpenAiCodec.decode_chat(body).unwrap();
        let o = &d.request.options;
        assert_eq!((o.min_p, o.max_tokens, o.temperature), (Some(0.1), Some(5), Some(0.3)));
        assert_eq!(o.stop, vec!["\n".to_string()]);
        let e = OpenAiCodec.decode_completion(br#"{"model": "m", "prompt": "x", "min_p": -1}"#).unwrap_err();
        assert!(e.message.contains("min_p must be within [0, 1]"), "{e}");
        // Still refused: fields OpenAI defines that Sipp does not do.
        let e = OpenAiCodec.decode_completion(br#"{"model": "m", "prompt": "x", "n": 2}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
}
