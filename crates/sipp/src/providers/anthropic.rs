//! Anthropic's Messages API: `POST /messages` for chat and query (a query is one user
//! message); system messages join into the top-level `system`; `max_tokens` is
//! required there, so it defaults here. No embeddings.

use super::{ProviderKind, ProviderSpec};
use crate::error::{Result, SippError};
use crate::transport::body as helpers;
use crate::transport::{merge_options, text_at, Call, Fault, RemoteEndpoint, StreamDecoder, StreamItem, Wire};
use crate::types::endpoint::Operation;
use crate::types::{
    ChatRole, EndpointKind, FinishReason, SippEmbedRequest, SippEmbeddingResponse, SippTextRequest, SippTextResponse,
    TextPrompt, Usage,
};
use serde_json::{json, Map, Value};
use std::sync::{Arc, LazyLock};

/// api.anthropic.com's Messages API. `anthropic-version` is the API version these bodies
/// follow.
pub(crate) const ANTHROPIC: ProviderSpec = ProviderSpec {
    kind: ProviderKind::Anthropic,
    default_base_url: Some("https://api.anthropic.com/v1"),
    key_env: Some("ANTHROPIC_API_KEY"),
    base_url_env: Some(("ANTHROPIC_BASE_URL", "/v1")),
    auth_header: "x-api-key",
    default_headers: &[("anthropic-version", "2023-06-01")],
    embeddings: false,
    gateway_key_field: "api_key_env",
    build: |d, http| Ok(Arc::new(RemoteEndpoint::new(AnthropicWire::new(&d.model), http)?)),
};

/// Anthropic requires `max_tokens`; every current model accepts this many.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Body fields Sipp sets besides the shared options; `provider_options` may set neither.
const TYPED: &[&str] = &["model", "messages", "system", "prompt", "input", "stop_sequences", "stream"];

static RESERVED: LazyLock<Vec<&'static str>> = LazyLock::new(|| helpers::reserved(TYPED));

/// The shared options the Messages API has, and its names for them. Any other option a
/// caller sets is refused: dropping it would answer a different request.
const OPTIONS: &[(&str, &str)] =
    &[("max_tokens", "max_tokens"), ("temperature", "temperature"), ("top_p", "top_p"), ("stop", "stop_sequences")];

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
        op == Operation::Text || ANTHROPIC.embeddings
    }

    fn unsupported_reason(&self, _op: Operation) -> String {
        "Anthropic's API has no embeddings; use an openai or openai_compatible provider, or a gateway target".into()
    }

    fn text_call(&self, request: &SippTextRequest) -> Result<Call> {
        request.options.validate()?;
        let mut body = Map::new();
        for (name, value) in helpers::option_fields(&request.options) {
            let Some((_, theirs)) = OPTIONS.iter().find(|(ours, _)| *ours == name) else {
                return Err(SippError::InvalidRequest(format!(
                    "{name} is not supported by Anthropic's API; leave it unset"
                )));
            };
            body.insert((*theirs).into(), value);
        }
        body.insert("model".into(), json!(self.model));
        body.entry("max_tokens").or_insert(json!(DEFAULT_MAX_TOKENS));
        match &request.prompt {
            TextPrompt::Raw(prompt) => {
                body.insert("messages".into(), json!([{"role": "user", "content": prompt}]));
            }
            TextPrompt::Messages(messages) => {
                let system: Vec<&str> =
                    messages.iter().filter(|m| m.role == ChatRole::System).map(|m| m.content.as_str()).collect();
                let turns: Vec<_> = messages.iter().filter(|m| m.role != ChatRole::System).collect();
                if !system.is_empty() {
                    body.insert("system".into(), json!(system.join("\n\n")));
                }
                body.insert("messages".into(), json!(turns));
            }
        }
        if request.emit_tokens {
            body.insert("stream".into(), json!(true));
        }
        merge_options(&mut body, &request.provider_options, &RESERVED, "provider_options")?;
        Ok(Call { path: "/messages".into(), body: Value::Object(body), stream: request.emit_tokens })
    }

    fn embed_call(&self, _request: &SippEmbedRequest) -> Result<Call> {
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
