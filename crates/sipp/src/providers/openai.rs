//! OpenAI's API, and every server that copies its routes: `/completions` for query,
//! `/chat/completions` for chat, `/embeddings` for embed; streams are `data:` chunks
//! ending in `[DONE]`, usage in a last chunk (`stream_options.include_usage`).

use crate::error::Result;
use crate::transport::body as helpers;
use crate::transport::{merge_options, text_at, Call, Fault, StreamDecoder, StreamItem, Wire};
use crate::types::endpoint::{EmbedRequest, Operation, Prompt, TextRequest};
use crate::types::{EndpointKind, FinishReason, SippEmbeddingResponse, SippTextResponse, Usage};
use serde_json::{json, Map, Value};

/// Body fields Sipp sets; `provider_options` may not.
const TYPED: &[&str] = &[
    "model",
    "messages",
    "prompt",
    "input",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "stream",
    "stream_options",
    "encoding_format",
];

#[derive(Debug)]
pub(crate) struct OpenAiWire {
    model: String,
    /// A compatible server: `max_tokens` (what they all read) instead of OpenAI's
    /// `max_completion_tokens` for chat (which its newer models require).
    compatible: bool,
}

impl OpenAiWire {
    pub(crate) fn new(model: &str, compatible: bool) -> Self {
        Self { model: model.to_string(), compatible }
    }
}

impl Wire for OpenAiWire {
    fn kind(&self) -> EndpointKind {
        EndpointKind::Provider
    }

    fn supports(&self, _op: Operation) -> bool {
        true
    }

    fn text_call(&self, request: &TextRequest<'_>) -> Result<Call> {
        let o = request.options;
        helpers::check_text_options(o)?;
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        let (path, max_key) = match request.prompt {
            Prompt::Raw(prompt) => {
                body.insert("prompt".into(), json!(prompt));
                ("/completions", "max_tokens")
            }
            Prompt::Chat(messages) => {
                body.insert("messages".into(), json!(messages));
                ("/chat/completions", if self.compatible { "max_tokens" } else { "max_completion_tokens" })
            }
        };
        helpers::put(&mut body, max_key, o.max_tokens);
        helpers::put_f32(&mut body, "temperature", o.temperature);
        helpers::put_f32(&mut body, "top_p", o.top_p);
        helpers::put(&mut body, "seed", o.seed);
        if !o.stop.is_empty() {
            body.insert("stop".into(), json!(o.stop));
        }
        if request.emit_tokens {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        merge_options(&mut body, request.provider_options, TYPED, "provider_options")?;
        Ok(Call { path: path.into(), body: Value::Object(body), stream: request.emit_tokens })
    }

    fn embed_call(&self, request: &EmbedRequest<'_>) -> Result<Call> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("input".into(), json!(request.input));
        body.insert("encoding_format".into(), json!("float"));
        merge_options(&mut body, request.provider_options, TYPED, "provider_options")?;
        Ok(Call { path: "/embeddings".into(), body: Value::Object(body), stream: false })
    }

    fn text_response(&self, body: &Value) -> Result<SippTextResponse, Fault> {
        let choice = body
            .pointer("/choices/0")
            .ok_or_else(|| Fault::protocol(format!("no choices in the response: {}", crate::transport::quote(body))))?;
        let text = text_at(choice, "/message/content")?
            .or(text_at(choice, "/text")?)
            // A refusal has no content but says why.
            .or(text_at(choice, "/message/refusal")?)
            .unwrap_or_default();
        Ok(SippTextResponse {
            text: text.to_string(),
            finish_reason: finish_reason(choice.get("finish_reason")).unwrap_or(FinishReason::Stop),
            usage: usage(body.get("usage")),
            local_stats: None,
        })
    }

    fn embed_response(&self, body: &Value) -> Result<SippEmbeddingResponse, Fault> {
        let values = helpers::floats(body.pointer("/data/0/embedding")).ok_or_else(|| {
            Fault::protocol(format!(
                "no data[0].embedding float array in the response: {}",
                crate::transport::quote(body)
            ))
        })?;
        let usage = body.get("usage").and_then(|u| {
            let input = u.get("prompt_tokens")?.as_u64()?;
            Some(Usage::new(usize::try_from(input).ok()?, 0))
        });
        Ok(helpers::embedding(values, usage, None))
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(ChunkDecoder)
    }
}

fn finish_reason(v: Option<&Value>) -> Option<FinishReason> {
    // `content_filter` and `tool_calls` end the text as `stop` does.
    v.and_then(Value::as_str).map(|r| if r == "length" { FinishReason::Length } else { FinishReason::Stop })
}

fn usage(v: Option<&Value>) -> Option<Usage> {
    let u = v?;
    let input = usize::try_from(u.get("prompt_tokens")?.as_u64()?).ok()?;
    let output = usize::try_from(u.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0)).ok()?;
    Some(Usage::new(input, output))
}

struct ChunkDecoder;

impl StreamDecoder for ChunkDecoder {
    fn decode(&mut self, _event: &str, data: &str) -> Result<Vec<StreamItem>, Fault> {
        if data.trim() == "[DONE]" {
            return Ok(vec![StreamItem::End]);
        }
        let chunk = crate::transport::parse_data(data)?;
        if chunk.get("error").is_some() {
            return Err(Fault::from_error_object(None, &chunk));
        }
        let mut items = Vec::new();
        if let Some(choice) = chunk.pointer("/choices/0") {
            if let Some(t) = text_at(choice, "/delta/content")?.or(text_at(choice, "/text")?) {
                items.push(StreamItem::Text(t.to_string()));
            }
            if let Some(f) = finish_reason(choice.get("finish_reason")) {
                items.push(StreamItem::Finish(f));
            }
        }
        if let Some(u) = usage(chunk.get("usage")) {
            items.push(StreamItem::Usage(u));
        }
        Ok(items)
    }
}
