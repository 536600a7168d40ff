//! Anthropic's Messages API: `POST /messages` for chat and query (a query is one user
//! message); system messages join into the top-level `system`; `max_tokens` is
//! required there, so it defaults here. No embeddings.

use crate::error::{Result, SippError};
use crate::transport::body as helpers;
use crate::transport::{merge_options, text_at, Call, Fault, StreamDecoder, StreamItem, Wire};
use crate::types::endpoint::{EmbedRequest, Operation, Prompt, TextRequest};
use crate::types::{ChatRole, EndpointKind, FinishReason, SippEmbeddingResponse, SippTextResponse, Usage};
use serde_json::{json, Map, Value};

/// The `anthropic-version` header: the API version these bodies follow.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; every current model accepts this many.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Body fields Sipp sets; `provider_options` may not.
const TYPED: &[&str] = &[
    "model",
    "messages",
    "system",
    "prompt",
    "input",
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "stop_sequences",
    "stream",
];

#[derive(Debug)]
pub(crate) struct AnthropicWire {
    model: String,
}

impl AnthropicWire {
    pub(crate) fn new(model: &str) -> Self {
        Self { model: model.to_string() }
    }
}

impl Wire for AnthropicWire {
    fn kind(&self) -> EndpointKind {
        EndpointKind::Provider
    }

    fn supports(&self, op: Operation) -> bool {
        op == Operation::Text
    }

    fn unsupported_reason(&self, _op: Operation) -> String {
        "Anthropic's API has no embeddings; use an openai or openai_compatible provider, or a gateway target".into()
    }

    fn text_call(&self, request: &TextRequest<'_>) -> Result<Call> {
        let o = request.options;
        helpers::check_text_options(o)?;
        if o.seed.is_some() {
            return Err(SippError::InvalidRequest("seed is not supported by Anthropic's API; leave it unset".into()));
        }
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("max_tokens".into(), json!(o.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
        match request.prompt {
            Prompt::Raw(prompt) => {
                body.insert("messages".into(), json!([{"role": "user", "content": prompt}]));
            }
            Prompt::Chat(messages) => {
                let system: Vec<&str> =
                    messages.iter().filter(|m| m.role == ChatRole::System).map(|m| m.content.as_str()).collect();
                let turns: Vec<_> = messages.iter().filter(|m| m.role != ChatRole::System).collect();
                if !system.is_empty() {
                    body.insert("system".into(), json!(system.join("\n\n")));
                }
                body.insert("messages".into(), json!(turns));
            }
        }
        helpers::put_f32(&mut body, "temperature", o.temperature);
        helpers::put_f32(&mut body, "top_p", o.top_p);
        if !o.stop.is_empty() {
            body.insert("stop_sequences".into(), json!(o.stop));
        }
        if request.emit_tokens {
            body.insert("stream".into(), json!(true));
        }
        merge_options(&mut body, request.provider_options, TYPED, "provider_options")?;
        Ok(Call { path: "/messages".into(), body: Value::Object(body), stream: request.emit_tokens })
    }

    fn embed_call(&self, _request: &EmbedRequest<'_>) -> Result<Call> {
        Err(SippError::InvalidRequest(self.unsupported_reason(Operation::Embed)))
    }

    fn text_response(&self, body: &Value) -> Result<SippTextResponse, Fault> {
        let blocks = body.get("content").and_then(Value::as_array).ok_or_else(|| {
            Fault::protocol(format!("no content array in the response: {}", crate::transport::quote(body)))
        })?;
        let mut text = String::new();
        for block in blocks.iter().filter(|b| b.get("type").and_then(Value::as_str) == Some("text")) {
            text.push_str(text_at(block, "/text")?.unwrap_or_default());
        }
        let usage = body.get("usage").and_then(|u| {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok());
            Some(Usage::new(n("input_tokens")?, n("output_tokens").unwrap_or(0)))
        });
        Ok(SippTextResponse {
            text,
            finish_reason: stop_reason(body.get("stop_reason")).unwrap_or(FinishReason::Stop),
            usage,
            local_stats: None,
        })
    }

    fn embed_response(&self, _body: &Value) -> Result<SippEmbeddingResponse, Fault> {
        Err(Fault::protocol("Anthropic has no embeddings"))
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(EventDecoder::default())
    }
}

fn stop_reason(v: Option<&Value>) -> Option<FinishReason> {
    // end_turn, stop_sequence, refusal, tool_use all end the text; only max_tokens truncates.
    v.and_then(Value::as_str).map(|r| if r == "max_tokens" { FinishReason::Length } else { FinishReason::Stop })
}

/// `message_start` carries the input count, `message_delta` the output count and stop
/// reason, `message_stop` ends the stream.
#[derive(Default)]
struct EventDecoder {
    input_tokens: usize,
}

impl StreamDecoder for EventDecoder {
    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamItem>, Fault> {
        let v = crate::transport::parse_data(data)?;
        // The SSE event name and the payload's `type` agree; trust either.
        let kind = if event == "message" { v.get("type").and_then(Value::as_str).unwrap_or_default() } else { event };
        let count = |p: &str| v.pointer(p).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok());
        Ok(match kind {
            "message_start" => {
                self.input_tokens = count("/message/usage/input_tokens").unwrap_or(0);
                Vec::new()
            }
            "content_block_delta" => match text_at(&v, "/delta/text")? {
                Some(t) => vec![StreamItem::Text(t.to_string())],
                None => Vec::new(),
            },
            "message_delta" => {
                let mut items = Vec::new();
                if let Some(f) = stop_reason(v.pointer("/delta/stop_reason")) {
                    items.push(StreamItem::Finish(f));
                }
                if let Some(output) = count("/usage/output_tokens") {
                    let input = count("/usage/input_tokens").unwrap_or(self.input_tokens);
                    items.push(StreamItem::Usage(Usage::new(input, output)));
                }
                items
            }
            "message_stop" => vec![StreamItem::End],
            "error" => return Err(Fault::from_error_object(None, &v)),
            // ping, content_block_start/stop, and event types added later.
            _ => Vec::new(),
        })
    }
}
